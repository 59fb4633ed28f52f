//go:build linux

package main

import (
	"bytes"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// wireProxy is a TCP proxy between the daemon and Dovecot that counts the
// bytes of every connection both ways and the client's commands by name:
// the bytes on the wire of an idle daemon. With tls = "none" it sees the
// commands; it adds one loopback hop to every exchange (tens of
// microseconds, against latencies of tens of milliseconds).
type wireProxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu    sync.Mutex
	conns []*wireConn
}

// wireConn is one proxied connection.
type wireConn struct {
	up, down atomic.Int64 // client → server, server → client

	mu    sync.Mutex
	cmds  map[string]int // command names (the second word of a tagged line; DONE) → count
	idle  bool           // the client sent IDLE at least once
	line  []byte         // the client's current line
	skip  int64          // literal bytes still to pass without parsing
	still int            // server lines "* OK Still here"
	sline []byte         // the server's current line (only its start is kept)
}

func startWireProxy(target string) (*wireProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &wireProxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// port is the port the daemon connects to.
func (p *wireProxy) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

func (p *wireProxy) close() {
	p.ln.Close()
	p.wg.Wait()
}

func (p *wireProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		wc := &wireConn{cmds: map[string]int{}}
		p.mu.Lock()
		p.conns = append(p.conns, wc)
		p.mu.Unlock()
		go func() {
			wc.pump(s, c, &wc.up, wc.client)
			s.(*net.TCPConn).CloseWrite()
		}()
		go func() {
			wc.pump(c, s, &wc.down, wc.server)
			c.(*net.TCPConn).CloseWrite()
		}()
	}
}

// pump copies src to dst, counting the bytes and showing them to see.
func (wc *wireConn) pump(dst io.Writer, src io.Reader, n *atomic.Int64, see func([]byte)) {
	buf := make([]byte, 32<<10)
	for {
		k, err := src.Read(buf)
		if k > 0 {
			n.Add(int64(k))
			see(buf[:k])
			if _, werr := dst.Write(buf[:k]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// client parses the client's bytes into command lines, passing over
// literals ({n} or {n+} at the end of a line).
func (wc *wireConn) client(b []byte) {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	for len(b) > 0 {
		if wc.skip > 0 {
			k := min(wc.skip, int64(len(b)))
			wc.skip -= k
			b = b[k:]
			continue
		}
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			wc.line = append(wc.line, b...)
			return
		}
		wc.line = append(wc.line, b[:i]...)
		b = b[i+1:]
		line := strings.TrimRight(string(wc.line), "\r")
		wc.line = wc.line[:0]
		f := strings.Fields(line)
		switch {
		case len(f) == 1:
			wc.cmds[strings.ToUpper(f[0])]++ // DONE
		case len(f) >= 2:
			name := strings.ToUpper(f[1])
			wc.cmds[name]++
			if name == "IDLE" {
				wc.idle = true
			}
		}
		if j := strings.LastIndexByte(line, '{'); j >= 0 && strings.HasSuffix(line, "}") {
			if n, err := strconv.ParseInt(strings.TrimSuffix(line[j+1:len(line)-1], "+"), 10, 64); err == nil {
				wc.skip = n
			}
		}
	}
}

// server counts Dovecot's keep-alive lines during IDLE.
func (wc *wireConn) server(b []byte) {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if len(wc.sline) < 64 {
				wc.sline = append(wc.sline, b[:min(len(b), 64)]...)
			}
			return
		}
		if len(wc.sline) < 64 {
			wc.sline = append(wc.sline, b[:min(i, 64)]...)
		}
		b = b[i+1:]
		if bytes.HasPrefix(wc.sline, []byte("* OK Still here")) {
			wc.still++
		}
		wc.sline = wc.sline[:0]
	}
}

// wireSnap is the proxy's counters at one moment, split between the IDLE
// connections and the others (the passes').
type wireSnap struct {
	conns              int            // connections opened so far
	idleUp, idleDown   int64          // bytes of IDLE connections
	otherUp, otherDown int64          // bytes of the other connections
	idleCmds           map[string]int // commands on IDLE connections
	otherCmds          map[string]int // commands on the other connections
	still              int            // "* OK Still here" lines
}

func (p *wireProxy) snapshot() wireSnap {
	s := wireSnap{idleCmds: map[string]int{}, otherCmds: map[string]int{}}
	p.mu.Lock()
	conns := append([]*wireConn(nil), p.conns...)
	p.mu.Unlock()
	s.conns = len(conns)
	for _, c := range conns {
		c.mu.Lock()
		up, down := c.up.Load(), c.down.Load()
		cmds := s.otherCmds
		if c.idle {
			s.idleUp += up
			s.idleDown += down
			cmds = s.idleCmds
		} else {
			s.otherUp += up
			s.otherDown += down
		}
		for k, v := range c.cmds {
			cmds[k] += v
		}
		s.still += c.still
		c.mu.Unlock()
	}
	return s
}

// sub is the difference s - o. A connection that started IDLE between the
// two snapshots moves its earlier bytes from "other" to "idle": sub is
// meant for windows in which no new IDLE connection appears.
func (s wireSnap) sub(o wireSnap) wireSnap {
	d := wireSnap{
		conns:  s.conns - o.conns,
		idleUp: s.idleUp - o.idleUp, idleDown: s.idleDown - o.idleDown,
		otherUp: s.otherUp - o.otherUp, otherDown: s.otherDown - o.otherDown,
		idleCmds: map[string]int{}, otherCmds: map[string]int{},
		still: s.still - o.still,
	}
	for k, v := range s.idleCmds {
		if v -= o.idleCmds[k]; v != 0 {
			d.idleCmds[k] = v
		}
	}
	for k, v := range s.otherCmds {
		if v -= o.otherCmds[k]; v != 0 {
			d.otherCmds[k] = v
		}
	}
	return d
}
