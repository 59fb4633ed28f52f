package cli

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/mailmirror/mailmirror/auth"
	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/imapconn"
	"github.com/mailmirror/mailmirror/pop3pull"
)

// signInTimeout bounds one account's sign-in in check.
const signInTimeout = 30 * time.Second

// signIn connects to the account's server as the daemon would, signs in
// and logs out. The error says what failed; hint (may be "") what to
// change in the config.
func signIn(ctx context.Context, a *config.Account) (hint string, err error) {
	ctx, cancel := context.WithTimeout(ctx, signInTimeout)
	defer cancel()
	var pw config.Secret
	if auth.MechanismOf(a.Auth) == "" {
		if pw, err = a.ResolvePassword(ctx); err != nil {
			return "", err
		}
	}
	if a.Protocol == config.ProtocolPOP3 {
		err = signInPOP3(ctx, a, pw)
	} else {
		err = signInIMAP(ctx, a, pw)
	}
	if err != nil {
		// The sign-in may have used up its time (a server waiting for a
		// TLS hello never greets): the probe has its own deadlines.
		hint = diagnose(context.WithoutCancel(ctx), a, err)
	}
	return hint, err
}

func signInIMAP(ctx context.Context, a *config.Account, pw config.Secret) error {
	c, err := imapconn.Dial(ctx, a, imapconn.DialOptions{Password: pw, Timeout: signInTimeout})
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Logout().Wait()
}

func signInPOP3(ctx context.Context, a *config.Account, pw config.Secret) error {
	c, err := pop3pull.DialAccount(ctx, a, signInTimeout)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Login(a.Username, pw); err != nil {
		return err
	}
	return c.Quit()
}

// diagnose looks at what the server's port says when the sign-in failed
// before the login (or at the login): a greeting of the other protocol,
// plain text where TLS was expected, TLS where plain text was, nothing
// listening. It returns a hint, or "".
func diagnose(ctx context.Context, a *config.Account, err error) string {
	if errors.Is(err, imapconn.ErrAuth) || errors.Is(err, pop3pull.ErrAuth) {
		return "the server refused the username or password"
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return fmt.Sprintf("nothing accepts connections on %s: check host and port", a.Address())
	}
	greeting, tlsAnswer := probe(ctx, a.Address())
	imapPort, popPort := "993 (or 143 with tls = \"starttls\")", "995 (or 110 with tls = \"starttls\")"
	switch {
	case a.Protocol == config.ProtocolIMAP && strings.HasPrefix(greeting, "+OK"):
		return fmt.Sprintf("port %d answers with a POP3 greeting (%q): that is a POP3 port; IMAP is usually on port %s", a.Port, clip(greeting), imapPort)
	case a.Protocol == config.ProtocolPOP3 && strings.HasPrefix(greeting, "* "):
		return fmt.Sprintf("port %d answers with an IMAP greeting (%q): that is an IMAP port; POP3 is usually on port %s", a.Port, clip(greeting), popPort)
	case greeting != "" && a.TLS == config.TLSImplicit:
		std := "993"
		if a.Protocol == config.ProtocolPOP3 {
			std = "995"
		}
		return fmt.Sprintf("port %d speaks plain text (%q), not TLS: use tls = \"starttls\" or port %s", a.Port, clip(greeting), std)
	case greeting == "" && tlsAnswer && a.TLS != config.TLSImplicit:
		return fmt.Sprintf("port %d expects TLS from the first byte: use tls = \"implicit\" (the default)", a.Port)
	}
	return ""
}

// probe connects to addr in plain text and reads the first line the
// server sends within a second (a greeting), else tries a TLS handshake
// and reports whether the server answered it.
func probe(ctx context.Context, addr string) (greeting string, tlsAnswer bool) {
	d := net.Dialer{Timeout: 5 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", false
	}
	c.SetDeadline(time.Now().Add(time.Second))
	line, _ := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if line = strings.TrimSpace(line); line != "" {
		return line, false
	}
	c, err = d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true}) // only asks whether TLS is spoken; nothing is sent over it
	err = tc.Handshake()
	return "", err == nil || isTLSAlert(err)
}

// isTLSAlert reports whether err is the server's TLS alert: it speaks TLS.
func isTLSAlert(err error) bool {
	var ae tls.AlertError
	return errors.As(err, &ae) || strings.Contains(err.Error(), "tls: ")
}

// clip shortens a greeting for a message.
func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// accountError renders err for the account called name without the
// account prefixes the packages add ("pop3: account \"alice\": "), so
// that a line names the account once.
func accountError(name string, err error) string {
	msg := err.Error()
	q := fmt.Sprintf("%q", name)
	for _, p := range []string{"pop3: account " + q + ": ", "account " + q + ": ", name + ": "} {
		for strings.HasPrefix(msg, p) {
			msg = strings.TrimPrefix(msg, p)
		}
		msg = strings.ReplaceAll(msg, ": "+p, ": ")
	}
	return fmt.Sprintf("account %q: %s", name, msg)
}
