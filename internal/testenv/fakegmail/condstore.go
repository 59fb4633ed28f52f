package fakegmail

import (
	"bytes"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// go-imap's imapserver cannot speak CONDSTORE (RFC 7162). This file adds
// the part the engine uses, at the connection, as the project does for
// go-imap's client: CONDSTORE in the capabilities, SELECT … (CONDSTORE)
// answered with [HIGHESTMODSEQ n], HIGHESTMODSEQ as a STATUS item (STATUS
// and LIST-STATUS), and FETCH … (CHANGEDSINCE n), which the session
// filters by each view's MODSEQ. Command lines from the client are
// rewritten before imapserver parses them, response lines after it wrote
// them; literals pass untouched both ways.

// csListener wraps accepted connections in csConn.
type csListener struct{ net.Listener }

func (l csListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &csConn{Conn: c}, nil
}

// csConn rewrites one connection's stream.
type csConn struct {
	net.Conn
	mu   sync.Mutex
	sess *session

	in      []byte // client bytes not yet handed to imapserver
	inLine  []byte // a command line being read
	inRaw   int64  // literal bytes still to pass from the client
	out     []byte // server bytes not yet written
	outRaw  int64  // literal bytes still to pass to the client
	selTag  string // tag of a SELECT/EXAMINE with CONDSTORE
	wantHMS bool   // the STATUS/LIST in flight asked for HIGHESTMODSEQ
}

func (c *csConn) session() *session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess
}

var (
	literalEnd   = regexp.MustCompile(`\{(\d+)\+?\}\r\n$`)
	condstoreArg = regexp.MustCompile(`(?i) \(CONDSTORE\)`)
	changedSince = regexp.MustCompile(`(?i) \(CHANGEDSINCE (\d+)\)`)
	hmsItem      = regexp.MustCompile(`(?i) HIGHESTMODSEQ|HIGHESTMODSEQ ?`)
)

// Read hands imapserver the client's bytes, command lines rewritten.
func (c *csConn) Read(p []byte) (int, error) {
	for len(c.in) == 0 {
		buf := make([]byte, 4096)
		n, err := c.Conn.Read(buf)
		if n > 0 {
			c.feedIn(buf[:n])
		}
		if err != nil && len(c.in) == 0 {
			return 0, err
		}
	}
	n := copy(p, c.in)
	c.in = c.in[n:]
	return n, nil
}

func (c *csConn) feedIn(b []byte) {
	for len(b) > 0 {
		if c.inRaw > 0 {
			n := min(int64(len(b)), c.inRaw)
			c.in = append(c.in, b[:n]...)
			c.inRaw -= n
			b = b[n:]
			continue
		}
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			c.inLine = append(c.inLine, b...)
			return
		}
		line := append(c.inLine, b[:i+1]...)
		c.inLine, b = nil, b[i+1:]
		if m := literalEnd.FindSubmatch(line); m != nil {
			c.inRaw, _ = strconv.ParseInt(string(m[1]), 10, 64)
		}
		c.in = append(c.in, c.rewriteCommand(line)...)
	}
}

// rewriteCommand strips what imapserver cannot parse and notes it.
func (c *csConn) rewriteCommand(line []byte) []byte {
	s := string(line)
	f := strings.Fields(s)
	if len(f) < 2 {
		return line
	}
	cmd := strings.ToUpper(f[1])
	if cmd == "UID" && len(f) > 2 {
		cmd = strings.ToUpper(f[2])
	}
	ss := c.session()
	switch cmd {
	case "SELECT", "EXAMINE":
		if condstoreArg.MatchString(s) {
			s = condstoreArg.ReplaceAllString(s, "")
			c.selTag = f[0]
		}
	case "FETCH":
		var since uint64
		if m := changedSince.FindStringSubmatch(s); m != nil {
			since, _ = strconv.ParseUint(m[1], 10, 64)
			s = changedSince.ReplaceAllString(s, "")
		}
		if ss != nil {
			ss.setChangedSince(since)
		}
	case "STATUS", "LIST":
		c.wantHMS = false
		if strings.Contains(strings.ToUpper(s), "HIGHESTMODSEQ") {
			s = hmsItem.ReplaceAllString(s, "")
			c.wantHMS = true
		}
	}
	return []byte(s)
}

// Write takes imapserver's responses and sends them on, rewritten.
func (c *csConn) Write(p []byte) (int, error) {
	c.out = append(c.out, p...)
	var send []byte
	for len(c.out) > 0 {
		if c.outRaw > 0 {
			n := min(int64(len(c.out)), c.outRaw)
			send = append(send, c.out[:n]...)
			c.outRaw -= n
			c.out = c.out[n:]
			continue
		}
		i := bytes.IndexByte(c.out, '\n')
		if i < 0 {
			break
		}
		line := c.out[:i+1]
		c.out = c.out[i+1:]
		if m := literalEnd.FindSubmatch(line); m != nil {
			c.outRaw, _ = strconv.ParseInt(string(m[1]), 10, 64)
		}
		send = append(send, c.rewriteResponse(line)...)
	}
	if len(send) > 0 {
		if _, err := c.Conn.Write(send); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

var capCode = regexp.MustCompile(`(?i)(\* CAPABILITY [^\r\n\]]*|\[CAPABILITY [^\]]*)`)

// rewriteResponse adds what CONDSTORE puts in responses.
func (c *csConn) rewriteResponse(line []byte) []byte {
	s := string(line)
	switch {
	case capCode.MatchString(s):
		return []byte(capCode.ReplaceAllString(s, "$1 CONDSTORE"))
	case c.selTag != "" && strings.HasPrefix(s, c.selTag+" "):
		tag := c.selTag
		c.selTag = ""
		if ss := c.session(); ss != nil && strings.HasPrefix(s, tag+" OK") {
			return []byte("* OK [HIGHESTMODSEQ " + strconv.FormatUint(ss.selectedModSeq(), 10) + "] Highest\r\n" + s)
		}
	case c.wantHMS && strings.HasPrefix(s, "* STATUS "):
		ss := c.session()
		end := strings.LastIndexByte(s, ')')
		if ss == nil || end < 0 {
			return line
		}
		ms := ss.statusModSeq(statusName(s[len("* STATUS "):]))
		return []byte(s[:end] + " HIGHESTMODSEQ " + strconv.FormatUint(ms, 10) + s[end:])
	}
	return line
}

// statusName reads the mailbox name at the start of a STATUS response's
// rest: a quoted string or an atom.
func statusName(s string) string {
	if !strings.HasPrefix(s, `"`) {
		name, _, _ := strings.Cut(s, " ")
		return name
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '"':
			return b.String()
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
