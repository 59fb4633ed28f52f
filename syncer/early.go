package syncer

import (
	"context"

	"github.com/mailmirror/mailmirror/config"
)

// Early is an account's first connection, dialled while the caller gets
// ready for the pass: a one-shot `mailmirror sync` starts the server's
// greeting and login before it opens its state (SQLite's first open in a
// process takes several milliseconds), so that the two overlap. Give it
// to the pass in Options.Early; a pass closes it, and Close closes one
// that no pass took.
type Early struct {
	acct   *config.Account
	cancel context.CancelFunc
	pool   *pool
	opts   Options // with the resolved password
	err    error   // resolving the password failed: the pass returns it
}

// DialEarly resolves acct's password (when opts has none) and starts
// dialling one connection in the background. It does not block on the
// network.
func DialEarly(ctx context.Context, acct *config.Account, opts Options) *Early {
	e := &Early{acct: acct}
	if opts.Password == "" {
		pw, err := acct.ResolvePassword(ctx)
		if err != nil {
			e.err = err
			return e
		}
		opts.Password = pw
	}
	if opts.Counters == nil {
		opts.Counters = &Counters{}
	}
	e.opts = opts
	e.pool = newPool(&Syncer{acct: acct, opts: opts}, acct.MaxConnections)
	var dialCtx context.Context
	dialCtx, e.cancel = context.WithCancel(ctx)
	e.pool.warm(dialCtx, 1)
	return e
}

// Close abandons the dial of an Early no pass took, or logs its
// connection out.
func (e *Early) Close() {
	if e != nil && e.pool != nil {
		e.cancel()
		e.pool.close()
	}
}

// takeEarly puts the Early of opts (when it is acct's) into the
// options of a pass: its password, byte counters and the pool it dialled.
// It returns the pool, nil when there is none, and the error of the
// password's resolution.
func takeEarly(acct *config.Account, opts *Options) (*pool, error) {
	e := opts.Early
	opts.Early = nil
	if e == nil || e.acct != acct {
		return nil, nil
	}
	if e.err != nil {
		return nil, e.err
	}
	early := e.opts
	opts.Password = early.Password
	opts.Counters = early.Counters
	return e.pool, nil
}
