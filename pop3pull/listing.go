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
	Num int // message number, from 1
	// UIDL is the unique-id as the server sent it: RFC 1939 allows 1 to 70
	// characters 0x21 to 0x7E, but servers send longer ones and 8-bit
	// bytes too; only space, tab and line ends cannot occur.
	UIDL string
}

// Listing reports lines of a LIST or UIDL answer that were skipped:
// garbage (not "number argument"), too long, out of range, or repeating a
// message number already seen.
type Listing struct {
	Skipped int
	// Problems says why lines were skipped, one entry per line (at most
	// maxProblems; Skipped counts them all).
	Problems []string
}

// maxProblems caps Listing.Problems.
const maxProblems = 10

func (l *Listing) skip(format string, args ...any) {
	l.Skipped++
	if len(l.Problems) < maxProblems {
		l.Problems = append(l.Problems, fmt.Sprintf(format, args...))
	}
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
		if !ok {
			info.skip("LIST line %q is not \"number size\"", cleanText(string(line), 40))
			return
		}
		if seen[num] {
			info.skip("LIST lists message %d twice", num)
			return
		}
		size, err := strconv.ParseInt(arg, 10, 64)
		if err != nil || size < 0 {
			info.skip("LIST gives message %d the size %q", num, cleanText(arg, 40))
			return
		}
		seen[num] = true
		out = append(out, MessageSize{Num: num, Size: size})
	})
	for range skipped {
		info.skip("a LIST line longer than %d bytes", maxListingLine)
	}
	if err != nil {
		return nil, info, err
	}
	return out, info, nil
}

// UIDL sends UIDL and returns every message's number and unique-id, in the
// server's order. Any unique-id is accepted, even one longer than RFC
// 1939's 70 characters or with 8-bit bytes (the caller escapes it before
// storing it). Malformed lines (no number, no unique-id, a number listed
// twice, a line longer than 1024 bytes) are skipped, counted and described.
// Two messages with the same unique-id are both returned: the caller
// decides what a duplicate means. A server without UIDL gives a
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
		if !ok {
			info.skip("UIDL line %q is not \"number unique-id\"", cleanText(string(line), 40))
			return
		}
		if seen[num] {
			info.skip("UIDL lists message %d twice", num)
			return
		}
		seen[num] = true
		out = append(out, MessageUIDL{Num: num, UIDL: arg})
	})
	for range skipped {
		info.skip("a UIDL line longer than %d bytes (its message cannot be identified)", maxListingLine)
	}
	if err != nil {
		return nil, info, err
	}
	return out, info, nil
}

// splitListingLine splits "num arg" (extra fields after arg are ignored, as
// RFC 1939 allows). Fields are separated by spaces, tabs and stray CR or
// LF bytes (a bare CR before the CRLF is no part of a unique-id): 8-bit
// bytes in arg are kept as they are.
func splitListingLine(line []byte) (num int, arg string, ok bool) {
	f := strings.FieldsFunc(string(line), func(r rune) bool { return r == ' ' || r == '\t' || r == '\r' || r == '\n' })
	if len(f) < 2 {
		return 0, "", false
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n < 1 {
		return 0, "", false
	}
	return n, f[1], true
}
