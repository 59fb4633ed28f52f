package daemon_test

import (
	"bytes"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// proxy forwards TCP connections to a server, and can cut them in the two
// ways a network fails: refusing and closing everything (down), or going
// silent on the connections that are idling (frozen: bytes are swallowed
// in both directions and nothing is closed, like a NAT that forgot the
// connection).
type proxy struct {
	t      testing.TB
	l      net.Listener
	target string

	mu    sync.Mutex
	down  bool
	conns map[*pconn]bool
	wg    sync.WaitGroup
}

type pconn struct {
	client, server net.Conn
	idle           atomic.Bool // the client sent IDLE
	frozen         atomic.Bool
}

func startProxy(t testing.TB, target string) *proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, l: l, target: target, conns: map[*pconn]bool{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) port() int {
	_, port, _ := net.SplitHostPort(p.l.Addr().String())
	n, _ := strconv.Atoi(port)
	return n
}

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		pc := &pconn{client: c, server: s}
		p.mu.Lock()
		p.conns[pc] = true
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(pc, c, s, true)
		go p.pipe(pc, s, c, false)
	}
}

func (p *proxy) pipe(pc *pconn, from, to net.Conn, fromClient bool) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := from.Read(buf)
		if n > 0 {
			if fromClient && bytes.Contains(bytes.ToUpper(buf[:n]), []byte(" IDLE\r\n")) {
				pc.idle.Store(true)
			}
			if !pc.frozen.Load() {
				if _, werr := to.Write(buf[:n]); werr != nil {
					err = werr
				}
			}
		}
		if err != nil {
			pc.client.Close()
			pc.server.Close()
			p.mu.Lock()
			delete(p.conns, pc)
			p.mu.Unlock()
			return
		}
	}
}

// setDown closes every connection and refuses new ones (true), or lets
// connections through again (false).
func (p *proxy) setDown(down bool) {
	p.mu.Lock()
	p.down = down
	var all []*pconn
	if down {
		for pc := range p.conns {
			all = append(all, pc)
		}
	}
	p.mu.Unlock()
	for _, pc := range all {
		pc.client.Close()
		pc.server.Close()
	}
}

// freezeIdle makes every connection that sent IDLE silent and returns how
// many there were.
func (p *proxy) freezeIdle() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for pc := range p.conns {
		if pc.idle.Load() && !pc.frozen.Load() {
			pc.frozen.Store(true)
			n++
		}
	}
	return n
}

// freezeAll makes every open connection silent.
func (p *proxy) freezeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for pc := range p.conns {
		pc.frozen.Store(true)
	}
}

// idling counts the live connections that sent IDLE and are not frozen.
func (p *proxy) idling() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for pc := range p.conns {
		if pc.idle.Load() && !pc.frozen.Load() {
			n++
		}
	}
	return n
}

func (p *proxy) close() {
	p.l.Close()
	p.setDown(true)
	p.wg.Wait()
}
