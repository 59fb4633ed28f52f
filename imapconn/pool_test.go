package imapconn

import (
	"context"
	"strings"
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
