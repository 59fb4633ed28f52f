package pop3pull

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-sasl"

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
func (c *Client) Login(username string, password config.Secret) error {
	if err := c.checkCredentialsAllowed(); err != nil {
		return err
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
