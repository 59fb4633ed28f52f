package imapconn

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/internal/testenv/fakeimap"
)

func TestPoolReusesAndBounds(t *testing.T) {
	srv := fakeimap.Start(t, fakeimap.New())
	p := NewPool(fakeAccount(t, srv.Port(), config.TLSNone), DialOptions{Password: "pw"}, 1)
	defer p.Close()
	ctx := testCtx(t)
	c1, err := p.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// max 1: a second Get waits until the first is given back.
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	if _, err := p.Get(short); err == nil {
		t.Fatal("a second connection beyond max_connections")
	}
	cancel()
	p.Put(c1)
	c2, err := p.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c2 != c1 || srv.Sessions() != 1 {
		t.Errorf("the idle connection was not reused (%d sessions)", srv.Sessions())
	}
	// A discarded connection is closed and replaced by a new one.
	p.Discard(c2)
	select {
	case <-c2.Closed():
	case <-time.After(5 * time.Second):
		t.Fatal("Discard did not close the connection")
	}
	c3, err := p.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c3 == c2 || srv.Sessions() != 2 {
		t.Errorf("after Discard: same conn %v, %d sessions", c3 == c2, srv.Sessions())
	}
	p.Put(c3)
}

func TestPoolSkipsClosedIdleConn(t *testing.T) {
	srv := fakeimap.Start(t, fakeimap.New())
	p := NewPool(fakeAccount(t, srv.Port(), config.TLSNone), DialOptions{Password: "pw"}, 2)
	defer p.Close()
	ctx := testCtx(t)
	c, err := p.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p.Put(c)
	c.Close()
	<-c.Closed()
	c2, err := p.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Put(c2)
	if c2 == c || srv.Sessions() != 2 {
		t.Errorf("a closed idle connection was handed out again")
	}
}

func TestPoolCloseLogsOut(t *testing.T) {
	srv := fakeimap.Start(t, fakeimap.New())
	p := NewPool(fakeAccount(t, srv.Port(), config.TLSNone), DialOptions{Password: "pw"}, 2)
	c, err := p.Get(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	p.Put(c)
	p.Close()
	<-c.Closed()
	deadline := time.Now().Add(5 * time.Second)
	for {
		logout := false
		for _, cmd := range srv.Commands() {
			if strings.Contains(cmd, "LOGOUT") {
				logout = true
			}
		}
		if logout {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no LOGOUT sent: %q", srv.Commands())
		}
		time.Sleep(10 * time.Millisecond)
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

// A Get while a Warm dial is still logging in waits for that connection
// instead of dialling a second one (mailmirror sync dials while it opens
// its state; a no-change pass needs one connection, not two logins).
func TestPoolGetTakesTheWarmingConnection(t *testing.T) {
	fs := fakeimap.New()
	var logins atomic.Int32
	release := make(chan struct{})
	fs.Hook = func(_ *fakeimap.Session, c *fakeimap.Command) bool {
		if c.Name == "LOGIN" && logins.Add(1) == 1 {
			<-release
		}
		return false
	}
	srv := fakeimap.Start(t, fs)
	p := NewPool(fakeAccount(t, srv.Port(), config.TLSNone), DialOptions{Password: "pw"}, 4)
	defer p.Close()
	ctx := testCtx(t)
	p.Warm(ctx, 1)
	for logins.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	go func() {
		time.Sleep(50 * time.Millisecond)
		close(release)
	}()
	c, err := p.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p.Put(c)
	if n := srv.Sessions(); n != 1 {
		t.Errorf("%d sessions, want the warmed one only", n)
	}
}

// A Warm dial that fails hands its error to the Get waiting for it: one
// refused login, not a second attempt.
func TestPoolWarmFailureReachesGet(t *testing.T) {
	fs := fakeimap.New()
	fs.Users = map[string]string{"someone": "other"}
	srv := fakeimap.Start(t, fs)
	p := NewPool(fakeAccount(t, srv.Port(), config.TLSNone), DialOptions{Password: "pw"}, 4)
	defer p.Close()
	ctx := testCtx(t)
	p.Warm(ctx, 1)
	if _, err := p.Get(ctx); !errors.Is(err, ErrAuth) {
		t.Fatalf("Get after a refused warm login: %v, want ErrAuth", err)
	}
	if n := srv.Sessions(); n != 1 {
		t.Errorf("%d sessions, want the warm one only", n)
	}
}
