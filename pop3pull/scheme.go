package pop3pull

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/mailmirror/mailmirror/state"
)

// Ways of identifying messages: by UIDL, or by a hash of the header for
// servers without UIDL.
type idScheme int

const (
	schemeAny  idScheme = iota // nothing stored yet: the server's capabilities decide
	schemeUIDL                 // what is stored is keyed by UIDL
	schemeHash                 // what is stored is keyed by header hashes
)

// hashPrefix starts the identifier of a message known by its header hash.
// A UIDL cannot contain a space, so it never collides with one.
const hashPrefix = "hdr "

// schemeOf tells how the stored messages were identified. The scheme
// sticks: switching would make every stored message look new.
func schemeOf(known map[string]state.UIDL) idScheme {
	if len(known) == 0 {
		return schemeAny
	}
	for id := range known {
		if !strings.HasPrefix(id, hashPrefix) {
			return schemeUIDL
		}
	}
	return schemeHash
}

// listing returns the server's messages with unique identifiers: UIDL, or
// a hash of each message's header (TOP n 0) for a server without UIDL (one
// that does not list it in CAPA, or answers UIDL with a plain -ERR and has
// no CAPA) and for an account whose stored messages were identified that
// way. A UIDL refused by a server that has it, or refused once messages
// were stored under their UIDLs, is an error, never a reason to switch to
// hashes (which would store every message again). UIDLs are stored escaped
// when they are not RFC 1939 unique-ids (ids.go); messages sharing a UIDL
// are told apart by their content (contentIDs), and all of them are
// marked dup so that no policy deletes them.
//
// complete is false when some message may be missing from the list (a
// UIDL line that could not be read, a TOP refused); then Result.Messages
// is the count STAT gives, and each problem is in Result.Errors.
func listing(c *Client, res *Result, scheme idScheme, known map[string]state.UIDL) (msgs []serverMsg, useUIDL, complete bool, err error) {
	var list []MessageUIDL
	var info Listing
	useUIDL, complete = scheme != schemeHash, true
	if useUIDL {
		list, info, err = c.UIDL()
		if err != nil {
			var se *ServerError
			if !errors.As(err, &se) || scheme == schemeUIDL || se.Code != "" {
				return nil, false, false, err
			}
			caps, capErr := c.Capabilities()
			if capErr == nil && caps.Has("UIDL") {
				return nil, false, false, err
			}
			useUIDL = false
		}
	}
	if !useUIDL {
		errs := len(res.Errors)
		list, err = topHashes(c, res)
		if err != nil {
			return nil, false, false, err
		}
		complete = len(res.Errors) == errs
	}
	if info.Skipped > 0 {
		complete = false
		for _, p := range info.Problems {
			res.Errors = append(res.Errors, MessageError{Err: fmt.Errorf("%w: %s", ErrProtocol, p)})
		}
		if more := info.Skipped - len(info.Problems); more > 0 {
			res.Errors = append(res.Errors, MessageError{Err: fmt.Errorf("%w: %d more UIDL lines skipped", ErrProtocol, more)})
		}
		if n, _, err := c.Stat(); err == nil && n > len(list) {
			res.Messages = n
			res.Errors = append(res.Errors, MessageError{Err: fmt.Errorf(
				"not fetched: %d of the %d messages on the server have no usable UIDL", n-len(list), n)})
		}
	}
	ids := make(map[int]string, len(list))
	count := map[string]int{}
	for _, m := range list {
		id := m.UIDL
		if useUIDL {
			id = storedUIDL(m.UIDL)
		}
		ids[m.Num] = id
		count[id]++
	}
	var cids map[int]string
	if useUIDL {
		if cids, err = contentIDs(c, list, ids, count, sharedUIDLs(known), known, res); err != nil {
			return nil, false, false, err
		}
	}
	seen := map[string]int{}
	out := make([]serverMsg, 0, len(list))
	for _, m := range list {
		id := ids[m.Num]
		seen[id]++
		switch {
		case cids[m.Num] != "":
			id = cids[m.Num]
		case seen[id] > 1:
			id += " #" + strconv.Itoa(seen[id])
		}
		out = append(out, serverMsg{num: m.Num, id: id, dup: count[ids[m.Num]] > 1})
	}
	return out, useUIDL, complete, nil
}

// topHashes identifies messages by the SHA-256 of their header, for servers
// without UIDL.
func topHashes(c *Client, res *Result) ([]MessageUIDL, error) {
	n, _, err := c.Stat()
	if err != nil {
		return nil, err
	}
	nums := make([]int, n)
	for i := range nums {
		nums[i] = i + 1
	}
	var out []MessageUIDL
	unsupported := false
	err = c.TopEach(nums, 0, func(num int, body io.Reader, err error) error {
		if err != nil {
			if num == 1 {
				unsupported = true
				return fmt.Errorf("%w: no UIDL and no TOP: %w", ErrUnsupported, err)
			}
			res.Errors = append(res.Errors, MessageError{Num: num, Err: err})
			return nil
		}
		h := sha256.New()
		if _, err := io.Copy(h, body); err != nil {
			return err
		}
		out = append(out, MessageUIDL{Num: num, UIDL: hashPrefix + hex.EncodeToString(h.Sum(nil)[:16])})
		return nil
	})
	if err != nil && !unsupported {
		return nil, err
	}
	return out, err
}
