package imapconn

import (
	"context"
	"sync"
	"time"

	"github.com/mailmirror/mailmirror/config"
)

// Pool hands out up to max logged-in connections to one account. Its
// connections are kept between uses (a daemon runs many passes); Close
// logs them out. Safe for concurrent use.
type Pool struct {
	acct *config.Account
	opts DialOptions
	max  int
	mu   sync.Mutex
	idle []*Conn
	all  []*Conn
	sem  chan struct{}
	shut bool // Close was called: connections put back are closed
}

// staleAfter is how long an idle connection may rest before it is checked
// with a NOOP when taken again.
const staleAfter = 4 * time.Minute

// NewPool returns a pool that dials acct with opts, at most max
// connections at once (max <= 0 means 1). It does no I/O.
func NewPool(acct *config.Account, opts DialOptions, max int) *Pool {
	if max <= 0 {
		max = 1
	}
	return &Pool{acct: acct, opts: opts, max: max, sem: make(chan struct{}, max)}
}

// Get returns an idle connection or dials a new one, waiting while max
// connections are in use. Give it back with Put, or Discard when it failed.
func (p *Pool) Get(ctx context.Context) (*Conn, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for {
		p.mu.Lock()
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			break
		}
		c := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		if c.alive() {
			return c, nil
		}
		p.forget(c)
	}
	c, err := Dial(ctx, p.acct, p.opts)
	if err != nil {
		<-p.sem
		return nil, err
	}
	p.mu.Lock()
	p.all = append(p.all, c)
	p.mu.Unlock()
	return c, nil
}

// Put gives back a healthy connection.
func (p *Pool) Put(c *Conn) {
	c.lastUsed = time.Now()
	p.mu.Lock()
	if p.shut {
		p.mu.Unlock()
		c.Logout()
		c.Close()
		<-p.sem
		return
	}
	p.idle = append(p.idle, c)
	p.mu.Unlock()
	<-p.sem
}

// Discard closes a connection that failed.
func (p *Pool) Discard(c *Conn) {
	p.forget(c)
	<-p.sem
}

func (p *Pool) forget(c *Conn) {
	c.Close()
	p.mu.Lock()
	for i, x := range p.all {
		if x == c {
			p.all = append(p.all[:i], p.all[i+1:]...)
			break
		}
	}
	p.mu.Unlock()
}

// alive reports whether an idle connection can still be used.
func (c *Conn) alive() bool {
	select {
	case <-c.Closed():
		return false
	default:
	}
	if time.Since(c.lastUsed) > staleAfter {
		return c.Noop().Wait() == nil
	}
	return true
}

// Close logs every connection out.
func (p *Pool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range p.all {
		wg.Add(1)
		go func(c *Conn) {
			defer wg.Done()
			select {
			case <-c.Closed():
			default:
				// Say goodbye without waiting for the answer: the
				// server needs nothing more from us.
				c.Logout()
				c.Close()
			}
		}(c)
	}
	wg.Wait()
	p.all, p.idle = nil, nil
	p.shut = true
}

// Warm dials up to n connections in the background (fewer when some are
// idle already), so that work that needs the server does not wait for a
// login one after the other.
func (p *Pool) Warm(ctx context.Context, n int) {
	p.mu.Lock()
	n -= len(p.idle)
	p.mu.Unlock()
	for i := 0; i < n; i++ {
		go func() {
			c, err := p.Get(ctx)
			if err == nil {
				p.Put(c)
			}
		}()
	}
}
