// Package faultproxy is a TCP proxy for fault-injection tests: it sits
// between a client (mailmirror) and a server (Dovecot, pop3srv) on
// 127.0.0.1 and, on command, drops connections, stalls them silently,
// resets them after a number of bytes (in the middle of a literal, say),
// truncates a response, slows everything to modem speed, drops every
// connection after a number of bytes (a link that breaks every few
// megabytes), adds latency, refuses new connections, or rewrites the
// server's lines (to strip STARTTLS from a
// capability list). It records what the client sent, so that a test can
// prove that a secret never reached the server side.
//
// Faults that fire at a point of the byte stream are armed with Arm: a
// Fault names the direction it watches, an optional pattern that triggers
// it, how many bytes later it fires and what it does. An armed fault fires
// once, on the first connection whose stream reaches its point.
//
//	p := faultproxy.New(t, dovecotAddr)
//	p.Arm(faultproxy.Fault{Action: faultproxy.Reset, Match: []byte("BODY[] {"), After: 2000})
//	// ... point the client at p.Addr() ...
//	<-p.Fired()
package faultproxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Action is what a fault does when it fires.
type Action int

const (
	// Drop closes both sides of the connection gracefully (FIN), at once.
	Drop Action = iota + 1
	// Reset aborts the connection: the client gets a TCP RST (SO_LINGER 0)
	// and the server side is closed.
	Reset
	// Truncate forwards the bytes up to the fault's point, then closes the
	// client side gracefully: the client sees a response that ends early
	// followed by end of file.
	Truncate
	// Stall stops forwarding in both directions without closing anything:
	// the client sees a server that went silent, until it gives up.
	Stall
)

func (a Action) String() string {
	switch a {
	case Drop:
		return "drop"
	case Reset:
		return "reset"
	case Truncate:
		return "truncate"
	case Stall:
		return "stall"
	}
	return "action(" + strconv.Itoa(int(a)) + ")"
}

// Direction names one half of a proxied connection.
type Direction int

const (
	// Down is the server → client direction (responses, fetched bodies).
	Down Direction = iota
	// Up is the client → server direction (commands, APPEND literals).
	Up
)

// Fault is a one-shot fault: in the direction Dir, once Match has passed
// (at once when Match is empty), After more bytes are forwarded and then
// Action happens to that connection. Only connections opened after Skip
// earlier connections carried a match are considered: Skip 1 fires on the
// second match, on any connection.
type Fault struct {
	Action Action
	Dir    Direction
	Match  []byte
	After  int64
	Skip   int
	// ThenRefuse makes the proxy refuse new connections once the fault
	// fired (the link went down), until SetRefuse(false).
	ThenRefuse bool
}

// Proxy is a running fault-injection proxy. Its methods are safe for
// concurrent use.
type Proxy struct {
	target string
	ln     net.Listener

	mu       sync.Mutex
	cond     *sync.Cond
	conns    map[*conn]bool
	fault    *armed
	fired    chan struct{}
	stalled  bool
	refuse   bool
	rate     int           // bytes per second per direction; 0 = unlimited
	dropAt   int64         // new connections end after this many bytes; 0 = never
	latency  time.Duration // added to each direction of new connections
	dropped  int           // connections ended by dropAt
	filter   func(line []byte) []byte
	record   bool
	upBytes  bytes.Buffer
	accepted int
	closed   bool
	wg       sync.WaitGroup
}

// armed is the state of the armed fault.
type armed struct {
	Fault
	conn      *conn // the connection it is bound to once matched
	remaining int64
	skip      int
}

// Start listens on a free port of 127.0.0.1 and forwards every connection
// to target ("host:port"). Call Close when done.
func Start(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: %w", err)
	}
	p := &Proxy{target: target, ln: ln, conns: map[*conn]bool{}, fired: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// New starts a proxy to target that is closed when the test ends.
func New(t testing.TB, target string) *Proxy {
	t.Helper()
	p, err := Start(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// Addr is the proxy's listening address, "127.0.0.1:port".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Port is the proxy's listening port.
func (p *Proxy) Port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// Close stops listening, closes every connection and waits for the
// forwarding goroutines to end.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	p.stalled = false
	for c := range p.conns {
		c.abort(false)
	}
	p.cond.Broadcast()
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

// Arm replaces the armed fault by f (see Fault) and returns a channel that
// is closed when it fires.
func (p *Proxy) Arm(f Fault) <-chan struct{} {
	if f.Action == 0 {
		panic("faultproxy: Fault without an Action")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault = &armed{Fault: f, remaining: -1, skip: f.Skip}
	p.fired = make(chan struct{})
	return p.fired
}

// Disarm removes the armed fault, if it has not fired yet.
func (p *Proxy) Disarm() {
	p.mu.Lock()
	p.fault = nil
	p.mu.Unlock()
}

// Fired returns the channel of the fault armed last: closed once it fired.
func (p *Proxy) Fired() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fired
}

// HasFired reports whether the fault armed last has fired.
func (p *Proxy) HasFired() bool {
	select {
	case <-p.Fired():
		return true
	default:
		return false
	}
}

// DropAll closes every open connection now (FIN on both sides).
func (p *Proxy) DropAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.abort(false)
	}
}

// ResetAll aborts every open connection now (RST to the client).
func (p *Proxy) ResetAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.abort(true)
	}
}

// SetStalled stops (true) or resumes (false) forwarding on every
// connection, without closing any. New connections are accepted but stall
// too.
func (p *Proxy) SetStalled(on bool) {
	p.mu.Lock()
	p.stalled = on
	p.cond.Broadcast()
	p.mu.Unlock()
}

// SetRefuse makes the proxy close new connections at once (true), as a
// server that is down would, or accept them again (false).
func (p *Proxy) SetRefuse(on bool) {
	p.mu.Lock()
	p.refuse = on
	p.mu.Unlock()
}

// SetRate limits each direction of each connection to bytesPerSecond
// (modem speed: 7000); 0 removes the limit.
func (p *Proxy) SetRate(bytesPerSecond int) {
	p.mu.Lock()
	p.rate = bytesPerSecond
	p.mu.Unlock()
}

// SetDropAfter makes every connection opened from now on end (FIN on both
// sides) once n bytes, both directions together, went through it: a link
// that breaks every few megabytes. 0 turns it off for new connections.
func (p *Proxy) SetDropAfter(n int64) {
	p.mu.Lock()
	p.dropAt = n
	p.mu.Unlock()
}

// Dropped is how many connections SetDropAfter's limit ended so far.
func (p *Proxy) Dropped() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.dropped
}

// SetLatency delays every byte of connections opened from now on by d in
// each direction (a round trip then takes 2d more); what was read ahead
// meanwhile (up to 64 reads) is delayed the same, not queued behind it.
func (p *Proxy) SetLatency(d time.Duration) {
	p.mu.Lock()
	p.latency = d
	p.mu.Unlock()
}

// SetServerLineFilter makes connections opened from now on pass each
// complete line the server sends (with its line end) through fn, which
// returns the bytes to send instead (nil drops the line). Bytes not
// followed by a line end yet are passed unchanged as they come (a TLS
// handshake), so a line split between two reads may escape the filter; a
// literal is filtered like any other text. nil turns filtering off for new
// connections.
func (p *Proxy) SetServerLineFilter(fn func(line []byte) []byte) {
	p.mu.Lock()
	p.filter = fn
	p.mu.Unlock()
}

// Record makes the proxy keep every byte clients send from now on (see
// ClientBytes), or stop keeping them.
func (p *Proxy) Record(on bool) {
	p.mu.Lock()
	p.record = on
	p.mu.Unlock()
}

// ClientBytes returns a copy of what clients sent toward the server while
// recording was on, every connection concatenated.
func (p *Proxy) ClientBytes() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return bytes.Clone(p.upBytes.Bytes())
}

// Accepted is how many client connections the proxy accepted so far.
func (p *Proxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// Open is how many proxied connections are open now.
func (p *Proxy) Open() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// conn is one proxied connection.
type conn struct {
	p       *Proxy
	client  *net.TCPConn
	server  net.Conn
	once    sync.Once
	done    chan struct{}
	stalled bool      // this connection stalls for good (a Stall fault)
	tail    [2][]byte // last bytes seen per direction, to find a Match split over reads
	filter  func([]byte) []byte
	ended   atomic.Int32  // directions finished
	dropAt  int64         // see SetDropAfter
	moved   atomic.Int64  // bytes forwarded, both directions
	latency time.Duration // see SetLatency
}

func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		nc, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.closed || p.refuse {
			p.mu.Unlock()
			nc.Close()
			continue
		}
		p.accepted++
		filter, dropAt, latency := p.filter, p.dropAt, p.latency
		p.mu.Unlock()
		sc, err := net.DialTimeout("tcp", p.target, 10*time.Second)
		if err != nil {
			nc.Close()
			continue
		}
		c := &conn{p: p, client: nc.(*net.TCPConn), server: sc, done: make(chan struct{}), filter: filter, dropAt: dropAt, latency: latency}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			nc.Close()
			sc.Close()
			continue
		}
		p.conns[c] = true
		p.wg.Add(2)
		p.mu.Unlock()
		go c.pump(Up)
		go c.pump(Down)
		go func() {
			<-c.done
			c.forget()
		}()
	}
}

// abort closes both sides; rst sends the client a reset. It may be called
// with p.mu held.
func (c *conn) abort(rst bool) {
	c.once.Do(func() {
		if rst {
			c.client.SetLinger(0)
		}
		c.client.Close()
		c.server.Close()
		close(c.done)
		// Wake forward calls waiting on a stall (they take p.mu, which
		// the caller may hold).
		go func() {
			c.p.mu.Lock()
			c.p.cond.Broadcast()
			c.p.mu.Unlock()
		}()
	})
}

// end records that one direction finished; the second closes the
// connection.
func (c *conn) end() {
	if c.ended.Add(1) == 2 {
		c.abort(false)
	}
}

func (c *conn) forget() {
	c.p.mu.Lock()
	delete(c.p.conns, c)
	c.p.mu.Unlock()
}

// pump copies one direction until the end of its stream, an error or a
// fault. A stream that ends is passed on as a half close.
func (c *conn) pump(dir Direction) {
	defer c.p.wg.Done()
	defer c.end()
	var src io.Reader
	var dst *net.TCPConn
	if dir == Up {
		src, dst = c.client, c.server.(*net.TCPConn)
	} else {
		src, dst = c.server, c.client
	}
	if dir == Down && c.filter != nil {
		src = &filterReader{br: bufio.NewReaderSize(src, 64<<10), fn: c.filter}
	}
	if c.latency > 0 {
		src = newDelayReader(src, c.latency, c.done)
	}
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		data := buf[:n]
		for len(data) > 0 {
			cut, act := c.p.inspect(c, dir, data)
			if c.dropAt > 0 {
				if left := c.dropAt - c.moved.Load(); int64(cut) >= left {
					cut, act = int(max(left, 0)), Drop
					c.p.mu.Lock()
					c.p.dropped++
					c.p.mu.Unlock()
				}
				c.moved.Add(int64(cut))
			}
			if !c.forward(dir, dst, data[:cut]) {
				c.abort(false)
				return
			}
			data = data[cut:]
			switch act {
			case Drop:
				c.abort(false)
				return
			case Reset:
				c.abort(true)
				return
			case Truncate:
				if dir == Down {
					c.client.CloseWrite()
					c.server.Close()
				} else {
					c.server.(*net.TCPConn).CloseWrite()
				}
				// The rest of this direction is lost.
				c.drain(src)
				return
			case Stall:
				c.p.mu.Lock()
				c.stalled = true
				c.p.mu.Unlock()
				// forward swallows everything from now on.
				data = nil
			}
		}
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				c.abort(false)
				return
			}
			dst.CloseWrite()
			return
		}
	}
}

// drain reads src until it ends, throwing the bytes away.
func (c *conn) drain(src io.Reader) {
	io.Copy(io.Discard, src)
}

// inspect returns how many bytes of data may be forwarded and, when the
// armed fault fires after them, its action.
func (p *Proxy) inspect(c *conn, dir Direction, data []byte) (int, Action) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f := p.fault
	if f == nil || f.Dir != dir || (f.conn != nil && f.conn != c) {
		c.keepTail(dir, data, f)
		return len(data), 0
	}
	start := 0
	if f.conn == nil {
		if len(f.Match) == 0 {
			f.conn = c
		} else {
			// Look for the pattern in the tail of earlier reads plus
			// this one.
			hay := append(bytes.Clone(c.tail[dir]), data...)
			off := len(c.tail[dir])
			for {
				i := bytes.Index(hay, f.Match)
				if i < 0 {
					c.keepTail(dir, data, f)
					return len(data), 0
				}
				end := i + len(f.Match) - off // index in data just after the match
				if f.skip > 0 {
					f.skip--
					hay = hay[i+1:]
					off -= i + 1
					continue
				}
				f.conn = c
				start = max(end, 0)
				break
			}
		}
		f.remaining = f.After
	}
	if int64(len(data)-start) < f.remaining {
		f.remaining -= int64(len(data) - start)
		c.keepTail(dir, data, f)
		return len(data), 0
	}
	cut := start + int(f.remaining)
	p.fault = nil
	if f.ThenRefuse {
		p.refuse = true
	}
	close(p.fired)
	return cut, f.Action
}

// keepTail remembers the last bytes of a direction so that a pattern split
// between two reads is found.
func (c *conn) keepTail(dir Direction, data []byte, f *armed) {
	if f == nil || len(f.Match) < 2 {
		return
	}
	keep := len(f.Match) - 1
	t := append(c.tail[dir], data...)
	if len(t) > keep {
		t = t[len(t)-keep:]
	}
	c.tail[dir] = bytes.Clone(t)
}

// forward writes data to dst, waiting while the proxy is stalled, pacing
// to the rate, and swallowing everything once the connection itself
// stalled. It returns false when the connection is finished.
func (c *conn) forward(dir Direction, dst net.Conn, data []byte) bool {
	for len(data) > 0 {
		c.p.mu.Lock()
		for c.p.stalled && !c.p.closed && !c.isDone() {
			c.p.cond.Wait()
		}
		rate, record, swallow := c.p.rate, c.p.record && dir == Up, c.stalled
		c.p.mu.Unlock()
		if c.isDone() {
			return false
		}
		if swallow {
			return true
		}
		n := len(data)
		if rate > 0 {
			n = min(n, max(1, rate/20))
		}
		if _, err := dst.Write(data[:n]); err != nil {
			return false
		}
		if record {
			c.p.mu.Lock()
			c.p.upBytes.Write(data[:n])
			c.p.mu.Unlock()
		}
		data = data[n:]
		if rate > 0 {
			select {
			case <-time.After(time.Duration(n) * time.Second / time.Duration(rate)):
			case <-c.done:
				return false
			}
		}
	}
	return true
}

func (c *conn) isDone() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// filterReader passes complete lines through a filter function, and
// bytes that do not end a line yet (binary data: a TLS handshake after
// STARTTLS) through unchanged.
type filterReader struct {
	br      *bufio.Reader
	fn      func([]byte) []byte
	pending []byte
}

func (f *filterReader) Read(p []byte) (int, error) {
	for len(f.pending) == 0 {
		if _, err := f.br.Peek(1); err != nil {
			return 0, err
		}
		buffered, _ := f.br.Peek(f.br.Buffered())
		if i := bytes.IndexByte(buffered, '\n'); i >= 0 {
			line := make([]byte, i+1)
			io.ReadFull(f.br, line)
			f.pending = f.fn(line)
		} else {
			raw := make([]byte, len(buffered))
			io.ReadFull(f.br, raw)
			f.pending = raw
		}
	}
	n := copy(p, f.pending)
	f.pending = f.pending[n:]
	return n, nil
}

// delayReader hands out what src read each no earlier than d after it
// was read; a goroutine reads ahead meanwhile.
type delayReader struct {
	ch   chan delayed
	cur  []byte
	err  error
	d    time.Duration
	done <-chan struct{}
}

type delayed struct {
	at   time.Time
	data []byte
	err  error
}

func newDelayReader(src io.Reader, d time.Duration, done <-chan struct{}) *delayReader {
	r := &delayReader{ch: make(chan delayed, 64), d: d, done: done}
	go func() {
		defer close(r.ch)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			select {
			case r.ch <- delayed{at: time.Now(), data: buf[:n], err: err}:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return r
}

func (r *delayReader) Read(p []byte) (int, error) {
	for len(r.cur) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		x, ok := <-r.ch
		if !ok {
			return 0, net.ErrClosed
		}
		if wait := time.Until(x.at.Add(r.d)); wait > 0 {
			select {
			case <-time.After(wait):
			case <-r.done:
				return 0, net.ErrClosed
			}
		}
		r.cur, r.err = x.data, x.err
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}
