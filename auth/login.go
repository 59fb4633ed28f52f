package auth

import (
	"context"
	"errors"
	"fmt"
)

// ErrRejected is wrapped by the error of a sign-in the server refused.
// The exchange function given to Login must wrap it when the server
// refused the credentials (a NO or -ERR answer); Login adds it for the
// failure challenges of XOAUTH2 and OAUTHBEARER.
var ErrRejected = errors.New("the server refused the access token")

// RejectedError is the error of a sign-in the server refused. It wraps
// ErrRejected and the protocol's error.
type RejectedError struct {
	Mechanism string
	Status    string // the status of the failure challenge ("invalid_token", "401"), when the server sent one
	Err       error  // the protocol's error
}

// Error implements the error interface.
func (e *RejectedError) Error() string {
	s := fmt.Sprintf("%s: %v", e.Mechanism, ErrRejected)
	if e.Status != "" {
		s += fmt.Sprintf(" (status %q)", e.Status)
	}
	if e.Err != nil && !errors.Is(e.Err, ErrRejected) {
		if _, ok := IsSASLFailure(e.Err); !ok {
			s += ": " + e.Err.Error()
		}
	}
	return s
}

// Unwrap returns ErrRejected and the protocol's error.
func (e *RejectedError) Unwrap() []error { return []error{ErrRejected, e.Err} }

// Login makes one sign-in attempt with mechanism mech (XOAuth2 or
// OAuthBearer) as username: it gets a token from src and calls exchange
// with an Attempt, whose Client exchange must authenticate with. When the
// server refused the token (exchange's error wraps ErrRejected, or is a
// failure challenge), Login tells src, so that the next Token is a fresh
// one, and returns a *RejectedError: the caller may try once more, on a
// new connection when the old one may be unusable (IMAP: see
// Attempt.Client). Errors getting a token (ErrLoginRequired, ...) and
// other errors of exchange are returned as they are. host and port go into
// OAUTHBEARER's initial response.
func Login(ctx context.Context, src Source, mech, username, host string, port int, exchange func(*Attempt) error) error {
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
	status, failure := IsSASLFailure(err)
	if !failure && !errors.Is(err, ErrRejected) {
		return err
	}
	src.Reject(tok)
	return &RejectedError{Mechanism: mech, Status: status, Err: err}
}
