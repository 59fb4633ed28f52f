package pop3pull

import (
	"bufio"
	"io"
)

// dotReader decodes a dot-terminated multi-line response (RFC 1939 section
// 3): a leading dot is removed from every line, CRLF becomes LF, and the
// line "." ends the data with io.EOF. Bare LF, bare CR, NUL bytes and lines
// of any length pass through unchanged.
//
// It does what net/textproto's DotReader does, with two differences that
// matter for mail: textproto forgets that it is at the beginning of a line
// after an empty line ending in a bare LF, so the dot-stuffing of the next
// line is kept in the message ("\n\n..x" gives "\n..x"); and textproto reads
// one byte at a time, where this reads a line (or a buffer) at a time,
// which is several times faster on large mailboxes.
//
// A connection that ends before the "." line gives io.ErrUnexpectedEOF.
type dotReader struct {
	br      *bufio.Reader
	pending []byte // decoded bytes not yet returned (points into br's buffer)
	bol     bool   // the next byte read starts a line
	cr      bool   // a CR ended the previous partial line: LF may follow
	done    bool   // the "." line was read
	err     error  // sticky read error
}

func newDotReader(br *bufio.Reader) *dotReader {
	return &dotReader{br: br, bol: true}
}

// Read implements io.Reader.
func (d *dotReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(d.pending) > 0 {
			k := copy(p[n:], d.pending)
			d.pending = d.pending[k:]
			n += k
			continue
		}
		if d.done {
			return n, io.EOF
		}
		if d.err != nil {
			return n, d.err
		}
		if n > 0 && d.br.Buffered() == 0 {
			// Return what we have rather than block for more.
			return n, nil
		}
		chunk, err := d.br.ReadSlice('\n')
		switch err {
		case nil, bufio.ErrBufferFull:
		case io.EOF:
			d.err = io.ErrUnexpectedEOF
		default:
			d.err = err
		}
		if d.cr {
			d.cr = false
			if len(chunk) == 0 || chunk[0] != '\n' {
				// The held CR was a bare CR: emit it.
				p[n] = '\r'
				n++
			}
		}
		if len(chunk) == 0 {
			continue
		}
		complete := chunk[len(chunk)-1] == '\n'
		if d.bol && chunk[0] == '.' {
			if complete && (len(chunk) == 2 || len(chunk) == 3 && chunk[1] == '\r') {
				d.done = true
				continue
			}
			chunk = chunk[1:]
		}
		if complete {
			if len(chunk) >= 2 && chunk[len(chunk)-2] == '\r' {
				chunk[len(chunk)-2] = '\n'
				chunk = chunk[:len(chunk)-1]
			}
			d.bol = true
		} else {
			d.bol = false
			if d.err == nil && len(chunk) > 0 && chunk[len(chunk)-1] == '\r' {
				chunk = chunk[:len(chunk)-1]
				d.cr = true
			}
		}
		d.pending = chunk
	}
	return n, nil
}
