package cli

import (
	"testing"
	"time"

	"github.com/mailmirror/mailmirror/internal/testenv"
	"github.com/mailmirror/mailmirror/internal/testenv/faultproxy"
	"github.com/mailmirror/mailmirror/maildir"
)

// `mailmirror run` with its connections (IDLE included) going through a
// fault-injection proxy: every connection dropped, every connection reset,
// the server unreachable for a while. Changes made on both sides meanwhile
// arrive after the recovery, once each, within a stated time.
func TestFaultDaemonConnectionsCut(t *testing.T) {
	const within = 60 * time.Second
	w := newWorld(t, 21)
	for i := 0; i < 6; i++ {
		w.serverOp()
	}
	p := faultproxy.New(t, w.u.IMAPAddr())
	dev := w.newDeviceOn("cut", "2s", p.Port())
	run := startRun(t, dev)
	run.waitReady(t, 2*time.Minute)
	disturb := []struct {
		name  string
		start func()
		end   func()
	}{
		{"every connection dropped", p.DropAll, func() {}},
		{"every connection reset", p.ResetAll, func() {}},
		{"server unreachable for 3 s", func() { p.SetRefuse(true); p.DropAll() }, func() {
			time.Sleep(3 * time.Second)
			p.SetRefuse(false)
		}},
		{"IDLE answer stalled, then released", func() { p.SetStalled(true) }, func() {
			time.Sleep(2 * time.Second)
			p.SetStalled(false)
		}},
	}
	for _, d := range disturb {
		before := p.Accepted()
		d.start()
		for i := 0; i < 3; i++ {
			w.serverOp()
			w.localOp(dev.root, "local")
		}
		d.end()
		took := w.converge(within, dev.root)
		t.Logf("%s: converged %.1fs after the recovery; %d new connections", d.name, took.Seconds(), p.Accepted()-before)
	}
	run.stop(t)
	server := w.serverView()
	local := testenv.ReadMaildir(t, dev.root, maildir.LayoutVerbatim)
	for _, diff := range testenv.DiffAccount(server, local) {
		t.Errorf("after stop: %s", diff)
	}
	w.checkInvariants("server", server)
	w.checkInvariants("local", local)
	if t.Failed() {
		w.dumpOps()
		t.Logf("daemon log:\n%s", run.output())
	}
}
