package daemon_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mailmirror/mailmirror/internal/testenv"
)

// TestWatchdogRecoversSilentIDLE: the network silently stops carrying the
// IDLE connection (no FIN, no RST: bytes just vanish); the watchdog's NOOP
// gets no answer, the daemon closes the connection, reconnects, and a new
// message still arrives by push (poll_interval is an hour).
func TestWatchdogRecoversSilentIDLE(t *testing.T) {
	u := testenv.Shared(t).NewUser(t)
	p := startProxy(t, u.IMAPAddr())
	f := newFixture(t, u, p.port(), "")
	opts := testOptions()
	opts.WatchdogInterval = 300 * time.Millisecond
	opts.WatchdogTimeout = time.Second
	f.start(opts)
	eventually(t, func() string { return "no IDLE connection through the proxy" }, func() bool { return p.idling() == 1 })

	if n := p.freezeIdle(); n != 1 {
		t.Fatalf("froze %d IDLE connections, want 1", n)
	}
	raw := f.msg("after the freeze")
	u.Append(t, "INBOX", raw)
	eventually(t, func() string { return "the message never arrived after the IDLE connection went silent" }, func() bool {
		return len(f.local("INBOX")[msgID(raw)]) == 1
	})
	st := f.status()
	if len(st.Idle) != 1 || st.Idle[0].Reconnects < 1 {
		t.Errorf("IDLE status %+v, want a reconnect", st.Idle)
	}
	if !strings.Contains(f.logs.String(), "watchdog: ") {
		t.Errorf("the log does not show the watchdog closing the connection")
	}
	// Still pushing on the new connection.
	raw2 := f.msg("on the new connection")
	u.Append(t, "INBOX", raw2)
	eventually(t, func() string { return "no push on the new IDLE connection" }, func() bool {
		return len(f.local("INBOX")[msgID(raw2)]) == 1
	})
}

// TestIDLEReconnectsAfterServerDrop: the connection is closed under the
// daemon (server restart); it reconnects with backoff and the message sent
// meanwhile arrives.
func TestIDLEReconnectsAfterServerDrop(t *testing.T) {
	u := testenv.Shared(t).NewUser(t)
	p := startProxy(t, u.IMAPAddr())
	f := newFixture(t, u, p.port(), "")
	f.start(testOptions())
	eventually(t, func() string { return "no IDLE connection" }, func() bool { return p.idling() == 1 })
	p.setDown(true)
	raw := f.msg("while down")
	u.Append(t, "INBOX", raw)
	eventually(t, func() string { return "IDLE still shown connected" }, func() bool {
		st := f.status()
		return len(st.Idle) == 1 && !st.Idle[0].Connected
	})
	p.setDown(false)
	eventually(t, func() string { return "the message never arrived after the reconnect" }, func() bool {
		return len(f.local("INBOX")[msgID(raw)]) == 1
	})
}

// TestStopWhileTheServerHangs: the server stops answering in the middle of
// a pass; a stop still returns (after the grace period) instead of waiting
// for the connections' read timeouts.
func TestStopWhileTheServerHangs(t *testing.T) {
	u := testenv.Shared(t).NewUser(t)
	p := startProxy(t, u.IMAPAddr())
	f := newFixture(t, u, p.port(), "")
	opts := testOptions()
	opts.ShutdownGrace = 500 * time.Millisecond
	f.start(opts)
	eventually(t, func() string { return "no IDLE" }, func() bool { return p.idling() == 1 })
	p.freezeAll()
	u.Append(t, "INBOX", f.msg("never fetched")) // the IDLE push is swallowed too
	go f.d.Sync(context.Background(), nil)       // a pass on the frozen connections
	eventually(t, func() string { return "the pass never started" }, func() bool { return f.status().Syncing })
	f.stop() // must return: the test's deadline would fail it otherwise
}
