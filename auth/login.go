package auth

import (
	"context"
	"errors"
	"fmt"
)

// ErrRejected is what the exchange function given to Login wraps when the
// server refused the credentials and the connection is still usable for
// another attempt.
var ErrRejected = errors.New("the server refused the access token")

// Login signs in on one connection with mechanism mech (XOAuth2 or
// OAuthBearer) as username. It gets a token from src and calls exchange
// with an Attempt, whose Client exchange must authenticate with. When
// exchange returns an error wrapping ErrRejected, Login tells src, gets a
// fresh token and tries once more. Other errors are returned as they are:
// the caller should then drop the connection. host and port go into
// OAUTHBEARER's initial response.
func Login(ctx context.Context, src Source, mech, username, host string, port int, exchange func(*Attempt) error) error {
	var lastErr error
	var status string
	for try := 0; try < 2; try++ {
		tok, err := src.Token(ctx)
		if err != nil {
			return err
		}
		a, err := NewAttempt(mech, username, tok, host, port)
		if err != nil {
			return err
		}
		err = exchange(a)
		if err == nil {
			return nil
		}
		if !errors.Is(err, ErrRejected) {
			return err
		}
		src.Reject(tok)
		lastErr, status = err, a.Status()
	}
	if status != "" {
		return fmt.Errorf("%w (status %q), also with a new access token: check that username is the address you signed in with, that %s is enabled for the mailbox, and the scopes", lastErr, status, mech)
	}
	return fmt.Errorf("%w, also with a new access token: check that username is the address you signed in with, that %s is enabled for the mailbox, and the scopes", lastErr, mech)
}
