package syncer

import (
	"context"
	"sync"
)

// pool hands out up to max logged-in connections to one account.
type pool struct {
	s    *Syncer
	max  int
	mu   sync.Mutex
	idle []*Conn
	all  []*Conn
	sem  chan struct{}
}

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
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		c := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return c, nil
	}
	p.mu.Unlock()
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
	p.mu.Lock()
	p.idle = append(p.idle, c)
	p.mu.Unlock()
	<-p.sem
}

// discard closes a connection that failed.
func (p *pool) discard(c *Conn) {
	c.Close()
	<-p.sem
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
				c.Logout().Wait()
				c.Close()
			}
		}(c)
	}
	wg.Wait()
	p.all, p.idle = nil, nil
}
