package pop3pull

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"strconv"
	"strings"

	"github.com/mailmirror/mailmirror/state"
)

// How messages are identified (the id stored in the state DB):
//
//   - By UIDL, as the server sends it when it is an RFC 1939 unique-id (1 to
//     70 characters 0x21-0x7E). Any other unique-id (longer, 8-bit bytes) is
//     stored escaped: escPrefix, then the bytes with '%' and everything
//     outside 0x21-0x7E as %XX. A real UIDL has no space, so neither form
//     can be taken for the other.
//   - A UIDL that several messages share (a server that breaks RFC 1939),
//     or that was ever shared, is not enough: such messages are identified
//     by UIDL plus content, contentSep, their size (LIST) and a hash of
//     their header (TOP n 0). A message stored under the bare UIDL before
//     its UIDL was shared is recognised by the header hash stored with it.
//   - Servers without UIDL: hashPrefix and a hash of the whole TOP n 0
//     answer (see listing).

// escPrefix starts the id of a unique-id stored escaped.
const escPrefix = "esc "

// contentSep separates a UIDL from the content part of an id.
const contentSep = " @"

// storedUIDL returns the id under which a server's unique-id is stored.
func storedUIDL(raw string) string {
	if validUIDL(raw) {
		return raw
	}
	var b strings.Builder
	b.WriteString(escPrefix)
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c < 0x21 || c > 0x7e || c == '%' {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// validUIDL checks RFC 1939's unique-id syntax: 1 to 70 characters in the
// range 0x21 to 0x7E.
func validUIDL(s string) bool {
	if len(s) < 1 || len(s) > 70 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// sharedUIDLs returns the UIDLs that stored ids have with a content part:
// UIDLs once shared by several messages.
func sharedUIDLs(known map[string]state.UIDL) map[string]bool {
	out := map[string]bool{}
	for id := range known {
		if i := strings.LastIndex(id, contentSep); i > 0 {
			out[id[:i]] = true
		}
	}
	return out
}

// headerHasher hashes what is written to it up to the end of the
// message's header (the first empty line, which is not hashed) and
// ignores the rest. The same bytes give the same hash whether they come
// from RETR or from TOP n 0.
type headerHasher struct {
	h         hash.Hash
	lineStart bool
	done      bool
}

func newHeaderHasher() *headerHasher {
	return &headerHasher{h: sha256.New(), lineStart: true}
}

// Write implements io.Writer; it never fails.
func (hh *headerHasher) Write(p []byte) (int, error) {
	if hh.done {
		return len(p), nil
	}
	for i, c := range p {
		if c == '\n' && hh.lineStart {
			hh.h.Write(p[:i])
			hh.done = true
			return len(p), nil
		}
		hh.lineStart = c == '\n'
	}
	hh.h.Write(p)
	return len(p), nil
}

// Sum returns the hash in hex.
func (hh *headerHasher) Sum() string { return hex.EncodeToString(hh.h.Sum(nil)[:16]) }

// content is what identifies a message besides its UIDL.
type content struct {
	size int64
	hash string // of the header; "" when TOP failed for it
}

// contentIDs gives an id to each message whose UIDL is shared in this
// listing (count > 1) or was stored with a content part before (shared
// says which UIDLs). It sends LIST and TOP n 0 for those messages only.
// Messages whose content could not be read keep the old scheme (the UIDL,
// " #k" for the k-th message sharing it). It returns the ids by message
// number.
func contentIDs(c *Client, list []MessageUIDL, ids map[int]string, count map[string]int,
	shared map[string]bool, known map[string]state.UIDL, res *Result) (map[int]string, error) {
	var nums []int
	for _, m := range list {
		if u := ids[m.Num]; count[u] > 1 || shared[u] {
			nums = append(nums, m.Num)
		}
	}
	if len(nums) == 0 {
		return nil, nil
	}
	cont, err := readContent(c, nums, res)
	if err != nil {
		return nil, err
	}
	out := map[int]string{}
	used := map[string]bool{}
	k := map[string]int{}
	for _, num := range nums {
		u := ids[num]
		k[u]++
		out[num] = contentID(u, k[u], cont[num], known, used)
		used[out[num]] = true
	}
	return out, nil
}

// contentID picks the id of the k-th message (from 1) with UIDL u.
func contentID(u string, k int, ct content, known map[string]state.UIDL, used map[string]bool) string {
	legacy := u
	if k > 1 {
		legacy = u + " #" + strconv.Itoa(k)
	}
	if ct.hash == "" {
		return legacy
	}
	cid := u + contentSep + strconv.FormatInt(ct.size, 10) + "-" + ct.hash
	if _, ok := known[cid]; ok && !used[cid] {
		return cid
	}
	// Stored under the bare UIDL (or, by an older version, " #k") before
	// the UIDL was shared: the header hash recorded with it tells whether
	// it is this message; without one, the k-th message is, as before.
	if p, ok := known[u]; ok && !used[u] && (p.HeaderHash == ct.hash || p.HeaderHash == "" && k == 1) {
		return u
	}
	if p, ok := known[legacy]; ok && k > 1 && !used[legacy] && p.HeaderHash == "" {
		return legacy
	}
	id := cid
	for n := 2; used[id]; n++ {
		id = cid + " #" + strconv.Itoa(n) // the same header and size: a true copy
	}
	return id
}

// readContent reads the size (LIST) and header hash (TOP n 0) of nums.
func readContent(c *Client, nums []int, res *Result) (map[int]content, error) {
	out := map[int]content{}
	sizes, _, err := c.List()
	if err != nil {
		if !isServerError(err) {
			return nil, err
		}
		res.Errors = append(res.Errors, MessageError{Err: fmt.Errorf("messages sharing a UIDL: LIST refused, they are told apart by order only: %w", err)})
		return out, nil
	}
	size := map[int]int64{}
	for _, s := range sizes {
		size[s.Num] = s.Size
	}
	refused := 0
	err = c.TopEach(nums, 0, func(num int, body io.Reader, err error) error {
		if err != nil {
			refused++
			return nil
		}
		hh := newHeaderHasher()
		if _, err := io.Copy(hh, body); err != nil {
			return err
		}
		out[num] = content{size: size[num], hash: hh.Sum()}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if refused > 0 {
		res.Errors = append(res.Errors, MessageError{Err: fmt.Errorf(
			"%d messages share a UIDL and TOP was refused for them: they are told apart by order only", refused)})
	}
	return out, nil
}
