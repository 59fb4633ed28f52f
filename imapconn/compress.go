package imapconn

import (
	"bufio"
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailmirror/mailmirror/config"
)

// CapCompressDeflate is the capability of RFC 4978's COMPRESS=DEFLATE.
const CapCompressDeflate imap.Cap = "COMPRESS=DEFLATE"

// ErrCompressStream wraps a read that failed because the server's deflate
// stream is corrupt. The Link then turns compression off: the next
// connection is uncompressed.
var ErrCompressStream = errors.New("corrupt COMPRESS=DEFLATE stream from the server")

// compressTag tags our COMPRESS command; go-imap's tags are T1, T2, …
const compressTag = "MMZ"

// compressLevel is the level of what we send: commands and APPENDs.
const compressLevel = 6

// compress turns COMPRESS=DEFLATE on after the login, unless the account
// says compress = false, the Link turned it off (a refusal or a broken
// stream seen before) or the server does not offer it (in the
// capabilities of the login's reply: go-imap's, which stay right, since
// COMPRESS changes none). A NO or BAD turns it off for the Link and
// leaves the connection uncompressed.
func compress(c *imapclient.Client, wc *wireConn, acct *config.Account, link *Link, timeout time.Duration, trace io.Writer) error {
	if acct.NoCompress || link.isDisabled(CapCompressDeflate) || !c.Caps().Has(CapCompressDeflate) {
		return nil
	}
	ok, err := wc.startCompress(timeout, trace)
	if err != nil {
		return err
	}
	if !ok {
		link.Disable(CapCompressDeflate, "the server refused COMPRESS DEFLATE")
	}
	return nil
}

// compressReply is the server's answer to COMPRESS, as seen by the reader.
type compressReply struct {
	ok   bool
	line string
	err  error // the connection failed before the reply
}

// startCompress asks for COMPRESS DEFLATE on a logged-in connection whose
// go-imap client is idle (Dial, right after the login) and, on OK, runs
// both directions through raw deflate (RFC 1951) from then on. go-imap
// never sees the exchange: the command is written below it and the
// reader (go-imap's goroutine, in next) takes the tagged reply out of the
// stream and switches to inflating at once, since the server's first
// compressed byte follows that reply's CRLF. It reports whether the
// connection is compressed; a NO or BAD leaves it as it was. trace, when
// not nil, gets the exchange (nothing secret is in it).
func (w *wireConn) startCompress(timeout time.Duration, trace io.Writer) (bool, error) {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	done := make(chan compressReply, 1)
	w.zReply = done
	w.zWant.Store(true)
	cmd := compressTag + " COMPRESS DEFLATE\r\n"
	if trace != nil {
		io.WriteString(trace, cmd)
	}
	if _, err := w.Conn.Write([]byte(cmd)); err != nil {
		w.noteErr(err)
		return false, fmt.Errorf("COMPRESS: %w", err)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	var r compressReply
	select {
	case r = <-done:
	case <-t.C:
		return false, fmt.Errorf("COMPRESS: no reply within %v", timeout)
	}
	if r.err != nil {
		return false, fmt.Errorf("COMPRESS: %w", r.err)
	}
	if trace != nil {
		io.WriteString(trace, r.line)
	}
	if !r.ok {
		return false, nil
	}
	w.zon = true
	return true, nil
}

// compressReplyLine handles the tagged reply to our COMPRESS (reader
// side): it is not handed to go-imap; after an OK everything the server
// sends is inflated.
func (w *wireConn) compressReplyLine(line []byte) {
	f := strings.Fields(string(line))
	ok := len(f) > 1 && strings.EqualFold(f[1], "OK")
	if ok {
		w.br = bufio.NewReaderSize(&inflater{w: w, src: &eofSeen{r: w.br}}, 64<<10)
	}
	w.zWant.Store(false)
	w.zReply <- compressReply{ok: ok, line: string(line)}
}

// failCompress ends a COMPRESS exchange the connection failed in.
func (w *wireConn) failCompress(err error) {
	if w.zWant.CompareAndSwap(true, false) {
		w.zReply <- compressReply{err: err}
	}
}

// send writes p to the server, as deflate once compression is on: each
// write of go-imap is a whole burst (a command, a literal's piece, IDLE's
// DONE) that must reach the server now, so each ends at a block boundary
// the server can decode up to. Commands go as stored blocks (complete by
// themselves, nothing to flush, and a compressor's sync flush would cost
// more than it saves on a line of text); the first burst of at least
// deflateFrom bytes (an APPEND) starts a compress/flate Writer, sync
// flushed after each write from then on. It is made only then because it
// costs about 800 KB, four times over on a pool that never uploads. Its
// back-references reach only what it compressed itself, which the server
// holds as the latest of its window: starting it mid-stream is valid
// deflate. The caller holds wmu.
func (w *wireConn) send(p []byte) (int, error) {
	if !w.zon {
		return w.Conn.Write(p)
	}
	w.zbuf.Reset()
	if w.zw == nil && len(p) >= deflateFrom {
		zw, err := flate.NewWriter(&w.zbuf, compressLevel)
		if err != nil {
			return 0, err
		}
		w.zw = zw
	}
	if w.zw == nil {
		storedBlocks(&w.zbuf, p)
	} else {
		if _, err := w.zw.Write(p); err != nil {
			return 0, err
		}
		if err := w.zw.Flush(); err != nil {
			return 0, err
		}
	}
	if _, err := w.Conn.Write(w.zbuf.Bytes()); err != nil {
		if zerr := w.zErr.Load(); zerr != nil {
			// go-imap closed the socket because of it.
			return 0, *zerr
		}
		return 0, err
	}
	if w.zbuf.Cap() > 256<<10 {
		w.zbuf = bytes.Buffer{} // a large APPEND: do not keep its buffer
	}
	return len(p), nil
}

// deflateFrom is the least burst that starts the compressor (see send).
const deflateFrom = 1 << 10

// storedBlocks appends p to b as deflate stored blocks (RFC 1951 3.2.4):
// a header byte (not final, type 00: the block starts byte-aligned, as
// every block after a sync flush does), LEN and its complement, p; then
// an empty stored block, the marker a sync flush ends with. Decoders may
// hold a block's output until they see the next block's start (Go's
// does): the marker makes p readable at once.
func storedBlocks(b *bytes.Buffer, p []byte) {
	for len(p) > 0 {
		n := min(len(p), 0xffff)
		b.Write([]byte{0, byte(n), byte(n >> 8), ^byte(n), ^byte(n >> 8)})
		b.Write(p[:n])
		p = p[n:]
	}
	b.Write([]byte{0, 0, 0, 0xff, 0xff})
}

// compressed reports whether the connection runs through deflate.
func (w *wireConn) compressed() bool {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	return w.zon
}

// inflater is the server's stream after COMPRESS: raw deflate over what
// the socket delivers. compress/flate hands out its output at each sync
// flush (the empty stored block Z_SYNC_FLUSH ends with), so a response
// is readable as soon as the server flushed it. Errors of the socket
// (timeouts, resets) pass unchanged; a corrupt stream becomes
// ErrCompressStream and turns compression off for the Link; the socket
// closing (at a flush or in the middle of a block) is io.EOF, as it is
// without compression.
type inflater struct {
	w   *wireConn
	src *eofSeen
	r   io.Reader
}

func (z *inflater) Read(p []byte) (int, error) {
	if z.r == nil {
		z.r = flate.NewReader(z.src)
	}
	n, err := z.r.Read(p)
	var ce flate.CorruptInputError
	switch {
	case err == nil:
	case errors.As(err, &ce):
		err = fmt.Errorf("%w: %v", ErrCompressStream, err)
		z.w.zErr.Store(&err)
		z.w.link.Disable(CapCompressDeflate, "the server sent a corrupt deflate stream")
	case errors.Is(err, io.ErrUnexpectedEOF) && z.src.eof:
		err = io.EOF
	}
	return n, err
}

// eofSeen is a byte reader that remembers whether its source ended.
type eofSeen struct {
	r   *bufio.Reader
	eof bool
}

func (e *eofSeen) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		e.eof = true
	}
	return n, err
}

func (e *eofSeen) ReadByte() (byte, error) {
	b, err := e.r.ReadByte()
	if err == io.EOF {
		e.eof = true
	}
	return b, err
}

// Compressed reports whether the connection runs through COMPRESS=DEFLATE.
func (c *Conn) Compressed() bool { return c.wire.compressed() }
