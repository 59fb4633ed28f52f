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
	link *Link
	acct *config.Account
	opts DialOptions
	max  int
	mu   sync.Mutex
	idle []*Conn
	all  []*Conn
	sem  chan struct{}
	shut bool // Close was called: connections put back are closed
	// warming counts Warm's dials in flight; warmed is closed (and
	// replaced) when one ends, waking a Get that waits for it; warmErr is
	// the error of a failed one, for the next Get that waited.
	warming int
	warmed  chan struct{}
	warmErr error
}

// staleAfter is how long an idle connection may rest before it is checked
// with a NOOP when taken again.
const staleAfter = 4 * time.Minute

// NewPool returns a pool that dials acct with opts, at most max
// connections at once (max <= 0 means 1). Its connections share
// opts.Link, or a new Link when that is nil. It does no I/O.
func NewPool(acct *config.Account, opts DialOptions, max int) *Pool {
	if max <= 0 {
		max = 1
	}
	if opts.Link == nil {
		opts.Link = NewLink()
	}
	return &Pool{link: opts.Link, acct: acct, opts: opts, max: max, sem: make(chan struct{}, max), warmed: make(chan struct{})}
}

// Link is the Link the pool's connections share.
func (p *Pool) Link() *Link { return p.link }

// probeTimeout bounds the NOOP that checks an idle connection.
func (p *Pool) probeTimeout() time.Duration {
	t := p.opts.Timeout
	if t <= 0 || t > 10*time.Second {
		t = 10 * time.Second
	}
	return t
}

// Get returns an idle connection or dials a new one, waiting while max
// connections are in use. Give it back with Put, or Discard when it failed.
// Until then, the end of ctx closes the connection, so that a command
// blocked on a silent server returns.
func (p *Pool) Get(ctx context.Context) (*Conn, error) {
	c, err := p.get(ctx, true)
	if err != nil {
		return nil, err
	}
	c.stopCtx = context.AfterFunc(ctx, func() { c.Close() })
	return c, nil
}

// get is Get without the watch on ctx. A get that waits (every one but
// Warm's own) takes the connection of a Warm dial still in flight rather
// than dialling another.
func (p *Pool) get(ctx context.Context, wait bool) (*Conn, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for {
		p.mu.Lock()
		n := len(p.idle)
		if n == 0 && wait && p.warming > 0 {
			woken := p.warmed
			p.mu.Unlock()
			select {
			case <-woken:
			case <-ctx.Done():
				<-p.sem
				return nil, ctx.Err()
			}
			p.mu.Lock()
			err := p.warmErr
			p.warmErr = nil
			p.mu.Unlock()
			if err != nil {
				<-p.sem
				return nil, err
			}
			continue
		}
		if n == 0 {
			p.mu.Unlock()
			break
		}
		c := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		if c.alive(p.probeTimeout()) {
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

// release ends Get's watch on the context.
func (c *Conn) release() {
	if c.stopCtx != nil {
		c.stopCtx()
		c.stopCtx = nil
	}
}

// Put gives back a healthy connection.
func (p *Pool) Put(c *Conn) {
	c.release()
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

// Discard closes a connection that failed. When go-imap gave up on it on
// a reply of an optional extension, that extension is off from now on
// (Conn.NoteFailure).
func (p *Pool) Discard(c *Conn) {
	c.release()
	c.NoteFailure()
	p.forget(c)
	<-p.sem
}

// TryGet is Get without waiting and without dialling: an idle connection,
// or nil when none is idle or max connections are in use (work that a
// second connection would only speed up).
func (p *Pool) TryGet(ctx context.Context) *Conn {
	select {
	case p.sem <- struct{}{}:
	default:
		return nil
	}
	for {
		p.mu.Lock()
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			<-p.sem
			return nil
		}
		c := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		if c.alive(p.probeTimeout()) {
			c.stopCtx = context.AfterFunc(ctx, func() { c.Close() })
			return c
		}
		p.forget(c)
	}
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

// alive reports whether an idle connection can still be used. One that
// rested long, or whose link lost a connection since it was last used, must
// answer a NOOP within probe.
func (c *Conn) alive(probe time.Duration) bool {
	select {
	case <-c.Closed():
		return false
	default:
	}
	if time.Since(c.lastUsed) <= staleAfter && !c.link.deadAfter(c.lastUsed) {
		return true
	}
	dog := time.AfterFunc(probe, func() { c.MarkDead() })
	err := c.Noop().Wait()
	return dog.Stop() && err == nil
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
// login one after the other. A Get meanwhile waits for these connections
// rather than dialling more, and gets the error of a dial that failed.
func (p *Pool) Warm(ctx context.Context, n int) {
	p.mu.Lock()
	n -= len(p.idle)
	p.mu.Unlock()
	for i := 0; i < n; i++ {
		p.mu.Lock()
		p.warming++
		p.mu.Unlock()
		go func() {
			c, err := p.get(ctx, false)
			if err == nil {
				p.Put(c)
			}
			p.mu.Lock()
			p.warming--
			if err != nil && ctx.Err() == nil {
				p.warmErr = err
			}
			close(p.warmed)
			p.warmed = make(chan struct{})
			p.mu.Unlock()
		}()
	}
}
