package imapconn

import (
	"bufio"
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
)

// wireConn sits between go-imap and the socket, where go-imap has no hook
// of its own. It reads the server's stream response by response (lines,
// and literals passed on unread) and repairs the few responses go-imap
// cannot parse but a pass can do without: a LIST, LSUB or STATUS whose
// mailbox name is not modified UTF-7 is given a safe name (Link.mapRaw),
// mapped back to the server's bytes in the commands we send, or dropped
// when it cannot be; a QUOTAROOT go-imap would choke on is dropped. It
// remembers the type of the last response it handed on, which names the
// extension to blame when go-imap gives up on a connection (parseFailure).
type wireConn struct {
	net.Conn
	link     *Link
	br       *bufio.Reader
	counters *Counters // may be nil

	// Read side: go-imap's reader goroutine only.
	pending []byte // bytes for go-imap
	buf     []byte // pending's storage
	err     error  // to return once pending is empty
	lit     int64  // literal bytes to pass on unread
	inResp  bool   // the next line continues a response (after a literal)
	long    bool   // inside a line longer than br's buffer
	tail    []byte // the end of that line, to find a literal
	last    atomic.Pointer[string]

	// COMPRESS (compress.go): zWant while our COMPRESS awaits its
	// reply, which the reader sends on zReply.
	zWant  atomic.Bool
	zReply chan compressReply
	zErr   atomic.Pointer[error] // the server's stream was corrupt

	sockErr  atomic.Bool // a read or write on the socket failed
	ours     atomic.Bool // we closed the connection
	byClient atomic.Bool // go-imap closed it (first)

	// Write side.
	wmu   sync.Mutex
	wbuf  []byte        // a command line not complete yet (only with names mapped)
	wtail []byte        // the end of the current line, to find a literal
	wmid  bool          // the start of the current line went out unrewritten
	wlit  int64         // literal bytes to pass on
	zon   bool          // COMPRESS is on (send)
	zw    *flate.Writer // made at the first large write
	zbuf  bytes.Buffer  // the deflate output of one write
}

// maxGather bounds a literal inside a response that is inspected (a
// mailbox name): larger ones pass on untouched.
const maxGather = 8 << 10

func newWireConn(c net.Conn, link *Link) *wireConn {
	return &wireConn{Conn: c, link: link, br: bufio.NewReaderSize(c, 64<<10)}
}

func (w *wireConn) Read(p []byte) (int, error) {
	for len(w.pending) == 0 {
		if w.err != nil {
			return 0, w.err
		}
		if w.lit > 0 {
			n, err := w.br.Read(p[:min(int64(len(p)), w.lit)])
			w.lit -= int64(n)
			w.countIn(n)
			w.noteErr(err)
			return n, err
		}
		if err := w.next(); err != nil {
			w.noteErr(err)
			w.err = err
			w.failCompress(err)
		}
	}
	n := copy(p, w.pending)
	w.pending = w.pending[n:]
	w.countIn(n)
	return n, nil
}

func (w *wireConn) countIn(n int) {
	if w.counters != nil {
		w.counters.PlainIn.Add(int64(n))
	}
}

func (w *wireConn) noteErr(err error) {
	if err != nil && !w.ours.Load() {
		w.sockErr.Store(true)
	}
}

// emit queues b for go-imap.
func (w *wireConn) emit(b []byte) {
	w.buf = append(w.buf[:0], b...)
	w.pending = w.buf
}

// next reads the next line (or piece of a long one) into pending.
func (w *wireConn) next() error {
	line, err := w.br.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		w.emit(line)
		w.tail = keepTail(w.tail, line)
		w.long = true
		return nil
	case err != nil:
		if len(line) > 0 {
			w.emit(line)
			w.err = err
			return nil
		}
		return err
	}
	if w.long {
		w.long = false
		w.tail = keepTail(w.tail, line)
		w.emit(line)
		w.afterLine(w.tail)
		w.tail = w.tail[:0]
		return nil
	}
	if !w.inResp && w.zWant.Load() && bytes.HasPrefix(line, []byte(compressTag+" ")) {
		w.compressReplyLine(line)
		return nil
	}
	if !w.inResp {
		typ := responseType(line)
		w.last.Store(&typ)
		if inspected(typ) {
			return w.gather(line)
		}
	}
	w.emit(line)
	w.afterLine(line)
	return nil
}

// afterLine sets up the literal a line announces, if any.
func (w *wireConn) afterLine(line []byte) {
	if n, ok := literalAtEnd(line); ok {
		w.lit, w.inResp = n, true
	} else {
		w.inResp = false
	}
}

// gather reads a whole response (small literals inline), repairs it and
// queues it; a response with a large literal passes on as it is.
func (w *wireConn) gather(first []byte) error {
	resp := append([]byte(nil), first...)
	for {
		n, ok := literalAtEnd(resp)
		if !ok {
			break
		}
		if n > maxGather {
			w.emit(resp)
			w.lit, w.inResp = n, true
			return nil
		}
		start := len(resp)
		resp = append(resp, make([]byte, n)...)
		if _, err := io.ReadFull(w.br, resp[start:]); err != nil {
			w.emit(resp[:start])
			return err
		}
		line, err := w.br.ReadSlice('\n')
		resp = append(resp, line...)
		if errors.Is(err, bufio.ErrBufferFull) {
			w.emit(resp)
			w.tail = keepTail(w.tail[:0], line)
			w.long, w.inResp = true, true
			return nil
		}
		if err != nil {
			w.emit(resp)
			w.err = err
			return nil
		}
	}
	w.inResp = false
	w.emit(w.repair(resp))
	return nil
}

// keepTail appends b to t and keeps the last 32 bytes.
func keepTail(t, b []byte) []byte {
	t = append(t, b...)
	if len(t) > 32 {
		t = append(t[:0], t[len(t)-32:]...)
	}
	return t
}

// literalAtEnd parses "{n}" or "{n+}" (or "~{n}") before the final CRLF.
func literalAtEnd(line []byte) (int64, bool) {
	l := bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
	if len(l) < 3 || l[len(l)-1] != '}' {
		return 0, false
	}
	i := bytes.LastIndexByte(l, '{')
	if i < 0 {
		return 0, false
	}
	num := bytes.TrimSuffix(l[i+1:len(l)-1], []byte("+"))
	n, err := strconv.ParseInt(string(num), 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// responseType is a response's keyword: "LIST", "FETCH" (for "* 3
// FETCH"), "+" for a continuation request, "tagged" for a status reply.
func responseType(line []byte) string {
	f := bytes.Fields(line)
	switch {
	case len(f) == 0:
		return ""
	case string(f[0]) == "+":
		return "+"
	case string(f[0]) != "*":
		if len(f) > 2 && bytes.HasPrefix(f[2], []byte("[")) {
			return "OK " + string(bytes.ToUpper(bytes.Trim(f[2], "[]")))
		}
		return "tagged"
	case len(f) < 2:
		return ""
	}
	t := f[1]
	if len(t) > 0 && t[0] >= '0' && t[0] <= '9' && len(f) > 2 {
		t = f[2]
	}
	if string(bytes.ToUpper(t)) == "OK" && len(f) > 2 && bytes.HasPrefix(f[2], []byte("[")) {
		// A response code names the extension (HIGHESTMODSEQ).
		return "OK " + string(bytes.ToUpper(bytes.Trim(f[2], "[]")))
	}
	return string(bytes.ToUpper(t))
}

func inspected(typ string) bool {
	switch typ {
	case "LIST", "LSUB", "STATUS", "QUOTAROOT":
		return true
	}
	return false
}

// inject queues bytes for go-imap before anything the server sends (a
// synthetic greeting once we did STARTTLS ourselves).
func (w *wireConn) inject(b []byte) { w.emit(b) }

func (w *wireConn) Write(p []byte) (int, error) {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if w.counters != nil {
		w.counters.PlainOut.Add(int64(len(p)))
	}
	names := w.link.rawNames()
	if names == nil && len(w.wbuf) == 0 {
		w.track(p)
		n, err := w.send(p)
		if err != nil {
			w.noteErr(err)
		}
		return n, err
	}
	out := make([]byte, 0, len(p)+64)
	rest := p
	for len(rest) > 0 {
		if w.wlit > 0 {
			k := min(int64(len(rest)), w.wlit)
			out = append(out, rest[:k]...)
			w.wlit -= k
			rest = rest[k:]
			continue
		}
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			if w.wmid {
				out = append(out, rest...)
				w.wtail = keepTail(w.wtail, rest)
			} else {
				w.wbuf = append(w.wbuf, rest...)
			}
			break
		}
		line := rest[:i+1]
		rest = rest[i+1:]
		if w.wmid {
			// Its start went out before names were mapped.
			out = append(out, line...)
			w.wtail = keepTail(w.wtail, line)
			line, w.wmid = w.wtail, false
			w.wtail = w.wtail[:0]
		} else {
			full := append(w.wbuf, line...)
			w.wbuf = w.wbuf[:0]
			out = append(out, rewriteNames(full, names)...)
			line = full
		}
		if n, ok := literalAtEnd(line); ok {
			w.wlit = n
		}
	}
	if len(out) > 0 {
		if _, err := w.send(out); err != nil {
			w.noteErr(err)
			return 0, err
		}
	}
	return len(p), nil
}

// track follows lines and literals of bytes written unchanged.
func (w *wireConn) track(p []byte) {
	for len(p) > 0 {
		if w.wlit > 0 {
			k := min(int64(len(p)), w.wlit)
			w.wlit -= k
			p = p[k:]
			continue
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.wtail = keepTail(w.wtail, p)
			w.wmid = true
			return
		}
		w.wtail = keepTail(w.wtail, p[:i+1])
		if n, ok := literalAtEnd(w.wtail); ok {
			w.wlit = n
		}
		w.wtail, w.wmid = w.wtail[:0], false
		p = p[i+1:]
	}
}

// rewriteNames replaces, in one command line, the quoted mailbox names
// go-imap sends for mapped folders by the server's own bytes.
func rewriteNames(line []byte, names map[string]string) []byte {
	for enc, raw := range names {
		if bytes.Contains(line, []byte(enc)) {
			line = bytes.ReplaceAll(line, []byte(enc), []byte(raw))
		}
	}
	return line
}

// closeOurs marks the Close to come as ours, not go-imap's.
func (w *wireConn) closeOurs() { w.ours.Store(true) }

// Close closes the socket. go-imap calls it first thing when it gives up
// on a connection, before it fails the pending commands.
func (w *wireConn) Close() error {
	if !w.ours.Load() && !w.sockErr.Load() {
		w.byClient.Store(true)
	}
	return w.Conn.Close()
}

// parseFailure reports whether go-imap closed the connection by itself
// while the socket was fine (a response it could not parse), and the type
// of the last response it was handed.
func (w *wireConn) parseFailure() (string, bool) {
	if !w.byClient.Load() || w.sockErr.Load() {
		return "", false
	}
	if p := w.last.Load(); p != nil {
		return *p, true
	}
	return "", true
}
