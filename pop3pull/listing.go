package pop3pull

import (
	"fmt"
	"strconv"
	"strings"
)

// MessageSize is one line of a LIST answer.
type MessageSize struct {
	Num  int   // message number, from 1
	Size int64 // size in octets, as the server claims (not trusted)
}

// MessageUIDL is one line of a UIDL answer.
type MessageUIDL struct {
	Num  int    // message number, from 1
	UIDL string // unique-id: 1 to 70 characters 0x21 to 0x7E
}

// Listing reports lines of a LIST or UIDL answer that were skipped:
// garbage (not "number argument"), too long, out of range, or repeating a
// message number already seen.
type Listing struct {
	Skipped int
}

// Stat sends STAT and returns the number of messages and their total size.
func (c *Client) Stat() (count int, size int64, err error) {
	text, err := c.cmd("STAT", "STAT")
	if err != nil {
		return 0, 0, err
	}
	f := strings.Fields(text)
	if len(f) < 2 {
		return 0, 0, fmt.Errorf("pop3: STAT: %w: %q", ErrProtocol, cleanText(text, 60))
	}
	n, err1 := strconv.Atoi(f[0])
	s, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil || n < 0 || s < 0 {
		return 0, 0, fmt.Errorf("pop3: STAT: %w: %q", ErrProtocol, cleanText(text, 60))
	}
	return n, s, nil
}

// List sends LIST and returns every message's number and size, in the
// server's order. Malformed lines are skipped and counted.
func (c *Client) List() ([]MessageSize, Listing, error) {
	var out []MessageSize
	var info Listing
	seen := map[int]bool{}
	if _, err := c.cmd("LIST", "LIST"); err != nil {
		return nil, info, err
	}
	skipped, err := c.readListing("LIST", func(line []byte) {
		num, arg, ok := splitListingLine(line)
		if !ok || seen[num] {
			info.Skipped++
			return
		}
		size, err := strconv.ParseInt(arg, 10, 64)
		if err != nil || size < 0 {
			info.Skipped++
			return
		}
		seen[num] = true
		out = append(out, MessageSize{Num: num, Size: size})
	})
	info.Skipped += skipped
	if err != nil {
		return nil, info, err
	}
	return out, info, nil
}

// UIDL sends UIDL and returns every message's number and unique-id, in the
// server's order. Malformed lines (bad number, unique-id of a wrong length
// or with bytes outside 0x21-0x7E, a number listed twice) are skipped and
// counted. Two messages with the same unique-id are both returned: the
// caller decides what a duplicate means. A server without UIDL gives a
// *ServerError.
func (c *Client) UIDL() ([]MessageUIDL, Listing, error) {
	var out []MessageUIDL
	var info Listing
	seen := map[int]bool{}
	if _, err := c.cmd("UIDL", "UIDL"); err != nil {
		return nil, info, err
	}
	skipped, err := c.readListing("UIDL", func(line []byte) {
		num, arg, ok := splitListingLine(line)
		if !ok || seen[num] || !validUIDL(arg) {
			info.Skipped++
			return
		}
		seen[num] = true
		out = append(out, MessageUIDL{Num: num, UIDL: arg})
	})
	info.Skipped += skipped
	if err != nil {
		return nil, info, err
	}
	return out, info, nil
}

// splitListingLine splits "num arg" (extra fields after arg are ignored, as
// RFC 1939 allows).
func splitListingLine(line []byte) (num int, arg string, ok bool) {
	f := strings.Fields(string(line))
	if len(f) < 2 {
		return 0, "", false
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n < 1 {
		return 0, "", false
	}
	return n, f[1], true
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
