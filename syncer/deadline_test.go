package syncer

import (
	"context"
	"testing"
	"time"

	"github.com/mailmirror/mailmirror/internal/testenv/fakeimap"
)

// TestPassAgainstServerSilentAfterLogin: a one-shot pass against a server
// that answers LOGIN and then nothing fails after about one read timeout
// (it took four, one per read go-imap retried), saying so.
func TestPassAgainstServerSilentAfterLogin(t *testing.T) {
	srv := fakeimap.New()
	srv.Hook = func(s *fakeimap.Session, c *fakeimap.Command) bool { return c.Name != "LOGIN" }
	h := newHostile(t, srv)
	const timeout = 500 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := New(h.acct, h.store, h.db, Options{DialOptions: DialOptions{Password: "pw", Timeout: timeout}})
	defer s.Close()
	start := time.Now()
	_, err := s.Sync(ctx)
	took := time.Since(start)
	if err == nil {
		t.Fatal("a pass against a silent server succeeded")
	}
	t.Logf("failed after %v: %v", took, err)
	if took > 3*timeout {
		t.Errorf("the pass failed after %v with a read timeout of %v", took, timeout)
	}
}
