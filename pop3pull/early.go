package pop3pull

import (
	"context"
	"sync"
	"time"

	"github.com/mailmirror/mailmirror/config"
)

// Early is a POP3 account's first session, connected and logged in while
// the caller gets ready for the poll: a one-shot `mailmirror sync` starts
// the server's greeting and login before it opens its state, so that the
// two overlap. Give it to the poll in Options.Early; the poll takes it
// over, and Close closes one that no poll took.
type Early struct {
	acct   *config.Account
	cancel context.CancelFunc
	done   chan struct{} // closed once the dial and login ended
	mu     sync.Mutex
	c      *Client       // logged in; nil after an error or once taken
	pass   config.Secret // "" for OAuth accounts
	pwErr  error         // resolving the password failed: no session
	err    error         // dialling or logging in failed
}

// DialEarly resolves acct's password (unless password is set) and starts
// connecting and logging in in the background; timeout bounds every read
// and write as Options.Timeout does. It does not block on the network.
func DialEarly(ctx context.Context, acct *config.Account, password config.Secret, timeout time.Duration) *Early {
	e := &Early{acct: acct, done: make(chan struct{})}
	if password == "" {
		pw, err := acct.ResolvePassword(ctx)
		if err != nil {
			e.pwErr = err
			close(e.done)
			return e
		}
		password = pw
	}
	e.pass = password
	ctx, e.cancel = context.WithCancel(ctx)
	go func() {
		defer close(e.done)
		c, err := dialAccount(ctx, acct, timeout)
		if err == nil {
			if err = c.Login(acct.Username, password); err != nil {
				c.Abort()
			}
		}
		if err != nil {
			e.err = err
			return
		}
		e.mu.Lock()
		e.c = c
		e.mu.Unlock()
	}()
	return e
}

// take waits for the session and hands it over (nil with the error of
// the dial or the login).
func (e *Early) take(ctx context.Context) (*Client, error) {
	select {
	case <-e.done:
	case <-ctx.Done():
		e.Close()
		<-e.done
		return nil, ctx.Err()
	}
	e.mu.Lock()
	c := e.c
	e.c = nil
	e.mu.Unlock()
	return c, e.err
}

// Close abandons the session of an Early no poll took: the connection is
// dropped without QUIT, so nothing on the server changes.
func (e *Early) Close() {
	if e == nil {
		return
	}
	if e.cancel != nil {
		e.cancel()
	}
	go func() {
		<-e.done
		e.mu.Lock()
		c := e.c
		e.c = nil
		e.mu.Unlock()
		if c != nil {
			c.Abort()
		}
	}()
}
