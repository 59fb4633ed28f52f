package fakegmail

import (
	"bufio"
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-message/textproto"
)

// Server is a running fake Gmail: one account (User, Password) on a
// loopback port (Addr), its mail in Store.
type Server struct {
	Addr     string
	User     string
	Password string
	Store    *Store
	srv      *imapserver.Server
	ln       net.Listener
}

// Caps are the capabilities go-imap's server offers for the fake; CONDSTORE
// is added at the connection (condstore.go). Gmail's X-GM-EXT-1 and
// COMPRESS are not offered.
var Caps = imap.CapSet{
	imap.CapIMAP4rev1:   {},
	imap.CapUIDPlus:     {},
	imap.CapMove:        {},
	imap.CapListStatus:  {},
	imap.CapESearch:     {},
	imap.CapNamespace:   {},
	imap.CapSpecialUse:  {},
	imap.CapChildren:    {},
	imap.CapLiteralPlus: {},
}

// Start starts a fake Gmail on 127.0.0.1 for the test and stops it when
// the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Listen starts a fake Gmail on addr with the account alice / secret.
func Listen(addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{Addr: ln.Addr().String(), User: "alice", Password: "secret", Store: newStore(), ln: ln}
	s.srv = imapserver.New(&imapserver.Options{
		NewSession: func(conn *imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			ss := &session{srv: s, s: s.Store}
			if cs, ok := conn.NetConn().(*csConn); ok {
				cs.mu.Lock()
				cs.sess = ss
				cs.mu.Unlock()
			}
			return ss, nil, nil
		},
		Caps:         Caps,
		InsecureAuth: true,
		Logger:       quiet{},
	})
	go s.srv.Serve(csListener{ln})
	return s, nil
}

// Close stops the server and ends its connections.
func (s *Server) Close() error { return s.srv.Close() }

type quiet struct{}

func (quiet) Printf(string, ...any) {}

var timeZero time.Time

// header parses a raw message's header (empty when it cannot).
func header(raw []byte) textproto.Header {
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return textproto.Header{}
	}
	return h
}
