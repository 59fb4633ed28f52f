package syncer

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"strings"
	"time"

	"github.com/mailmirror/mailmirror/maildir"
)

// identityFields are the header fields fetched for every new server message
// and read from every unknown local file, to recognise the same message on
// both sides without transferring its body.
var identityFields = []string{"Message-Id", "Date", "From", "To", "Subject"}

// identity returns a short hash naming a message: its Message-ID when it
// has one, else a hash of Date, From, To and Subject. "" when none is
// present. Header lines may end in CRLF or LF; folded lines are unfolded.
func identity(header []byte) string {
	fields := parseFields(header)
	if id := strings.TrimSpace(fields["message-id"]); id != "" {
		return hashOf("m", id)
	}
	var b strings.Builder
	any := false
	for _, f := range []string{"date", "from", "to", "subject"} {
		v := strings.Join(strings.Fields(fields[f]), " ")
		if v != "" {
			any = true
		}
		b.WriteString(v)
		b.WriteByte(0)
	}
	if !any {
		return ""
	}
	return hashOf("h", b.String())
}

func hashOf(kind, s string) string {
	sum := sha256.Sum256([]byte(s))
	return kind + hex.EncodeToString(sum[:12])
}

// parseFields returns the first value of each wanted field, lower-cased
// names, unfolded.
func parseFields(header []byte) map[string]string {
	out := map[string]string{}
	var name string
	for _, line := range bytes.Split(header, []byte("\n")) {
		line = bytes.TrimRight(line, "\r")
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if name != "" {
				out[name] += " " + strings.TrimSpace(string(line))
			}
			continue
		}
		name = ""
		i := bytes.IndexByte(line, ':')
		if i <= 0 {
			continue
		}
		n := strings.ToLower(strings.TrimSpace(string(line[:i])))
		for _, f := range identityFields {
			if n == strings.ToLower(f) {
				if _, dup := out[n]; !dup {
					out[n] = strings.TrimSpace(string(line[i+1:]))
					name = n
				}
			}
		}
	}
	return out
}

// readHeaderBuf is readHeader's buffer: a longer line comes in pieces.
const readHeaderBuf = 16 << 10

// readHeaderMax is where readHeader stops reading when no empty line came.
const readHeaderMax = 256 << 10

// readHeader reads a message's header (up to the empty line, at most
// 256 KiB).
func readHeader(r io.Reader) ([]byte, error) {
	br := bufio.NewReaderSize(r, readHeaderBuf)
	var buf bytes.Buffer
	for buf.Len() < readHeaderMax {
		line, err := br.ReadSlice('\n')
		buf.Write(line)
		if len(bytes.TrimRight(line, "\r\n")) == 0 && (len(line) > 0 || err != nil) {
			break
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF {
				break
			}
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

// headCapture passes a message's bytes on to w and keeps its start, as
// far as readHeader reads a stored file: to the end of the header, at most
// maxHeadCapture bytes. identity then names the message as readLocal names
// its file.
type headCapture struct {
	w         io.Writer
	buf       []byte
	lineStart int  // where the line being received starts in buf
	done      bool // the header ended, or the bound was reached
	ended     bool // by an empty line
	long      bool // a line as long as readHeader's buffer or longer
}

// maxHeadCapture bounds what headCapture keeps: readHeader stops once it
// holds 256 KiB, after a read of at most 16 KiB.
const maxHeadCapture = readHeaderMax + readHeaderBuf

// reset makes h a capture of the next message, to w, keeping its buffer.
func (h *headCapture) reset(w io.Writer) *headCapture {
	*h = headCapture{w: w, buf: h.buf[:0]}
	return h
}

func (h *headCapture) Write(p []byte) (int, error) {
	if !h.done {
		h.keep(p)
	}
	return h.w.Write(p)
}

func (h *headCapture) keep(p []byte) {
	p = p[:min(len(p), maxHeadCapture-len(h.buf))]
	for _, c := range p {
		h.buf = append(h.buf, c)
		if c != '\n' {
			continue
		}
		line := h.buf[h.lineStart:]
		h.long = h.long || len(line) >= readHeaderBuf
		// readHeader's end of the header: a line of nothing but line-end
		// characters.
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			h.done, h.ended = true, true
			return
		}
		h.lineStart = len(h.buf)
	}
	h.done = len(h.buf) >= maxHeadCapture
}

// identity is the identity of the message written so far (see identity).
func (h *headCapture) identity() string {
	if h.ended && !h.long && h.lineStart < readHeaderMax {
		// Lines shorter than its buffer, ended by an empty line that it
		// reaches: readHeader would return exactly these bytes.
		return identity(h.buf)
	}
	hdr, _ := readHeader(bytes.NewReader(h.buf))
	return identity(hdr)
}

// readLocalFile reads what the engine compares of a local message file:
// its header (readHeader), its size with CRLF line ends (crlfSize) and its
// modification time.
func readLocalFile(lf *maildir.Folder, e maildir.Entry) (hdr []byte, size int64, mtime time.Time, err error) {
	f, err := lf.Open(e)
	if err != nil {
		return nil, 0, time.Time{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, 0, time.Time{}, err
	}
	if hdr, err = readHeader(f); err != nil {
		return nil, 0, time.Time{}, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, 0, time.Time{}, err
	}
	if size, err = crlfSize(f); err != nil {
		return nil, 0, time.Time{}, err
	}
	return hdr, size, st.ModTime(), nil
}

// crlfSize returns the size a message stored with LF line ends has on the
// wire, where every line ends in CRLF, and whether r was read completely.
func crlfSize(r io.Reader) (int64, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var n int64
	var prev byte
	buf := make([]byte, 64<<10)
	for {
		k, err := br.Read(buf)
		for _, c := range buf[:k] {
			if c == '\n' && prev != '\r' {
				n++
			}
			prev = c
			n++
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// lfWriter converts CRLF to LF on the way to w (Maildir files use LF).
type lfWriter struct {
	w   io.Writer
	cr  bool // a CR was held back at the end of the last write
	buf []byte
	// in is receive's read buffer, kept with the writer so that a
	// downloader reuses both from one message to the next.
	in []byte
}

// reset makes l a writer to w for the next message, keeping its buffers.
func (l *lfWriter) reset(w io.Writer) *lfWriter {
	l.w, l.cr, l.buf = w, false, l.buf[:0]
	return l
}

func (l *lfWriter) Write(p []byte) (int, error) {
	out := l.buf[:0]
	rest := p
	if l.cr && len(rest) > 0 {
		l.cr = false
		if rest[0] != '\n' {
			out = append(out, '\r')
		}
	}
	// Runs without CR are copied whole; a CR is dropped when an LF
	// follows, and held back when it ends p.
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, '\r')
		if i < 0 {
			out = append(out, rest...)
			break
		}
		out = append(out, rest[:i]...)
		if i+1 == len(rest) {
			l.cr = true
			break
		}
		if rest[i+1] != '\n' {
			out = append(out, '\r')
		}
		rest = rest[i+1:]
	}
	l.buf = out
	if _, err := l.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes a CR held back at the very end of the message.
func (l *lfWriter) Flush() error {
	if l.cr {
		l.cr = false
		_, err := l.w.Write([]byte{'\r'})
		return err
	}
	return nil
}

// crlfReader converts bare LF to CRLF on the way from a Maildir file to the
// server.
type crlfReader struct {
	r       *bufio.Reader
	prev    byte
	pending bool // an LF is owed after the CR just returned
}

func newCRLFReader(r io.Reader) *crlfReader {
	return &crlfReader{r: bufio.NewReaderSize(r, 64<<10)}
}

func (c *crlfReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if c.pending {
			p[n] = '\n'
			n++
			c.pending = false
			c.prev = '\n'
			continue
		}
		b, err := c.r.ReadByte()
		if err != nil {
			if n > 0 {
				return n, nil
			}
			return 0, err
		}
		if b == '\n' && c.prev != '\r' {
			p[n] = '\r'
			n++
			c.pending = true
			c.prev = '\r'
			continue
		}
		p[n] = b
		n++
		c.prev = b
	}
	return n, nil
}

// tuidLength is the on-the-wire length (with CRLF) of the X-TUID header
// line mbsync inserts into the messages it stores, 0 when absent.
func tuidLength(header []byte) int64 {
	for _, line := range bytes.Split(header, []byte("\n")) {
		line = bytes.TrimRight(line, "\r")
		if len(line) == 0 {
			break
		}
		if len(line) > 7 && bytes.EqualFold(line[:7], []byte("X-TUID:")) {
			return int64(len(line)) + 2
		}
	}
	return 0
}
