package imapconn

import (
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
