package daemon_test

import (
	"testing"
	"time"

	"github.com/mailmirror/mailmirror/internal/testenv"
)

// TestPassAfterWatchdogSkipsDeadPooledConn: the link dies under the daemon
// (every open connection goes silent, new ones work). The IDLE watchdog
// drops its connection and reconnects; the pass it asks for must not take
// the pass's pooled connection from the dead link and wait out the
// two-minute command timeout on it: a NOOP (at most 10 s) finds it dead
// and a new connection fetches the message. Before, the message waited
// for the command timeout (here longer than the test's 60 s deadline).
func TestPassAfterWatchdogSkipsDeadPooledConn(t *testing.T) {
	u := testenv.Shared(t).NewUser(t)
	p := startProxy(t, u.IMAPAddr())
	f := newFixture(t, u, p.port(), "")
	opts := testOptions()
	opts.WatchdogInterval = 300 * time.Millisecond
	opts.WatchdogTimeout = time.Second
	opts.CommandTimeout = 3 * time.Minute
	f.start(opts)
	eventually(t, func() string { return "no IDLE connection" }, func() bool { return p.idling() == 1 })
	f.settle() // the first pass is over: its connection rests in the pool

	p.freezeAll()
	raw := f.msg("after the link died")
	u.Append(t, "INBOX", raw)
	eventually(t, func() string { return "the message never arrived: the pass hangs on a dead pooled connection" }, func() bool {
		return len(f.local("INBOX")[msgID(raw)]) == 1
	})
}
