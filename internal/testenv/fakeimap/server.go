// Package fakeimap is a scripted, deliberately hostile IMAP server for
// tests. It speaks enough IMAP4rev1 for mailmirror's syncer (CAPABILITY,
// LOGIN, NAMESPACE, LIST with RETURN (STATUS), STATUS, SELECT/EXAMINE, UID
// FETCH, UID SEARCH with ESEARCH, UID STORE, UID EXPUNGE, UID MOVE/COPY,
// APPEND, CREATE, DELETE, NOOP, LOGOUT, AUTHENTICATE PLAIN; CONDSTORE and
// COMPRESS=DEFLATE (Server.Deflated sees the compressed stream) when
// announced) over an in-memory set of mailboxes,
// and lets a test change any answer:
//
//   - Mailbox.Wire sends a folder name exactly as given (control bytes,
//     invalid UTF-8, "../../x"): the server does not encode it;
//   - Server.Hook sees every command first and may answer it itself with
//     Session.Printf / Session.Write (raw bytes: lying literal sizes,
//     malformed responses);
//   - Server.OnFetch rewrites the encoded FETCH response of one message
//     (a gigantic literal size, a missing UID, garbage);
//   - Server.OnSelect runs before a SELECT is answered, to change a
//     mailbox per session (a UIDVALIDITY that changes every session, UIDs
//     that go backwards).
//
// Everything a session does runs under the server's lock, so hooks may
// read and change mailboxes and messages directly, but must not call
// Server methods that lock.
package fakeimap

import (
	"bufio"
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Message is one message of a mailbox.
type Message struct {
	UID    uint32
	Flags  []string
	Date   time.Time
	Body   []byte // with CRLF line ends, as on the wire
	ModSeq uint64 // CONDSTORE modification sequence
}

// Mailbox is one folder.
type Mailbox struct {
	// Name is the folder name (UTF-8); it is sent in modified UTF-7.
	Name string
	// Wire, when set, is sent instead of the encoded Name, byte for byte
	// (as a quoted string when it can be one, else as a literal), and a
	// command naming the mailbox matches it too.
	Wire        string
	Attrs       []string
	UIDValidity uint32
	UIDNext     uint32
	Messages    []*Message
	// HighestModSeq grows with every change (CONDSTORE).
	HighestModSeq uint64
}

// wireName is the name as it goes on the wire.
func (m *Mailbox) wireName() string {
	if m.Wire != "" {
		return m.Wire
	}
	return EncodeMUTF7(m.Name)
}

// Command is one command a client sent.
type Command struct {
	Tag  string
	Name string // upper case; "UID FETCH" for UID commands
	Args []Token
	Raw  string // the line as received, literals shown as {n}
}

// Server is a running fake server.
type Server struct {
	// Caps are the capabilities announced (IMAP4rev1 always is). Change
	// them before clients connect.
	Caps []string
	// Delim is the hierarchy delimiter LIST reports; "" means "/".
	Delim string
	// Namespace, when not nil, is the personal namespace prefix NAMESPACE
	// reports (add "NAMESPACE" to Caps).
	Namespace *string
	// Users maps user names to passwords; nil accepts any login.
	Users map[string]string

	// Hook is called for every command before the server handles it; when
	// it returns true the server does not answer the command itself.
	Hook func(s *Session, c *Command) bool
	// OnFetch, when set, is called with each message's encoded FETCH
	// response (from "*" to CRLF, literals included) and returns what is
	// sent instead; nil sends nothing for that message.
	OnFetch func(s *Session, mb *Mailbox, m *Message, resp []byte) []byte
	// OnSelect is called before SELECT or EXAMINE of mb is answered.
	OnSelect func(s *Session, mb *Mailbox)
	// FetchNo, when set, is called once a UID FETCH's messages are sent;
	// a non-empty result ends the command with a tagged NO of that text
	// instead of OK (Gmail: "Some messages could not be FETCHed").
	FetchNo func(s *Session, c *Command) string
	// Deflated, when set, sees the compressed bytes of each sync flush of
	// a session that turned COMPRESS=DEFLATE on (announce it in Caps)
	// and returns what goes on the wire instead: out with a corrupt block
	// appended ("\x07", a final block of the reserved type), say. n
	// counts the flushes from 1. It may run with the server locked or
	// not, and must not lock.
	Deflated func(s *Session, n int, out []byte) []byte

	mu        sync.Mutex
	mailboxes []*Mailbox
	ln        net.Listener
	conns     map[net.Conn]bool
	sessions  int
	commands  []string
	passwords []string
	wg        sync.WaitGroup
	closed    bool
}

// New returns a server with an empty INBOX, not listening yet.
func New() *Server {
	s := &Server{conns: map[net.Conn]bool{}}
	s.AddMailbox("INBOX")
	return s
}

// Start listens on a free port of 127.0.0.1 and serves in the background;
// the server is closed when the test ends.
func Start(t testing.TB, s *Server) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	s.wg.Add(1)
	go s.serve(ln)
	t.Cleanup(func() { s.Close() })
	return s
}

// Addr is the listening address.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Port is the listening port.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// Close stops the server and its sessions.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	ln := s.ln
	s.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	s.wg.Wait()
}

// Lock locks the server's state, for a test that changes mailboxes while
// clients may be connected (never call it from a hook).
func (s *Server) Lock() { s.mu.Lock() }

// Unlock undoes Lock.
func (s *Server) Unlock() { s.mu.Unlock() }

// AddMailbox adds a folder (UIDVALIDITY 1, UIDNEXT 1) and returns it; an
// existing one of that name is returned as is.
func (s *Server) AddMailbox(name string, attrs ...string) *Mailbox {
	for _, m := range s.mailboxes {
		if m.Name == name {
			return m
		}
	}
	mb := &Mailbox{Name: name, Attrs: attrs, UIDValidity: 1, UIDNext: 1, HighestModSeq: 1}
	s.mailboxes = append(s.mailboxes, mb)
	return mb
}

// Mailbox returns the folder of that name, or nil.
func (s *Server) Mailbox(name string) *Mailbox {
	for _, m := range s.mailboxes {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// Mailboxes returns every folder, in creation order.
func (s *Server) Mailboxes() []*Mailbox { return append([]*Mailbox(nil), s.mailboxes...) }

// RemoveMailbox removes a folder.
func (s *Server) RemoveMailbox(name string) {
	for i, m := range s.mailboxes {
		if m.Name == name {
			s.mailboxes = append(s.mailboxes[:i], s.mailboxes[i+1:]...)
			return
		}
	}
}

// Add appends a message to mb with the next UID and returns it.
func (mb *Mailbox) Add(body []byte, flags ...string) *Message {
	mb.HighestModSeq++
	m := &Message{UID: mb.UIDNext, Flags: flags, Date: time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC), Body: body, ModSeq: mb.HighestModSeq}
	mb.UIDNext++
	mb.Messages = append(mb.Messages, m)
	return m
}

// Sessions is how many connections were accepted.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions
}

// Commands returns every command line received so far (literals shown as
// {n}), each prefixed by its session number: "3: a1 SELECT INBOX".
func (s *Server) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.commands...)
}

// Passwords returns the passwords of every LOGIN and AUTHENTICATE PLAIN
// received.
func (s *Server) Passwords() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.passwords...)
}

func (s *Server) serve(ln net.Listener) {
	defer s.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.sessions++
		n := s.sessions
		s.conns[c] = true
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			sess := &Session{N: n, srv: s, conn: c, br: bufio.NewReaderSize(c, 64<<10), bw: bufio.NewWriterSize(c, 64<<10)}
			sess.run()
			c.Close()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

// Session is one client connection.
type Session struct {
	N        int      // session number, from 1
	Selected *Mailbox // nil when no mailbox is selected
	User     string

	srv  *Server
	conn net.Conn
	br   *bufio.Reader
	bw   *bufio.Writer
	done bool
	zw   *deflater // COMPRESS=DEFLATE is on
}

// Server is the server the session belongs to.
func (ss *Session) Server() *Server { return ss.srv }

// Printf sends formatted text (add "\r\n" yourself).
func (ss *Session) Printf(format string, args ...any) {
	fmt.Fprintf(ss.bw, format, args...)
}

// Write sends raw bytes.
func (ss *Session) Write(p []byte) { ss.bw.Write(p) }

// Close ends the session after what was written so far is sent.
func (ss *Session) Close() {
	ss.bw.Flush()
	ss.done = true
}

// Flush sends what was written so far.
func (ss *Session) Flush() error { return ss.bw.Flush() }

// hasCap reports whether the server announces a capability.
func (s *Server) hasCap(c string) bool {
	for _, x := range s.Caps {
		if strings.EqualFold(x, c) {
			return true
		}
	}
	return false
}

func (ss *Session) caps() string {
	caps := []string{"IMAP4rev1"}
	for _, c := range ss.srv.Caps {
		if !strings.EqualFold(c, "IMAP4rev1") {
			caps = append(caps, c)
		}
	}
	return strings.Join(caps, " ")
}

func (ss *Session) run() {
	ss.srv.mu.Lock()
	ss.Printf("* OK [CAPABILITY %s] fakeimap ready\r\n", ss.caps())
	ss.srv.mu.Unlock()
	if ss.bw.Flush() != nil {
		return
	}
	for !ss.done {
		ss.conn.SetDeadline(time.Now().Add(5 * time.Minute))
		cmd, err := ss.readCommand()
		if err != nil {
			var pe *parseError
			if errors.As(err, &pe) {
				ss.Printf("* BAD %s\r\n", pe.msg)
				ss.bw.Flush()
				continue
			}
			return
		}
		ss.srv.mu.Lock()
		ss.srv.commands = append(ss.srv.commands, strconv.Itoa(ss.N)+": "+cmd.Raw)
		handled := ss.srv.Hook != nil && ss.srv.Hook(ss, cmd)
		if !handled {
			ss.handle(cmd)
		}
		ss.srv.mu.Unlock()
		if ss.bw.Flush() != nil {
			return
		}
	}
}

// readCommand reads one command with its literals (sending continuation
// requests for synchronising ones).
func (ss *Session) readCommand() (*Command, error) {
	var raw strings.Builder
	p := &parser{r: ss.br, raw: &raw, cont: func() {
		ss.bw.WriteString("+ go ahead\r\n")
		ss.bw.Flush()
	}}
	toks, err := p.line()
	if err != nil {
		return nil, err
	}
	c := &Command{Raw: raw.String()}
	if len(toks) < 2 {
		return nil, &parseError{"missing command"}
	}
	c.Tag = toks[0].S
	c.Name = strings.ToUpper(toks[1].S)
	c.Args = toks[2:]
	if c.Name == "UID" && len(c.Args) > 0 {
		c.Name = "UID " + strings.ToUpper(c.Args[0].S)
		c.Args = c.Args[1:]
	}
	return c, nil
}

// Token is one element of a command: an atom, a string (quoted or
// literal) or a parenthesised list.
type Token struct {
	S    string
	List []Token
	IsL  bool // a list
}

func (t Token) String() string {
	if !t.IsL {
		return t.S
	}
	parts := make([]string, len(t.List))
	for i, x := range t.List {
		parts[i] = x.String()
	}
	return "(" + strings.Join(parts, " ") + ")"
}

type parseError struct{ msg string }

func (e *parseError) Error() string { return e.msg }

// parser reads command tokens from the connection.
type parser struct {
	r    *bufio.Reader
	raw  *strings.Builder
	cont func()
}

func (p *parser) byte() (byte, error) {
	b, err := p.r.ReadByte()
	if err == nil && b != '\r' && b != '\n' {
		p.raw.WriteByte(b)
	}
	return b, err
}

// line reads tokens up to the CRLF that ends the command.
func (p *parser) line() ([]Token, error) {
	toks, end, err := p.list(false)
	if err != nil {
		return nil, err
	}
	if end != '\n' {
		return nil, &parseError{"unbalanced parenthesis"}
	}
	return toks, nil
}

// list reads tokens until ")" (nested) or the end of the line.
func (p *parser) list(nested bool) ([]Token, byte, error) {
	var toks []Token
	for {
		b, err := p.byte()
		if err != nil {
			return nil, 0, err
		}
		switch b {
		case ' ':
			continue
		case '\r':
			continue
		case '\n':
			if nested {
				return nil, 0, &parseError{"line ends inside a list"}
			}
			return toks, '\n', nil
		case ')':
			if !nested {
				return nil, 0, &parseError{"unexpected )"}
			}
			return toks, ')', nil
		case '(':
			sub, _, err := p.list(true)
			if err != nil {
				return nil, 0, err
			}
			toks = append(toks, Token{List: sub, IsL: true})
		case '"':
			s, err := p.quoted()
			if err != nil {
				return nil, 0, err
			}
			toks = append(toks, Token{S: s})
		case '{':
			s, err := p.literal()
			if err != nil {
				return nil, 0, err
			}
			toks = append(toks, Token{S: s})
		default:
			s, end, err := p.atom(b)
			if err != nil {
				return nil, 0, err
			}
			toks = append(toks, Token{S: s})
			switch end {
			case ')':
				if !nested {
					return nil, 0, &parseError{"unexpected )"}
				}
				return toks, ')', nil
			case '\n':
				if nested {
					return nil, 0, &parseError{"line ends inside a list"}
				}
				return toks, '\n', nil
			}
		}
	}
}

func (p *parser) quoted() (string, error) {
	var b strings.Builder
	for {
		c, err := p.byte()
		if err != nil {
			return "", err
		}
		switch c {
		case '"':
			return b.String(), nil
		case '\\':
			c, err = p.byte()
			if err != nil {
				return "", err
			}
		case '\n':
			return "", &parseError{"line ends inside a quoted string"}
		}
		b.WriteByte(c)
	}
}

func (p *parser) literal() (string, error) {
	var num strings.Builder
	plus := false
	for {
		c, err := p.byte()
		if err != nil {
			return "", err
		}
		if c == '}' {
			break
		}
		if c == '+' || c == '-' {
			plus = true
			continue
		}
		num.WriteByte(c)
	}
	n, err := strconv.Atoi(num.String())
	if err != nil || n < 0 || n > 64<<20 {
		return "", &parseError{"bad literal size"}
	}
	for {
		c, err := p.r.ReadByte()
		if err != nil {
			return "", err
		}
		if c == '\n' {
			break
		}
	}
	if !plus {
		p.cont()
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(p.r, buf); err != nil {
		return "", err
	}
	return string(buf), nil
}

// atom reads an atom starting with first; brackets may hold spaces and
// parentheses (BODY.PEEK[HEADER.FIELDS (A B)]). It returns the byte that
// ended it when that was ")" or a line end.
func (p *parser) atom(first byte) (string, byte, error) {
	var b strings.Builder
	b.WriteByte(first)
	depth := 0
	if first == '[' {
		depth++
	}
	for {
		c, err := p.byte()
		if err != nil {
			return "", 0, err
		}
		switch {
		case c == '[':
			depth++
		case c == ']':
			depth--
		case depth > 0:
		case c == ' ':
			return b.String(), ' ', nil
		case c == ')':
			return b.String(), ')', nil
		case c == '\n':
			return b.String(), '\n', nil
		case c == '\r':
			continue
		}
		b.WriteByte(c)
	}
}

// find returns the mailbox a command names.
func (ss *Session) find(name string) *Mailbox {
	for _, m := range ss.srv.mailboxes {
		if m.Wire != "" && m.Wire == name {
			return m
		}
	}
	dec, err := DecodeMUTF7(name)
	if err != nil {
		dec = name
	}
	for _, m := range ss.srv.mailboxes {
		if m.Wire == "" && (m.Name == dec || strings.EqualFold(m.Name, "INBOX") && strings.EqualFold(dec, "INBOX")) {
			return m
		}
	}
	return nil
}

// quote returns s as an IMAP string: quoted when it can be, a literal
// otherwise.
func quote(s string) string {
	ok := len(s) < 1024
	for i := 0; ok && i < len(s); i++ {
		if s[i] == 0 || s[i] == '\r' || s[i] == '\n' || s[i] >= 0x80 {
			ok = false
		}
	}
	if ok {
		return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
	}
	return "{" + strconv.Itoa(len(s)) + "}\r\n" + s
}

func (s *Server) delim() string {
	if s.Delim == "" {
		return "/"
	}
	return s.Delim
}

// uidsOf returns the UIDs of mb's messages that a UID set names, in
// mailbox order.
func uidsOf(mb *Mailbox, set string) ([]*Message, error) {
	var max uint32
	for _, m := range mb.Messages {
		if m.UID > max {
			max = m.UID
		}
	}
	type rng struct{ a, b uint32 }
	var rs []rng
	for _, part := range strings.Split(set, ",") {
		lo, hi, isRange := strings.Cut(part, ":")
		num := func(s string) (uint32, error) {
			if s == "*" {
				return max, nil
			}
			n, err := strconv.ParseUint(s, 10, 32)
			return uint32(n), err
		}
		a, err := num(lo)
		if err != nil {
			return nil, err
		}
		b := a
		if isRange {
			if b, err = num(hi); err != nil {
				return nil, err
			}
		}
		if a > b {
			a, b = b, a
		}
		rs = append(rs, rng{a, b})
	}
	var out []*Message
	for _, m := range mb.Messages {
		for _, r := range rs {
			if m.UID >= r.a && m.UID <= r.b {
				out = append(out, m)
				break
			}
		}
	}
	return out, nil
}

// UIDSet formats UIDs compactly ("1:3,7").
func UIDSet(uids []uint32) string {
	if len(uids) == 0 {
		return ""
	}
	u := append([]uint32(nil), uids...)
	sort.Slice(u, func(i, j int) bool { return u[i] < u[j] })
	var b bytes.Buffer
	start, prev := u[0], u[0]
	flush := func() {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		if start == prev {
			fmt.Fprintf(&b, "%d", start)
		} else {
			fmt.Fprintf(&b, "%d:%d", start, prev)
		}
	}
	for _, x := range u[1:] {
		if x == prev || x == prev+1 {
			prev = x
			continue
		}
		flush()
		start, prev = x, x
	}
	flush()
	return b.String()
}

// Compressed reports whether the session turned COMPRESS=DEFLATE on.
func (ss *Session) Compressed() bool { return ss.zw != nil }

// startDeflate runs the session through raw deflate from now on, after
// the OK to COMPRESS was flushed: the client's bytes are inflated (any
// already buffered included), ours are deflated and sync-flushed at each
// flush of bw.
func (ss *Session) startDeflate() {
	ss.br = bufio.NewReaderSize(flate.NewReader(ss.br), 64<<10)
	d := &deflater{ss: ss, raw: ss.conn}
	d.fw, _ = flate.NewWriter(&d.buf, flate.DefaultCompression)
	ss.zw = d
	ss.bw = bufio.NewWriterSize(d, 64<<10)
}

// deflater deflates and sync-flushes each write (one flush of the
// session's bufio.Writer), as Dovecot does.
type deflater struct {
	ss  *Session
	raw io.Writer
	fw  *flate.Writer
	buf bytes.Buffer
	n   int
}

func (d *deflater) Write(p []byte) (int, error) {
	d.buf.Reset()
	d.fw.Write(p)
	d.fw.Flush()
	d.n++
	out := d.buf.Bytes()
	if hook := d.ss.srv.Deflated; hook != nil {
		out = hook(d.ss, d.n, out)
	}
	if _, err := d.raw.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}
