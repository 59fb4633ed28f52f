package imapconn

import (
	"testing"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/internal/testenv/fakeimap"
)

// TryGet takes an idle connection and never dials nor waits: nil with
// none idle, nil at max_connections.
func TestPoolTryGetNeverDials(t *testing.T) {
	srv := fakeimap.Start(t, fakeimap.New())
	p := NewPool(fakeAccount(t, srv.Port(), config.TLSNone), DialOptions{Password: "pw"}, 2)
	defer p.Close()
	ctx := testCtx(t)
	if c := p.TryGet(ctx); c != nil || srv.Sessions() != 0 {
		t.Fatalf("TryGet on an empty pool: %v, %d sessions", c, srv.Sessions())
	}
	c1, err := p.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := p.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p.Put(c2)
	got := p.TryGet(ctx)
	if got != c2 {
		t.Fatalf("TryGet: %v, want the idle connection", got)
	}
	// Both in use: max_connections reached.
	p.Put(c1)
	if c := p.TryGet(ctx); c != c1 {
		t.Fatalf("TryGet: %v, want the idle c1", c)
	}
	if c := p.TryGet(ctx); c != nil {
		t.Fatalf("TryGet beyond max_connections: %v", c)
	}
	p.Put(c1)
	p.Put(got)
	if srv.Sessions() != 2 {
		t.Errorf("%d sessions, want 2", srv.Sessions())
	}
}
