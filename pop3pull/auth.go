package pop3pull

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-sasl"

	"github.com/mailmirror/mailmirror/auth"
	"github.com/mailmirror/mailmirror/config"
)

// maxAuthLine is the longest AUTH command that carries its initial response
// on the same line (RFC 5034 section 4).
const maxAuthLine = 255

// checkCredentialsAllowed refuses to send credentials in the clear unless
// DialOptions.AllowPlaintextAuth said so.
func (c *Client) checkCredentialsAllowed() error {
	if !c.tls && !c.plainAuth {
		return ErrInsecure
	}
	return nil
}

// Login authenticates with AUTH PLAIN when the server lists PLAIN in its
// SASL capability, else with USER and PASS. Failures wrap ErrAuth, ErrInUse
// or ErrLoginDelay when the server said so; a plain -ERR to the password is
// reported as ErrAuth. The password never appears in an error.
//
// A Client from DialAccount for an account with auth = "xoauth2" or
// "oauthbearer" ignores password and authenticates with AUTH XOAUTH2 or
// OAUTHBEARER and an access token from auth.ForAccount; when the server
// refuses the token it tries once more with a fresh one.
func (c *Client) Login(username string, password config.Secret) error {
	if err := c.checkCredentialsAllowed(); err != nil {
		return err
	}
	if c.oauth != nil {
		return c.loginOAuth(username)
	}
	caps, err := c.Capabilities()
	if err != nil && !isServerError(err) {
		return err
	}
	for _, m := range caps["SASL"] {
		if strings.EqualFold(m, sasl.Plain) {
			return c.AuthPlain(username, password)
		}
	}
	return c.UserPass(username, password)
}

// oauthLogin is what an OAuth login needs: the account and the context of
// DialAccount, which bounds getting a token.
type oauthLogin struct {
	ctx  context.Context
	acct *config.Account
	mech string
}

// loginOAuth authenticates with AUTH XOAUTH2 or OAUTHBEARER. A token the
// server refuses is rejected in its Source and the exchange tried once
// more with a fresh one on the same connection (a failure challenge is
// cancelled with "*", which leaves the session usable).
func (c *Client) loginOAuth(username string) error {
	o := c.oauth
	caps, err := c.Capabilities()
	if err != nil && !isServerError(err) {
		return err
	}
	offered := false
	for _, m := range caps["SASL"] {
		offered = offered || strings.EqualFold(m, o.mech)
	}
	if !offered {
		return fmt.Errorf("%w: the server does not offer AUTH %s (auth = %q)", ErrAuth, o.mech, o.acct.Auth)
	}
	src, err := auth.ForAccount(o.acct)
	if err != nil {
		return fmt.Errorf("pop3: %w", err)
	}
	tries := 0
	for {
		tries++
		err = auth.Login(o.ctx, src, o.mech, username, o.acct.Host, o.acct.Port, func(a *auth.Attempt) error {
			err := c.authenticate(a.Client)
			if errors.Is(err, ErrAuth) {
				return fmt.Errorf("%w: %w", auth.ErrRejected, err)
			}
			return err
		})
		if err == nil || !errors.Is(err, auth.ErrRejected) || c.err != nil || tries == 2 {
			break
		}
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, auth.ErrRejected) && tries == 2:
		return fmt.Errorf("%w: %w (also with a new access token)", ErrAuth, err)
	case errors.Is(err, auth.ErrRejected):
		return fmt.Errorf("%w: %w", ErrAuth, err)
	case auth.IsPermanent(err):
		return fmt.Errorf("%w: %w", ErrAuth, err)
	default:
		return fmt.Errorf("pop3: %w", err)
	}
}

// UserPass authenticates with USER and PASS.
func (c *Client) UserPass(username string, password config.Secret) error {
	if err := c.checkCredentialsAllowed(); err != nil {
		return err
	}
	if strings.ContainsAny(username, "\r\n\x00") || strings.ContainsAny(password.Reveal(), "\r\n\x00") {
		return fmt.Errorf("pop3: USER/PASS: %w: line break or NUL in credentials", ErrAuth)
	}
	if _, err := c.cmd("USER", "USER "+username); err != nil {
		return authError(err)
	}
	if _, err := c.cmd("PASS", "PASS "+password.Reveal()); err != nil {
		return authError(err)
	}
	return nil
}

// AuthPlain authenticates with AUTH PLAIN (RFC 5034, RFC 4616) through
// go-sasl.
func (c *Client) AuthPlain(username string, password config.Secret) error {
	if err := c.checkCredentialsAllowed(); err != nil {
		return err
	}
	return c.authenticate(sasl.NewPlainClient("", username, password.Reveal()))
}

// authenticate runs a SASL exchange.
func (c *Client) authenticate(client sasl.Client) error {
	mech, ir, err := client.Start()
	if err != nil {
		return fmt.Errorf("pop3: AUTH: %w", err)
	}
	line := "AUTH " + mech
	if ir != nil {
		enc := "="
		if len(ir) > 0 {
			enc = base64.StdEncoding.EncodeToString(ir)
		}
		if len(line)+1+len(enc)+2 <= maxAuthLine {
			line += " " + enc
			ir = nil
		}
	}
	if err := c.send("AUTH", line); err != nil {
		return err
	}
	if err := c.flush("AUTH"); err != nil {
		return err
	}
	for {
		l, _, err := c.readLine(maxStatusLine)
		if err != nil {
			return c.broken(fmt.Errorf("pop3: AUTH: %w", err))
		}
		switch {
		case hasPrefixFold(l, "+OK"):
			return nil
		case hasPrefixFold(l, "-ERR"):
			return authError(newServerError("AUTH", string(l[4:])))
		case len(l) >= 1 && l[0] == '+':
			var resp []byte
			if ir != nil {
				resp, ir = ir, nil
			} else {
				chal, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(string(l[1:])))
				if derr != nil {
					c.send("AUTH", "*")
					c.flush("AUTH")
					c.readStatus("AUTH")
					return fmt.Errorf("pop3: AUTH: %w: bad challenge", ErrProtocol)
				}
				resp, err = client.Next(chal)
				if err != nil {
					c.send("AUTH", "*")
					c.flush("AUTH")
					c.readStatus("AUTH")
					return fmt.Errorf("pop3: AUTH: %w", err)
				}
			}
			enc := base64.StdEncoding.EncodeToString(resp)
			if err := c.send("AUTH", enc); err != nil {
				return err
			}
			if err := c.flush("AUTH"); err != nil {
				return err
			}
		default:
			return c.broken(fmt.Errorf("pop3: AUTH: %w: unexpected response", ErrProtocol))
		}
	}
}

// authError makes a plain -ERR answer to USER, PASS or AUTH wrap ErrAuth,
// and keeps IN-USE and LOGIN-DELAY as they are.
func authError(err error) error {
	var se *ServerError
	if !errors.As(err, &se) {
		return err
	}
	if se.Unwrap() != nil {
		return err
	}
	if strings.EqualFold(se.Code, "SYS/TEMP") {
		return err
	}
	return fmt.Errorf("%w: %w", ErrAuth, err)
}
