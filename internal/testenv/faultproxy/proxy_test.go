package faultproxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// streamServer answers each connection with greeting, then echoes every
// line it receives prefixed with "echo: ", until the client closes.
func streamServer(t *testing.T, greeting []byte) string { return streamServerAfter(t, greeting, false) }

// streamServerAfter is streamServer; with waitLine the greeting waits for
// a first line from the client (so that the client's connect completes
// before a fault can fire).
func streamServerAfter(t *testing.T, greeting []byte, waitLine bool) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				if waitLine {
					if _, err := br.ReadString('\n'); err != nil {
						return
					}
				}
				c.Write(greeting)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := io.WriteString(c, "echo: "+line); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func dial(t *testing.T, p *Proxy) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func bigGreeting() []byte {
	var b bytes.Buffer
	b.WriteString("* OK hello\r\n* 1 FETCH (BODY[] {100000}\r\n")
	for b.Len() < 100000+40 {
		b.WriteString("0123456789abcdefghijklmnopqrstuvwxyz\r\n")
	}
	return b.Bytes()
}

func TestPassThrough(t *testing.T) {
	g := bigGreeting()
	p := New(t, streamServer(t, g))
	p.Record(true)
	c := dial(t, p)
	got := make([]byte, len(g))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, g) {
		t.Fatalf("greeting: %v, equal %v", err, bytes.Equal(got, g))
	}
	io.WriteString(c, "a1 LOGIN user secret\r\n")
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || line != "echo: a1 LOGIN user secret\r\n" {
		t.Fatalf("echo %q, %v", line, err)
	}
	if !bytes.Contains(p.ClientBytes(), []byte("secret")) {
		t.Errorf("recorded %q", p.ClientBytes())
	}
	if p.Accepted() != 1 {
		t.Errorf("accepted %d", p.Accepted())
	}
}

func TestResetAfterMatch(t *testing.T) {
	g := bigGreeting()
	p := New(t, streamServerAfter(t, g, true))
	fired := p.Arm(Fault{Action: Reset, Match: []byte("BODY[] {"), After: 5000})
	c := dial(t, p)
	io.WriteString(c, "go\r\n")
	got, err := io.ReadAll(c)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("read error %v, want a connection reset", err)
	}
	want := bytes.Index(g, []byte("BODY[] {")) + len("BODY[] {") + 5000
	if len(got) != want || !bytes.Equal(got, g[:want]) {
		t.Errorf("got %d bytes, want the first %d", len(got), want)
	}
	<-fired
}

func TestTruncateAfterBytes(t *testing.T) {
	g := bigGreeting()
	p := New(t, streamServerAfter(t, g, true))
	p.Arm(Fault{Action: Truncate, After: 777})
	c := dial(t, p)
	io.WriteString(c, "go\r\n")
	got, err := io.ReadAll(c)
	if err != nil {
		t.Errorf("truncate should end with EOF, got %v", err)
	}
	if !bytes.Equal(got, g[:777]) {
		t.Errorf("got %d bytes, want 777", len(got))
	}
}

func TestSkipFiresOnALaterMatch(t *testing.T) {
	p := New(t, streamServer(t, []byte("* OK\r\n")))
	p.Arm(Fault{Action: Drop, Match: []byte("echo: b"), Skip: 1})
	c := dial(t, p)
	br := bufio.NewReader(c)
	br.ReadString('\n')
	io.WriteString(c, "b1\r\n")
	if l, err := br.ReadString('\n'); err != nil || l != "echo: b1\r\n" {
		t.Fatalf("first match should pass: %q %v", l, err)
	}
	io.WriteString(c, "b2\r\n")
	if l, err := br.ReadString('\n'); err == nil {
		t.Fatalf("second match should drop the connection, got %q", l)
	}
}

func TestStallThenClientGivesUp(t *testing.T) {
	p := New(t, streamServer(t, []byte("* OK\r\n")))
	p.Arm(Fault{Action: Stall, Dir: Up, Match: []byte("STALL")})
	c := dial(t, p)
	br := bufio.NewReader(c)
	br.ReadString('\n')
	io.WriteString(c, "x STALL\r\n")
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if l, err := br.ReadString('\n'); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("stalled connection answered %q, %v", l, err)
	}
	c.Close()
	for p.Open() != 0 {
		time.Sleep(10 * time.Millisecond)
	}
}

func TestGlobalStallHoldsData(t *testing.T) {
	p := New(t, streamServer(t, []byte("* OK\r\n")))
	c := dial(t, p)
	br := bufio.NewReader(c)
	br.ReadString('\n')
	p.SetStalled(true)
	io.WriteString(c, "held\r\n")
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := br.ReadString('\n'); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("stalled proxy forwarded: %v", err)
	}
	p.SetStalled(false)
	c.SetReadDeadline(time.Time{})
	if l, err := br.ReadString('\n'); err != nil || l != "echo: held\r\n" {
		t.Fatalf("after the stall: %q %v", l, err)
	}
}

func TestRateKeepsBytes(t *testing.T) {
	g := bigGreeting()[:20000]
	p := New(t, streamServer(t, g))
	p.SetRate(100000)
	c := dial(t, p)
	got := make([]byte, len(g))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, g) {
		t.Fatalf("slow read: %v", err)
	}
}

func TestLineFilterAndRefuse(t *testing.T) {
	p := New(t, streamServer(t, []byte("* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] hi\r\n")))
	p.SetServerLineFilter(func(l []byte) []byte {
		return bytes.ReplaceAll(l, []byte(" STARTTLS"), nil)
	})
	c := dial(t, p)
	l, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || strings.Contains(l, "STARTTLS") {
		t.Fatalf("filtered greeting %q, %v", l, err)
	}
	p.SetRefuse(true)
	c2 := dial(t, p)
	if _, err := c2.Read(make([]byte, 1)); err == nil {
		t.Fatal("refused connection answered")
	}
	p.DropAll()
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("dropped connection answered")
	}
}

func TestDropAfterBytesEveryConnection(t *testing.T) {
	g := bigGreeting()
	p := New(t, streamServer(t, g))
	p.SetDropAfter(1000)
	for i := 0; i < 2; i++ {
		c := dial(t, p)
		got, _ := io.ReadAll(c)
		if !bytes.Equal(got, g[:1000]) {
			t.Errorf("connection %d: got %d bytes, want the first 1000", i, len(got))
		}
	}
	if n := p.Dropped(); n != 2 {
		t.Errorf("Dropped() = %d, want 2", n)
	}
	p.SetDropAfter(0)
	c := dial(t, p)
	got := make([]byte, len(g))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, g) {
		t.Errorf("without the limit: %v", err)
	}
	// The count goes up just after the write that delivered the bytes
	// returns: the client may have read them a moment before.
	want := int64(2000 + len(g))
	for deadline := time.Now().Add(2 * time.Second); p.Through(Down) != want && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if n := p.Through(Down); n != want {
		t.Errorf("Through(Down) = %d, want %d", n, want)
	}
}

func TestLatencyDelaysEachDirection(t *testing.T) {
	p := New(t, streamServer(t, []byte("* OK\r\n")))
	p.SetLatency(40 * time.Millisecond)
	c := dial(t, p)
	br := bufio.NewReader(c)
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	io.WriteString(c, "a1 NOOP\r\n")
	line, err := br.ReadString('\n')
	if err != nil || line != "echo: a1 NOOP\r\n" {
		t.Fatalf("echo %q, %v", line, err)
	}
	if rtt := time.Since(start); rtt < 80*time.Millisecond {
		t.Errorf("round trip %v, want at least twice the 40ms latency", rtt)
	}
}

func TestLinkRateIsShared(t *testing.T) {
	g := bigGreeting() // 100 KB each
	p := New(t, streamServer(t, g))
	p.SetLinkRate(400 << 10)
	start := time.Now()
	done := make(chan int, 2)
	for i := 0; i < 2; i++ {
		c := dial(t, p)
		go func() {
			got := make([]byte, len(g))
			n, _ := io.ReadFull(c, got)
			done <- n
		}()
	}
	for i := 0; i < 2; i++ {
		if n := <-done; n != len(g) {
			t.Errorf("got %d bytes, want %d", n, len(g))
		}
	}
	// 200 KB over a 400 KB/s link shared by both: at least about 0.5 s.
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Errorf("two connections moved 200 KB in %v over a 400 KB/s link", d)
	}
}
