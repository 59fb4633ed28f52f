// Package pop3srv is a small POP3 server with an in-memory maildrop and
// fault switches, for hermetic tests of mailmirror's POP3 client and for
// `mailmirror demo`.
//
// It speaks CAPA, USER/PASS, AUTH PLAIN, STLS (when given a TLS config),
// STAT, LIST, UIDL, TOP, RETR, DELE, RSET, NOOP and QUIT, with PIPELINING,
// on one Mailbox shared by every session. Faults (SetFaults) switch off
// UIDL, TOP, CAPA, PIPELINING or STLS, answer -ERR [IN-USE] or
// [LOGIN-DELAY] at login, lie about sizes, repeat UIDLs, add garbage and
// endless lines to listings, cut the connection in the middle of a RETR
// (once, or for chosen messages every time), and trickle RETR answers one
// byte at a time. Counters (Count, RetrCount, Pipelined) let tests prove what the
// client sent.
package pop3srv

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
)

// Options configure a Server at creation.
type Options struct {
	// Users maps user names to passwords. Nil means {"user": "pass"}.
	Users map[string]string
	// TLSConfig, when set, lets the server offer STLS, or serve implicit
	// TLS with ImplicitTLS.
	TLSConfig   *tls.Config
	ImplicitTLS bool
	// Timeout closes a session idle that long; zero means one minute.
	Timeout time.Duration
	// Log, when set, receives a transcript of every session (passwords
	// masked).
	Log io.Writer
}

// Faults are switches that make the server misbehave. They can be changed
// at any time with SetFaults; a session reads them when it needs them.
type Faults struct {
	NoCAPA bool // CAPA answers -ERR
	NoUIDL bool // UIDL answers -ERR and is not in CAPA
	// UIDLTempFail makes UIDL answer -ERR [SYS/TEMP] while CAPA still
	// lists it (a server with a busy index).
	UIDLTempFail bool
	NoTOP        bool // TOP answers -ERR and is not in CAPA
	NoPipelining bool // PIPELINING is not in CAPA (commands are still read one by one)
	NoSTLS       bool // STLS is not offered even with a TLS config
	NoSASL       bool // AUTH PLAIN is not offered
	InUse        bool // a correct login answers -ERR [IN-USE]
	LoginDelay   bool // a correct login answers -ERR [LOGIN-DELAY]
	// AdvertiseLoginDelay, when positive, puts "LOGIN-DELAY n" in CAPA
	// (without refusing logins).
	AdvertiseLoginDelay int
	LieSizes            bool // STAT, LIST and the RETR status line report wrong sizes
	// DuplicateUIDLs makes UIDL report message 2k's unique-id for message
	// 2k+1 too.
	DuplicateUIDLs bool
	// GarbageListings adds malformed, out-of-range and very long lines to
	// the answers of LIST and UIDL.
	GarbageListings bool
	// DropAfterBytes, when positive, makes the server close the connection
	// after sending that many bytes of a RETR body: the RETR answered after
	// DropRetrSkip full ones (counted from SetFaults). It fires once, then
	// resets itself to zero.
	DropAfterBytes int64
	DropRetrSkip   int
	// DropOnQuit closes the connection on QUIT without removing the
	// messages marked with DELE (as a server crash would).
	DropOnQuit bool
	// BreakUIDL: every RETR of the message with this UIDL sends half of
	// the message and closes the connection (a message the server can
	// never deliver).
	BreakUIDL string
	// TrickleEvery, when positive, makes RETR send its answer one byte at
	// a time with that pause between bytes (a server that never times out
	// a read but never finishes either).
	TrickleEvery time.Duration
}

// Server is a running POP3 server.
type Server struct {
	// Mailbox is the maildrop every session sees.
	Mailbox *Mailbox

	opts Options

	mu        sync.Mutex
	faults    Faults
	retrSeen  int // RETR answers since SetFaults
	counts    map[string]int
	retrs     map[string]int
	pipelined int
	logins    int
	ln        net.Listener
	conns     map[net.Conn]bool
	closed    bool
	done      chan struct{} // closed by Close
	wg        sync.WaitGroup
}

// New returns a server that is not listening yet.
func New(opts Options) *Server {
	if opts.Users == nil {
		opts.Users = map[string]string{"user": "pass"}
	}
	if opts.Timeout <= 0 {
		opts.Timeout = time.Minute
	}
	return &Server{
		Mailbox: &Mailbox{},
		opts:    opts,
		counts:  map[string]int{},
		retrs:   map[string]int{},
		conns:   map[net.Conn]bool{},
		done:    make(chan struct{}),
	}
}

// Start listens on addr ("127.0.0.1:0" picks a free port) and serves in the
// background. It returns the address it listens on.
func (s *Server) Start(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("pop3srv: listen: %w", err)
	}
	if s.opts.ImplicitTLS {
		if s.opts.TLSConfig == nil {
			ln.Close()
			return "", errors.New("pop3srv: ImplicitTLS without TLSConfig")
		}
		ln = tls.NewListener(ln, s.opts.TLSConfig)
	}
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	s.wg.Add(1)
	go s.serve(ln)
	return ln.Addr().String(), nil
}

// Addr returns the listening address, or "" before Start.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Close stops listening, closes every session and waits for them.
func (s *Server) Close() error {
	s.mu.Lock()
	if !s.closed {
		close(s.done)
	}
	s.closed = true
	ln := s.ln
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	var err error
	if ln != nil {
		err = ln.Close()
	}
	s.wg.Wait()
	return err
}

// SetFaults replaces the fault switches and restarts the RETR count used by
// DropRetrSkip.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
	s.retrSeen = 0
}

// Faults returns the current fault switches.
func (s *Server) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// Count returns how many commands with that verb (upper case) the server
// received, in every session.
func (s *Server) Count(verb string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[strings.ToUpper(verb)]
}

// RetrCount returns how many times a message with that UIDL was sent by
// RETR in full.
func (s *Server) RetrCount(uidl string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.retrs[uidl]
}

// Pipelined returns how many commands were already waiting in the input
// buffer while the server answered an earlier one: proof that a client
// pipelines.
func (s *Server) Pipelined() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pipelined
}

// Logins returns the number of successful logins.
func (s *Server) Logins() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins
}

// ResetCounters sets every counter back to zero.
func (s *Server) ResetCounters() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts = map[string]int{}
	s.retrs = map[string]int{}
	s.pipelined = 0
	s.logins = 0
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
		s.conns[c] = true
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			sess := newSession(s, c)
			sess.run()
			s.mu.Lock()
			delete(s.conns, sess.conn)
			delete(s.conns, c)
			s.mu.Unlock()
			sess.conn.Close()
		}()
	}
}

// session is one client connection.
type session struct {
	s       *Server
	conn    net.Conn
	br      *bufio.Reader
	bw      *bufio.Writer
	tls     bool
	user    string
	authed  bool
	msgs    []*Message // snapshot taken at login
	deleted map[int]bool
}

func newSession(s *Server, c net.Conn) *session {
	_, isTLS := c.(*tls.Conn)
	return &session{
		s: s, conn: c, tls: isTLS,
		br: bufio.NewReader(c), bw: bufio.NewWriterSize(c, 32<<10),
		deleted: map[int]bool{},
	}
}

func (ss *session) logf(format string, args ...any) {
	if ss.s.opts.Log != nil {
		fmt.Fprintf(ss.s.opts.Log, "pop3srv %p: "+format+"\n", append([]any{ss}, args...)...)
	}
}

func (ss *session) reply(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	ss.logf("S: %s", line)
	ss.bw.WriteString(line)
	ss.bw.WriteString("\r\n")
}

// flush writes buffered answers unless more pipelined commands are waiting.
func (ss *session) flush() error {
	if ss.br.Buffered() > 0 {
		return nil
	}
	return ss.bw.Flush()
}

func (ss *session) deadline() {
	ss.conn.SetDeadline(time.Now().Add(ss.s.opts.Timeout))
}

func (ss *session) run() {
	ss.deadline()
	ss.reply("+OK pop3srv ready")
	if ss.bw.Flush() != nil {
		return
	}
	for {
		ss.deadline()
		line, err := ss.readLine()
		if err != nil {
			return
		}
		if ss.br.Buffered() > 0 {
			ss.s.mu.Lock()
			ss.s.pipelined++
			ss.s.mu.Unlock()
		}
		verb, arg, _ := strings.Cut(line, " ")
		verb = strings.ToUpper(verb)
		if verb == "PASS" {
			ss.logf("C: PASS ***")
		} else {
			ss.logf("C: %s", line)
		}
		ss.s.mu.Lock()
		ss.s.counts[verb]++
		ss.s.mu.Unlock()
		quit, err := ss.dispatch(verb, arg)
		if err != nil {
			return
		}
		if quit {
			ss.bw.Flush()
			return
		}
		if ss.flush() != nil {
			return
		}
	}
}

// readLine reads one command line, at most 1 KiB.
func (ss *session) readLine() (string, error) {
	var b []byte
	for {
		chunk, err := ss.br.ReadSlice('\n')
		b = append(b, chunk...)
		if len(b) > 1024 {
			return "", errors.New("line too long")
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return "", err
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
}

var errDrop = errors.New("dropped on purpose")

func (ss *session) dispatch(verb, arg string) (quit bool, err error) {
	f := ss.s.Faults()
	switch verb {
	case "QUIT":
		if f.DropOnQuit {
			return true, errDrop
		}
		if ss.authed {
			var del []*Message
			for n := range ss.deleted {
				del = append(del, ss.msgs[n-1])
			}
			ss.s.Mailbox.Remove(del...)
		}
		ss.reply("+OK bye")
		return true, nil
	case "CAPA":
		if f.NoCAPA {
			ss.reply("-ERR unknown command")
			return false, nil
		}
		ss.reply("+OK capability list follows")
		ss.reply("USER")
		if !f.NoUIDL {
			ss.reply("UIDL")
		}
		if !f.NoTOP {
			ss.reply("TOP")
		}
		if !f.NoPipelining {
			ss.reply("PIPELINING")
		}
		ss.reply("RESP-CODES")
		ss.reply("AUTH-RESP-CODE")
		if f.LoginDelay {
			ss.reply("LOGIN-DELAY 900")
		} else if f.AdvertiseLoginDelay > 0 {
			ss.reply("LOGIN-DELAY %d", f.AdvertiseLoginDelay)
		}
		if !ss.authed && !f.NoSASL {
			ss.reply("SASL PLAIN")
		}
		if !ss.authed && !ss.tls && ss.s.opts.TLSConfig != nil && !f.NoSTLS {
			ss.reply("STLS")
		}
		ss.reply("IMPLEMENTATION pop3srv")
		ss.reply(".")
		return false, nil
	case "NOOP":
		ss.reply("+OK")
		return false, nil
	}
	if !ss.authed {
		return ss.authorization(verb, arg, f)
	}
	return false, ss.transaction(verb, arg, f)
}

func (ss *session) authorization(verb, arg string, f Faults) (bool, error) {
	switch verb {
	case "STLS":
		if ss.tls || ss.s.opts.TLSConfig == nil || f.NoSTLS {
			ss.reply("-ERR STLS not available")
			return false, nil
		}
		ss.reply("+OK begin TLS")
		if err := ss.bw.Flush(); err != nil {
			return false, err
		}
		tc := tls.Server(ss.conn, ss.s.opts.TLSConfig)
		if err := tc.Handshake(); err != nil {
			return false, err
		}
		ss.s.mu.Lock()
		delete(ss.s.conns, ss.conn)
		ss.s.conns[tc] = true
		ss.s.mu.Unlock()
		ss.conn, ss.tls, ss.user = tc, true, ""
		ss.br = bufio.NewReader(tc)
		ss.bw = bufio.NewWriterSize(tc, 32<<10)
		return false, nil
	case "USER":
		ss.user = arg
		ss.reply("+OK")
		return false, nil
	case "PASS":
		if ss.user == "" {
			ss.reply("-ERR USER first")
			return false, nil
		}
		ss.login(ss.user, arg, f)
		return false, nil
	case "AUTH":
		return false, ss.auth(arg, f)
	}
	ss.reply("-ERR not authenticated")
	return false, nil
}

func (ss *session) auth(arg string, f Faults) error {
	mech, ir, hasIR := strings.Cut(arg, " ")
	if !strings.EqualFold(mech, "PLAIN") || f.NoSASL {
		ss.reply("-ERR unsupported mechanism")
		return nil
	}
	if !hasIR {
		ss.reply("+ ")
		if err := ss.bw.Flush(); err != nil {
			return err
		}
		line, err := ss.readLine()
		if err != nil {
			return err
		}
		ir = line
	}
	if ir == "*" {
		ss.reply("-ERR cancelled")
		return nil
	}
	resp, err := base64.StdEncoding.DecodeString(ir)
	if ir == "=" {
		resp, err = nil, nil
	}
	if err != nil {
		ss.reply("-ERR bad base64")
		return nil
	}
	var user, pass string
	srv := sasl.NewPlainServer(func(identity, username, password string) error {
		user, pass = username, password
		if identity != "" && identity != username {
			return errors.New("identity differs")
		}
		return nil
	})
	if _, _, err := srv.Next(resp); err != nil {
		ss.reply("-ERR [AUTH] bad response")
		return nil
	}
	ss.login(user, pass, f)
	return nil
}

func (ss *session) login(user, pass string, f Faults) {
	want, ok := ss.s.opts.Users[user]
	if !ok || want != pass {
		ss.reply("-ERR [AUTH] invalid user name or password")
		return
	}
	if f.InUse {
		ss.reply("-ERR [IN-USE] mailbox locked by another session")
		return
	}
	if f.LoginDelay {
		ss.reply("-ERR [LOGIN-DELAY] wait 900 seconds")
		return
	}
	ss.authed = true
	ss.msgs = ss.s.Mailbox.Messages()
	ss.s.mu.Lock()
	ss.s.logins++
	ss.s.mu.Unlock()
	ss.reply("+OK logged in, %d messages", len(ss.msgs))
}

// message returns message n of the snapshot, or answers -ERR.
func (ss *session) message(arg string) (int, *Message) {
	n, err := strconv.Atoi(strings.TrimSpace(arg))
	if err != nil || n < 1 || n > len(ss.msgs) {
		ss.reply("-ERR no such message")
		return 0, nil
	}
	if ss.deleted[n] {
		ss.reply("-ERR message %d already deleted", n)
		return 0, nil
	}
	m := ss.msgs[n-1]
	if !ss.s.Mailbox.Has(m) {
		ss.reply("-ERR message %d was removed by another session", n)
		return 0, nil
	}
	return n, m
}

func size(m *Message, f Faults) int64 {
	if f.LieSizes {
		return m.Size/2 + 3
	}
	return m.Size
}

func (ss *session) transaction(verb, arg string, f Faults) error {
	switch verb {
	case "STAT":
		var n int
		var total int64
		for i, m := range ss.msgs {
			if !ss.deleted[i+1] {
				n++
				total += size(m, f)
			}
		}
		ss.reply("+OK %d %d", n, total)
	case "LIST", "UIDL":
		if verb == "UIDL" && f.NoUIDL {
			ss.reply("-ERR unknown command")
			return nil
		}
		if verb == "UIDL" && f.UIDLTempFail {
			ss.reply("-ERR [SYS/TEMP] index busy, try again later")
			return nil
		}
		value := func(i int, m *Message) string {
			if verb == "LIST" {
				return strconv.FormatInt(size(m, f), 10)
			}
			if f.DuplicateUIDLs && i%2 == 1 {
				return ss.msgs[i-1].UIDL
			}
			return m.UIDL
		}
		if arg != "" {
			n, m := ss.message(arg)
			if m != nil {
				ss.reply("+OK %d %s", n, value(n-1, m))
			}
			return nil
		}
		ss.reply("+OK listing follows")
		if f.GarbageListings {
			ss.reply("this is not a listing line")
			ss.reply("0 zero")
			ss.reply("%d out-of-range", len(ss.msgs)+5)
			ss.reply("1 %s", strings.Repeat("x", 100000))
			ss.reply("")
		}
		for i, m := range ss.msgs {
			if !ss.deleted[i+1] {
				ss.reply("%d %s", i+1, value(i, m))
			}
		}
		if f.GarbageListings {
			ss.reply("1 repeated-number")
			ss.reply("..stuffed line")
		}
		ss.reply(".")
	case "RETR", "TOP":
		if verb == "TOP" && f.NoTOP {
			ss.reply("-ERR unknown command")
			return nil
		}
		numArg, linesArg, _ := strings.Cut(strings.TrimSpace(arg), " ")
		lines := -1
		if verb == "TOP" {
			l, err := strconv.Atoi(strings.TrimSpace(linesArg))
			if err != nil || l < 0 {
				ss.reply("-ERR bad line count")
				return nil
			}
			lines = l
		}
		_, m := ss.message(numArg)
		if m == nil {
			return nil
		}
		limit := int64(-1)
		if verb == "RETR" && f.BreakUIDL != "" && f.BreakUIDL == m.UIDL {
			limit = m.Size / 2
		}
		if verb == "RETR" && f.TrickleEvery > 0 {
			return ss.trickle(m, f.TrickleEvery)
		}
		if verb == "RETR" {
			ss.s.mu.Lock()
			if ss.s.faults.DropAfterBytes > 0 && ss.s.retrSeen == ss.s.faults.DropRetrSkip {
				limit = ss.s.faults.DropAfterBytes
				ss.s.faults.DropAfterBytes = 0
			}
			ss.s.retrSeen++
			ss.s.mu.Unlock()
		}
		ss.reply("+OK %d octets", size(m, f))
		if err := writeDotStuffed(ss.bw, m.Open(), lines, limit); err != nil {
			if errors.Is(err, errDrop) {
				ss.bw.Flush()
			}
			return err
		}
		if verb == "RETR" {
			ss.s.mu.Lock()
			ss.s.retrs[m.UIDL]++
			ss.s.mu.Unlock()
		}
	case "DELE":
		n, m := ss.message(arg)
		if m != nil {
			ss.deleted[n] = true
			ss.reply("+OK message %d deleted", n)
		}
	case "RSET":
		ss.deleted = map[int]bool{}
		ss.reply("+OK")
	default:
		ss.reply("-ERR unknown command")
	}
	return nil
}

// trickle answers RETR one byte at a time, every pause.
func (ss *session) trickle(m *Message, pause time.Duration) error {
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	fmt.Fprintf(w, "+OK %d octets\r\n", m.Size)
	if err := writeDotStuffed(w, m.Open(), -1, -1); err != nil {
		return err
	}
	w.Flush()
	if err := ss.bw.Flush(); err != nil {
		return err
	}
	for _, b := range buf.Bytes() {
		ss.deadline()
		if _, err := ss.conn.Write([]byte{b}); err != nil {
			return err
		}
		select {
		case <-time.After(pause):
		case <-ss.s.done:
			return errDrop
		}
	}
	return nil
}

// writeDotStuffed sends r dot-stuffed and terminated by ".\r\n". lines >= 0
// stops after the header and that many body lines (TOP). limit >= 0 cuts
// the body after limit bytes and returns errDrop. Line endings are sent as
// stored.
func writeDotStuffed(w *bufio.Writer, r io.Reader, lines int, limit int64) error {
	br := bufio.NewReaderSize(r, 32<<10)
	bol := true     // at the beginning of a line
	inBody := false // past the blank line ending the header
	bodyLines := 0  // body lines sent
	var sent int64
	last := byte('\n')
	for {
		if lines >= 0 && inBody && bodyLines >= lines && bol {
			break
		}
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 {
			if limit >= 0 && sent+int64(len(chunk)) > limit {
				w.Write(chunk[:limit-sent])
				return errDrop
			}
			if bol && chunk[0] == '.' {
				w.WriteByte('.')
			}
			w.Write(chunk)
			sent += int64(len(chunk))
			last = chunk[len(chunk)-1]
			if last == '\n' {
				empty := bol && (len(chunk) == 1 || len(chunk) == 2 && chunk[0] == '\r')
				if inBody {
					bodyLines++
				} else if empty {
					inBody = true
				}
				bol = true
			} else {
				bol = false
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	if last != '\n' {
		w.WriteString("\r\n")
	}
	_, err := w.WriteString(".\r\n")
	return err
}
