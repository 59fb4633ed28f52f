package syncer

import (
	"context"

	"github.com/mailmirror/mailmirror/imapconn"
)

// pool is the Syncer's imapconn.Pool under the engine's names.
type pool struct{ p *imapconn.Pool }

func newPool(s *Syncer, max int) *pool {
	return &pool{p: imapconn.NewPool(s.acct, s.opts.DialOptions, max)}
}

func (p *pool) get(ctx context.Context) (*Conn, error) { return p.p.Get(ctx) }
func (p *pool) tryGet(ctx context.Context) *Conn       { return p.p.TryGet(ctx) }
func (p *pool) put(c *Conn)                            { p.p.Put(c) }
func (p *pool) discard(c *Conn)                        { p.p.Discard(c) }
func (p *pool) close()                                 { p.p.Close() }
func (p *pool) warm(ctx context.Context, n int)        { p.p.Warm(ctx, n) }
