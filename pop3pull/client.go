package pop3pull

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/mailmirror/mailmirror/auth"
	"github.com/mailmirror/mailmirror/config"
)

// DefaultTimeout is the deadline of every read and write on the connection
// when DialOptions.Timeout is zero.
const DefaultTimeout = 60 * time.Second

// Limits on what the client accepts from a server.
const (
	maxStatusLine  = 4096 // a status line longer than this is cut
	maxListingLine = 1024 // a listing line (LIST, UIDL, CAPA) longer than this is skipped
	bufSize        = 64 << 10
)

// DialOptions says how to reach a POP3 server.
type DialOptions struct {
	// TLS is config.TLSImplicit (the default when empty), config.TLSStartTLS
	// or config.TLSNone.
	TLS string
	// TLSConfig is used for implicit TLS and STLS. Nil means a default
	// configuration that verifies the server certificate against the host
	// name of the address.
	TLSConfig *tls.Config
	// AllowPlaintextAuth lets Login send credentials over a connection
	// without TLS. Leave it false unless the configuration allowed it.
	AllowPlaintextAuth bool
	// Timeout bounds every read and write on the connection (an idle
	// deadline renewed for each one). Zero means DefaultTimeout.
	Timeout time.Duration
	// Dialer dials the TCP connection; nil means a net.Dialer.
	Dialer interface {
		DialContext(ctx context.Context, network, addr string) (net.Conn, error)
	}
}

// Client is one POP3 session. It is not safe for concurrent use, except for
// Abort, which may be called from any goroutine.
type Client struct {
	raw       net.Conn // TCP connection, with deadlines
	conn      net.Conn // raw, or TLS on top of it
	br        *bufio.Reader
	bw        *bufio.Writer
	timeout   time.Duration
	tls       bool
	plainAuth bool // AllowPlaintextAuth
	caps      Capabilities
	capsRead  bool
	greeting  string
	window    int   // commands in flight with PIPELINING; 0 = DefaultWindow
	err       error // sticky: the session is unusable
	closeOnce sync.Once
	oauth     *oauthLogin // set by DialAccount for auth = xoauth2/oauthbearer
}

// deadlineConn renews an idle deadline before every Read and Write.
type deadlineConn struct {
	net.Conn
	timeout time.Duration
}

func (d *deadlineConn) Read(p []byte) (int, error) {
	if err := d.Conn.SetReadDeadline(time.Now().Add(d.timeout)); err != nil {
		return 0, err
	}
	return d.Conn.Read(p)
}

func (d *deadlineConn) Write(p []byte) (int, error) {
	if err := d.Conn.SetWriteDeadline(time.Now().Add(d.timeout)); err != nil {
		return 0, err
	}
	return d.Conn.Write(p)
}

// DialAccount connects to the account's server with the TLS mode and
// certificate settings of its configuration. Plaintext credentials are
// allowed only when the account says tls = "none", which config validation
// accepts only for a loopback host or with allow_insecure; DialAccount
// checks that rule again.
func DialAccount(ctx context.Context, acct *config.Account, timeout time.Duration) (*Client, error) {
	c, err := dialAccount(ctx, acct, timeout)
	if err != nil {
		return nil, fmt.Errorf("pop3: account %q: %w", acct.Name, err)
	}
	return c, nil
}

// dialAccount is DialAccount with errors that do not name the account.
func dialAccount(ctx context.Context, acct *config.Account, timeout time.Duration) (*Client, error) {
	tlsConf, err := acct.TLSConfig()
	if err != nil {
		return nil, err
	}
	opts := DialOptions{TLS: acct.TLS, TLSConfig: tlsConf, Timeout: timeout}
	if acct.TLS == config.TLSNone {
		if !acct.AllowInsecure && !isLoopback(acct.Host) {
			return nil, fmt.Errorf("tls = \"none\" to %s without allow_insecure: %w", acct.Host, ErrInsecure)
		}
		opts.AllowPlaintextAuth = true
	}
	c, err := Dial(ctx, acct.Address(), opts)
	if err != nil {
		return nil, err
	}
	if mech := auth.MechanismOf(acct.Auth); mech != "" {
		c.oauth = &oauthLogin{ctx: ctx, acct: acct, mech: mech}
	}
	return c, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// Dial connects to addr ("host:port"), reads the greeting and, for
// TLSStartTLS, reads CAPA and upgrades the connection with STLS (it fails
// with ErrNoSTLS when the server does not offer it). ctx bounds the dial,
// the TLS handshake and the greeting; use Abort to interrupt a session later.
func Dial(ctx context.Context, addr string, opts DialOptions) (*Client, error) {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	mode := opts.TLS
	if mode == "" {
		mode = config.TLSImplicit
	}
	switch mode {
	case config.TLSImplicit, config.TLSStartTLS, config.TLSNone:
	default:
		return nil, fmt.Errorf("pop3: unknown TLS mode %q", mode)
	}
	var d interface {
		DialContext(ctx context.Context, network, addr string) (net.Conn, error)
	} = opts.Dialer
	if d == nil {
		d = &net.Dialer{Timeout: timeout}
	}
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pop3: dial %s: %w", addr, err)
	}
	c := &Client{
		raw:       &deadlineConn{Conn: raw, timeout: timeout},
		timeout:   timeout,
		plainAuth: opts.AllowPlaintextAuth,
	}
	c.conn = c.raw
	stop := context.AfterFunc(ctx, func() { raw.Close() })
	defer stop()
	fail := func(err error) (*Client, error) {
		raw.Close()
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return nil, err
	}
	if mode == config.TLSImplicit {
		if err := c.startTLS(ctx, addr, opts.TLSConfig); err != nil {
			return fail(err)
		}
	} else {
		c.setConn(c.raw)
	}
	line, err := c.readStatus("greeting")
	if err != nil {
		return fail(err)
	}
	c.greeting = line
	if mode == config.TLSStartTLS {
		caps, err := c.Capabilities()
		if err != nil && !isServerError(err) {
			return fail(err)
		}
		if _, ok := caps["STLS"]; !ok {
			return fail(fmt.Errorf("pop3: %s: %w", addr, ErrNoSTLS))
		}
		if _, err := c.cmd("STLS", "STLS"); err != nil {
			return fail(err)
		}
		if c.br.Buffered() > 0 {
			// Bytes after +OK before the handshake: a man in the middle
			// trying to inject responses (CVE-2011-0411 style).
			return fail(fmt.Errorf("pop3: STLS: %w: data after +OK", ErrProtocol))
		}
		if err := c.startTLS(ctx, addr, opts.TLSConfig); err != nil {
			return fail(err)
		}
		c.caps, c.capsRead = nil, false // RFC 2595: forget what was said in clear
	}
	return c, nil
}

// startTLS runs a TLS handshake on the raw connection.
func (c *Client) startTLS(ctx context.Context, addr string, conf *tls.Config) error {
	if conf == nil {
		conf = &tls.Config{}
	} else {
		conf = conf.Clone()
	}
	if conf.ServerName == "" && !conf.InsecureSkipVerify {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		conf.ServerName = host
	}
	tc := tls.Client(c.raw, conf)
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("pop3: TLS handshake with %s: %w", addr, err)
	}
	c.tls = true
	c.setConn(tc)
	return nil
}

func (c *Client) setConn(conn net.Conn) {
	c.conn = conn
	c.br = bufio.NewReaderSize(conn, bufSize)
	c.bw = bufio.NewWriterSize(conn, 4096)
}

// isCertError reports whether err is a certificate verification failure.
func isCertError(err error) bool {
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ci x509.CertificateInvalidError
	return errors.As(err, &cv) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci)
}

func isServerError(err error) bool {
	var se *ServerError
	return errors.As(err, &se)
}

// Greeting returns the server's greeting line, after "+OK ".
func (c *Client) Greeting() string { return c.greeting }

// TLS reports whether the session is encrypted.
func (c *Client) TLS() bool { return c.tls }

// Abort closes the connection at once, without QUIT: the server keeps every
// message (DELE takes effect only at QUIT). Safe to call from any goroutine,
// for example from context.AfterFunc.
func (c *Client) Abort() {
	c.closeOnce.Do(func() { c.raw.Close() })
}

// Close is Abort, for io.Closer.
func (c *Client) Close() error {
	c.Abort()
	return nil
}

// broken marks the session unusable and closes it.
func (c *Client) broken(err error) error {
	if c.err == nil {
		c.err = err
	}
	c.Abort()
	return err
}

// send writes one command line. verb names the command in errors; the line
// itself never appears in an error.
func (c *Client) send(verb, line string) error {
	if c.err != nil {
		return fmt.Errorf("pop3: %s: %w", verb, ErrClosed)
	}
	if strings.ContainsAny(line, "\r\n") {
		return fmt.Errorf("pop3: %s: %w: line break in argument", verb, ErrProtocol)
	}
	c.bw.WriteString(line)
	c.bw.WriteString("\r\n")
	return nil
}

// flush sends what send buffered.
func (c *Client) flush(verb string) error {
	if err := c.bw.Flush(); err != nil {
		return c.broken(fmt.Errorf("pop3: %s: %w", verb, err))
	}
	return nil
}

// cmd sends one command and reads its status line; it returns the text
// after "+OK" or a *ServerError.
func (c *Client) cmd(verb, line string) (string, error) {
	if err := c.send(verb, line); err != nil {
		return "", err
	}
	if err := c.flush(verb); err != nil {
		return "", err
	}
	return c.readStatus(verb)
}

// readLine reads one line and returns it without its line ending. A line
// longer than max is consumed whole and returned cut at max, with long set.
func (c *Client) readLine(max int) (line []byte, long bool, err error) {
	var buf []byte
	for {
		chunk, err := c.br.ReadSlice('\n')
		if len(buf) < max {
			room := max - len(buf)
			if len(chunk) > room {
				buf = append(buf, chunk[:room]...)
				long = true
			} else {
				buf = append(buf, chunk...)
			}
		} else if len(chunk) > 0 {
			long = true
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, false, err
		}
		break
	}
	if long {
		return buf, true, nil
	}
	buf = bytes.TrimSuffix(buf, []byte("\n"))
	buf = bytes.TrimSuffix(buf, []byte("\r"))
	return buf, false, nil
}

// readStatus reads a status line. +OK gives the rest of the line, -ERR a
// *ServerError; anything else breaks the session.
func (c *Client) readStatus(verb string) (string, error) {
	if c.err != nil {
		return "", fmt.Errorf("pop3: %s: %w", verb, ErrClosed)
	}
	line, _, err := c.readLine(maxStatusLine)
	if err != nil {
		return "", c.broken(fmt.Errorf("pop3: %s: %w", verb, err))
	}
	line = bytes.TrimRight(line, "\r\n")
	switch {
	case hasPrefixFold(line, "+OK"):
		return strings.TrimSpace(string(line[3:])), nil
	case hasPrefixFold(line, "-ERR"):
		return "", newServerError(verb, string(line[4:]))
	}
	return "", c.broken(fmt.Errorf("pop3: %s: %w: unexpected response %q", verb, ErrProtocol,
		cleanText(string(line), 60)))
}

func hasPrefixFold(b []byte, prefix string) bool {
	return len(b) >= len(prefix) && strings.EqualFold(string(b[:len(prefix)]), prefix)
}

// readListing reads the lines of a multi-line response up to the final ".",
// removing dot-stuffing, and calls fn for each. Lines longer than
// maxListingLine are skipped (counted in the returned number).
func (c *Client) readListing(verb string, fn func(line []byte)) (skipped int, err error) {
	for {
		line, long, err := c.readLine(maxListingLine)
		if err != nil {
			return skipped, c.broken(fmt.Errorf("pop3: %s: %w", verb, err))
		}
		if long {
			skipped++
			continue
		}
		if len(line) > 0 && line[0] == '.' {
			if len(line) == 1 {
				return skipped, nil
			}
			line = line[1:]
		}
		fn(line)
	}
}

// Capabilities maps each CAPA capability name (upper case) to its
// arguments.
type Capabilities map[string][]string

// Has reports whether the server advertised name.
func (caps Capabilities) Has(name string) bool {
	_, ok := caps[strings.ToUpper(name)]
	return ok
}

// Capabilities sends CAPA once per session (again after STLS) and returns
// the result. A server without CAPA gives an empty map and the -ERR.
func (c *Client) Capabilities() (Capabilities, error) {
	if c.capsRead {
		return c.caps, nil
	}
	caps := Capabilities{}
	if _, err := c.cmd("CAPA", "CAPA"); err != nil {
		if isServerError(err) {
			c.caps, c.capsRead = caps, true
		}
		return caps, err
	}
	if _, err := c.readListing("CAPA", func(line []byte) {
		f := strings.Fields(string(line))
		if len(f) == 0 {
			return
		}
		caps[strings.ToUpper(f[0])] = f[1:]
	}); err != nil {
		return caps, err
	}
	c.caps, c.capsRead = caps, true
	return caps, nil
}

// Quit ends the session with QUIT: the server then removes the messages
// marked with DELE. An error means the deletions may not have happened.
func (c *Client) Quit() error {
	_, err := c.cmd("QUIT", "QUIT")
	c.err = ErrClosed
	c.Abort()
	return err
}

// Noop sends NOOP.
func (c *Client) Noop() error {
	_, err := c.cmd("NOOP", "NOOP")
	return err
}
