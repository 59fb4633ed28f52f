package imapconn

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"

	"github.com/mailmirror/mailmirror/auth"
	"github.com/mailmirror/mailmirror/config"
)

// ErrAuth wraps a login the server refused. It is permanent: retrying with
// the same credentials will not help.
var ErrAuth = errors.New("authentication failed")

// ErrNoStartTLS is returned when tls = "starttls" and the server does not
// offer STARTTLS: no credentials are sent.
var ErrNoStartTLS = errors.New("server does not offer STARTTLS")

// Counters counts the bytes connections received from and sent to the
// server, as TCP payload: with TLS the records' overhead and the
// handshake are included. Safe for concurrent use.
type Counters struct {
	In, Out atomic.Int64
	Dials   atomic.Int64 // connections that reached the server
	// PlainIn and PlainOut count the IMAP stream itself, as go-imap
	// read and wrote it: on a compressed connection (COMPRESS=DEFLATE)
	// In and Out are smaller.
	PlainIn, PlainOut atomic.Int64
	Compressed        atomic.Int64 // connections that turned COMPRESS=DEFLATE on
}

// DialOptions tune a connection.
type DialOptions struct {
	// Password is the secret used to log in.
	Password config.Secret
	// OAuth supplies the access tokens of an account with auth =
	// "xoauth2" or "oauthbearer"; nil means auth.ForAccount(acct), the
	// Source the whole process shares for that account.
	OAuth auth.Source
	// Timeout is how long a command may wait for the server's next bytes
	// before the connection is closed; 0 means 2 minutes.
	Timeout time.Duration
	// DebugWriter receives the raw protocol trace, passwords masked.
	DebugWriter io.Writer
	// Counters, when set, accumulates bytes in and out.
	Counters *Counters
	// Handler receives unilateral data (IDLE pushes).
	Handler *imapclient.UnilateralDataHandler
	// Link is shared by the account's connections (quirks learnt, link
	// health); nil means one of this connection's own. Pool sets it.
	Link *Link
}

// Conn is a logged-in IMAP connection.
type Conn struct {
	*imapclient.Client
	raw       *deadlineConn
	wire      *wireConn
	link      *Link
	stopCtx   func() bool // ends Pool.Get's close-on-cancel
	selected  string
	lastUsed  time.Time
	sel       *imap.SelectData
	condstore bool
	readOnly  bool // the selection is an EXAMINE
}

// Selected is the mailbox Select last selected on c, "" when none (or
// after ClearSelected).
func (c *Conn) Selected() string { return c.selected }

// CondStore reports whether the last Select asked for CONDSTORE (the
// server offers it): its SelectData then carries HIGHESTMODSEQ.
func (c *Conn) CondStore() bool { return c.condstore }

// ClearSelected forgets the selected mailbox, after the caller left it
// (UNSELECT, CLOSE): the next Select sends a SELECT.
func (c *Conn) ClearSelected() { c.selected, c.sel, c.readOnly = "", nil, false }

// SetTimeout changes the idle read timeout (IDLE uses a longer one).
func (c *Conn) SetTimeout(d time.Duration) { c.raw.timeout.Store(int64(d)) }

// Dial connects to the account's server with its TLS mode, logs in and
// returns the connection. The password never appears in errors or traces.
// With OAuth, a token the server refuses is replaced by a fresh one and
// the login tried once more on a new connection.
func Dial(ctx context.Context, acct *config.Account, opts DialOptions) (*Conn, error) {
	c, err := dial(ctx, acct, opts)
	if errors.Is(err, auth.ErrRejected) && ctx.Err() == nil {
		c, err = dial(ctx, acct, opts)
		if err != nil && errors.Is(err, auth.ErrRejected) {
			err = fmt.Errorf("%w (also with a new access token)", err)
		}
	}
	return c, err
}

// dial is one attempt of Dial.
func dial(ctx context.Context, acct *config.Account, opts DialOptions) (*Conn, error) {
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	link := opts.Link
	if link == nil {
		link = NewLink()
	}
	d := net.Dialer{Timeout: 30 * time.Second}
	nc, err := d.DialContext(ctx, "tcp", acct.Address())
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", acct.Address(), err)
	}
	dc := &deadlineConn{Conn: nc, counters: opts.Counters, link: link}
	if opts.Counters != nil {
		opts.Counters.Dials.Add(1)
	}
	dc.timeout.Store(int64(timeout))
	dc.progress()
	iopts := &imapclient.Options{UnilateralDataHandler: opts.Handler}
	var mw *maskWriter
	if opts.DebugWriter != nil {
		mw = newMaskWriter(opts.DebugWriter, acct.Username, opts.Password.Reveal())
		iopts.DebugWriter = mw
	}
	// Close the socket if ctx ends while we are still setting up.
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()

	conn, err := secure(ctx, dc, acct)
	if err != nil {
		nc.Close()
		return nil, err
	}
	wc := newWireConn(conn, link)
	wc.counters = opts.Counters
	if acct.TLS == config.TLSStartTLS {
		// We read the server's greeting before STARTTLS: go-imap gets
		// one of ours.
		wc.inject([]byte("* OK TLS established\r\n"))
	}
	c := imapclient.New(wc, iopts)
	if err := c.WaitGreeting(); err != nil {
		c.Close()
		return nil, fmt.Errorf("greeting from %s: %w", acct.Address(), err)
	}
	if err := login(ctx, c, acct, opts, mw); err != nil {
		c.Close()
		return nil, err
	}
	if err := compress(c, wc, acct, link, timeout, iopts.DebugWriter); err != nil {
		c.Close()
		return nil, fmt.Errorf("%s: %w", acct.Address(), err)
	}
	if ctx.Err() == nil && wc.compressed() && opts.Counters != nil {
		opts.Counters.Compressed.Add(1)
	}
	if ctx.Err() != nil {
		c.Close()
		return nil, ctx.Err()
	}
	return &Conn{Client: c, raw: dc, wire: wc, link: link}, nil
}

// newMaskWriter masks the password in every form it goes over the wire.
func newMaskWriter(w io.Writer, user, pw string) *maskWriter {
	plain := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pw))
	// LOGIN sends a password holding " or \ as a quoted string
	// with escapes: mask that form too (longest forms first).
	quoted := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(pw)
	return &maskWriter{w: w, secrets: [][]byte{[]byte(plain), []byte(quoted), []byte(pw)}}
}

// secure returns the connection go-imap is to speak over: TLS for
// implicit TLS, TLS after our own STARTTLS exchange, or dc itself for
// tls = "none".
func secure(ctx context.Context, dc *deadlineConn, acct *config.Account) (net.Conn, error) {
	if acct.TLS == config.TLSNone {
		return dc, nil
	}
	conf, err := acct.TLSConfig()
	if err != nil {
		return nil, err
	}
	if acct.TLS == config.TLSStartTLS {
		if err := startTLS(dc, acct.Address()); err != nil {
			return nil, err
		}
	}
	tc := tls.Client(dc, conf)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("TLS handshake with %s: %w", acct.Address(), err)
	}
	return tc, nil
}

// login signs in with the account's auth: a password (LOGIN, or
// AUTHENTICATE PLAIN when LOGIN is disabled), or an OAuth access token
// (AUTHENTICATE XOAUTH2 or OAUTHBEARER). A refused login wraps ErrAuth,
// and for OAuth auth.ErrRejected too; the connection must then be closed.
func login(ctx context.Context, c *imapclient.Client, acct *config.Account, opts DialOptions, mw *maskWriter) error {
	user, pass := acct.Username, opts.Password.Reveal()
	if mech := auth.MechanismOf(acct.Auth); mech != "" {
		return loginOAuth(ctx, c, acct, mech, opts.OAuth, mw)
	}
	caps := c.Caps()
	var err error
	if caps.Has(imap.CapLoginDisabled) && caps.Has(imap.AuthCap(sasl.Plain)) {
		err = c.Authenticate(sasl.NewPlainClient("", user, pass))
	} else {
		err = c.Login(user, pass).Wait()
	}
	if err != nil {
		var ie *imap.Error
		if errors.As(err, &ie) && ie.Type == imap.StatusResponseTypeNo {
			return fmt.Errorf("login as %q: %w: the server said %q", user, ErrAuth, ie.Text)
		}
		return fmt.Errorf("login as %q: %s", user, strings.ReplaceAll(err.Error(), pass, "***"))
	}
	return nil
}

// loginOAuth signs in with AUTHENTICATE XOAUTH2 or OAUTHBEARER and a token
// from src (nil: auth.ForAccount). A token the server refuses is rejected
// in src, so that the next attempt gets a fresh one.
func loginOAuth(ctx context.Context, c *imapclient.Client, acct *config.Account, mech string, src auth.Source, mw *maskWriter) error {
	user := acct.Username
	if !c.Caps().Has(imap.AuthCap(mech)) {
		return fmt.Errorf("login as %q: %w: the server does not offer AUTHENTICATE %s (auth = %q)", user, ErrAuth, mech, acct.Auth)
	}
	if src == nil {
		var err error
		if src, err = auth.ForAccount(acct); err != nil {
			return fmt.Errorf("login as %q: %w", user, err)
		}
	}
	err := auth.Login(ctx, src, mech, user, acct.Host, acct.Port, func(a *auth.Attempt) error {
		mw.add(a.Masks...)
		err := c.Authenticate(a.Client)
		var ie *imap.Error
		if errors.As(err, &ie) && (ie.Type == imap.StatusResponseTypeNo || ie.Type == imap.StatusResponseTypeBad) {
			return fmt.Errorf("%w: the server said %q", auth.ErrRejected, ie.Text)
		}
		return err
	})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, auth.ErrRejected) || auth.IsPermanent(err):
		return fmt.Errorf("login as %q: %w: %w", user, ErrAuth, err)
	default:
		return fmt.Errorf("login as %q: %w", user, err)
	}
}

// Select selects a mailbox unless it is selected already; CONDSTORE is
// asked for when the server has it. A mailbox Examine selected read-only
// is selected again, writable.
func (c *Conn) Select(name string) (*imap.SelectData, error) {
	if c.selected == name && c.sel != nil && !c.readOnly {
		return c.sel, nil
	}
	return c.open(name, false)
}

// Reselect forces a fresh SELECT (to read current counters).
func (c *Conn) Reselect(name string) (*imap.SelectData, error) {
	c.ClearSelected()
	return c.Select(name)
}

// Readable selects a mailbox for reading only: one selected already
// (writable or not) stays selected, another is opened with EXAMINE.
func (c *Conn) Readable(name string) (*imap.SelectData, error) {
	if c.selected == name && c.sel != nil {
		return c.sel, nil
	}
	return c.open(name, true)
}

// Reexamine forces a fresh EXAMINE (current counters, read-only). A
// read-only session leaves the server's state alone: on a Maildir server
// such as Dovecot, a writable SELECT takes the new messages' \Recent flag
// and moves their files from new/ to cur/, and then lists all of cur/
// again, which costs time in proportion to the folder's size.
func (c *Conn) Reexamine(name string) (*imap.SelectData, error) {
	c.ClearSelected()
	return c.open(name, true)
}

// ReadOnly reports whether the selected mailbox was opened with EXAMINE.
func (c *Conn) ReadOnly() bool { return c.readOnly }

func (c *Conn) open(name string, readOnly bool) (*imap.SelectData, error) {
	c.condstore = c.Caps().Has(imap.CapCondStore)
	data, err := c.Client.Select(name, &imap.SelectOptions{CondStore: c.condstore, ReadOnly: readOnly}).Wait()
	if err != nil {
		c.ClearSelected()
		what := "select"
		if readOnly {
			what = "examine"
		}
		return nil, fmt.Errorf("%s %q: %w", what, name, err)
	}
	c.selected, c.sel, c.readOnly = name, data, readOnly
	return data, nil
}

// maskWriter replaces the secret in a protocol trace by "***".
type maskWriter struct {
	mu      sync.Mutex
	w       io.Writer
	secrets [][]byte
}

// add masks more secrets; a nil maskWriter ignores them.
func (m *maskWriter) add(secrets ...[]byte) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.secrets = append(m.secrets, secrets...)
}

func (m *maskWriter) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	q := p
	for _, s := range m.secrets {
		if len(s) > 0 && bytes.Contains(q, s) {
			q = bytes.ReplaceAll(q, s, []byte("***"))
		}
	}
	if _, err := m.w.Write(q); err != nil {
		return 0, err
	}
	return len(p), nil
}
