package syncer

import (
	"context"
	"sync"
	"time"
)

// pool hands out up to max logged-in connections to one account.
type pool struct {
	s    *Syncer
	max  int
	mu   sync.Mutex
	idle []*Conn
	all  []*Conn
	sem  chan struct{}
	shut bool // close was called: connections put back are closed
}

// staleAfter is how long an idle connection may rest before it is checked
// with a NOOP when taken again.
const staleAfter = 4 * time.Minute

func newPool(s *Syncer, max int) *pool {
	if max <= 0 {
		max = 1
	}
	return &pool{s: s, max: max, sem: make(chan struct{}, max)}
}

// get returns an idle connection or dials a new one.
func (p *pool) get(ctx context.Context) (*Conn, error) {
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
	c, err := Dial(ctx, p.s.acct, p.s.opts.DialOptions)
	if err != nil {
		<-p.sem
		return nil, err
	}
	p.mu.Lock()
	p.all = append(p.all, c)
	p.mu.Unlock()
	return c, nil
}

// put returns a healthy connection.
func (p *pool) put(c *Conn) {
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

// discard closes a connection that failed.
func (p *pool) discard(c *Conn) {
	p.forget(c)
	<-p.sem
}

func (p *pool) forget(c *Conn) {
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

// close logs every connection out.
func (p *pool) close() {
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

// warm dials up to n connections in the background (fewer when some are
// idle already), so that folders that need the server do not wait for a
// login one after the other.
func (p *pool) warm(ctx context.Context, n int) {
	p.mu.Lock()
	n -= len(p.idle)
	p.mu.Unlock()
	for i := 0; i < n; i++ {
		go func() {
			c, err := p.get(ctx)
			if err == nil {
				p.put(c)
			}
		}()
	}
}
