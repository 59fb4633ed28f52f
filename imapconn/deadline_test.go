package imapconn

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/internal/testenv/fakeimap"
)

// silentAfterLogin makes the server answer LOGIN and then nothing at all
// on the sessions for which silent returns true.
func silentAfterLogin(srv *fakeimap.Server, silent func(session int) bool) {
	srv.Hook = func(s *fakeimap.Session, c *fakeimap.Command) bool {
		return c.Name != "LOGIN" && silent(s.N)
	}
}

// TestSilentServerFailsWithinTimeout: go-imap reads again after a read
// timed out; with a deadline renewed at each read, a server that went
// silent after LOGIN held a command for several timeouts. The deadline is
// per command now: the command fails after about one.
func TestSilentServerFailsWithinTimeout(t *testing.T) {
	srv := fakeimap.New()
	silentAfterLogin(srv, func(int) bool { return true })
	fakeimap.Start(t, srv)
	const timeout = 400 * time.Millisecond
	c, err := Dial(testCtx(t), fakeAccount(t, srv.Port(), config.TLSNone), DialOptions{Password: "pw", Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- c.Noop().Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a NOOP the server never answered succeeded")
		}
		// Well under two timeouts: no read after the first timeout
		// may wait again.
		if took := time.Since(start); took > 2*timeout {
			t.Errorf("the NOOP failed after %v, with a timeout of %v", took, timeout)
		}
	case <-time.After(20 * timeout):
		t.Fatalf("the NOOP was still waiting after %v (timeout %v)", 20*timeout, timeout)
	}
}

// TestPoolChecksIdleConnsAfterDeadLink: once a connection of the link was
// found dead (the daemon's IDLE watchdog), an idle connection of the pool
// is not handed out without a NOOP: a dead one is replaced by a new one.
func TestPoolChecksIdleConnsAfterDeadLink(t *testing.T) {
	srv := fakeimap.New()
	var dead atomic.Int32 // a session that went dead
	silentAfterLogin(srv, func(n int) bool { return int32(n) == dead.Load() })
	fakeimap.Start(t, srv)
	link := NewLink()
	p := NewPool(fakeAccount(t, srv.Port(), config.TLSNone), DialOptions{Password: "pw", Timeout: time.Minute, Link: link}, 2)
	defer p.Close()
	ctx := testCtx(t)
	c1, err := p.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p.Put(c1)
	dead.Store(1)
	// Another connection of the account (an IDLE one) is found dead.
	link.MarkDead()
	p.opts.Timeout = 300 * time.Millisecond // the NOOP's bound (probeTimeout)
	c2, err := p.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Put(c2)
	if c2 == c1 {
		t.Fatal("the pool handed out the idle connection of a dead link unchecked")
	}
	if err := c2.Noop().Wait(); err != nil {
		t.Errorf("the new connection: %v", err)
	}
	if srv.Sessions() != 2 {
		t.Errorf("%d sessions, want 2", srv.Sessions())
	}
}

// TestPoolGetClosesOnCancel: a command blocked on a silent server returns
// when the context the connection was taken with ends (SIGTERM, Ctrl-C),
// not after the read timeout.
func TestPoolGetClosesOnCancel(t *testing.T) {
	srv := fakeimap.New()
	silentAfterLogin(srv, func(int) bool { return true })
	fakeimap.Start(t, srv)
	p := NewPool(fakeAccount(t, srv.Port(), config.TLSNone), DialOptions{Password: "pw", Timeout: time.Hour}, 1)
	defer p.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := p.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- c.Noop().Wait() }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Error("the NOOP succeeded")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the blocked command did not return when the context ended")
	}
	p.Discard(c)
}
