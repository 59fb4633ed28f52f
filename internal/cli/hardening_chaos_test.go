package cli

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/mailmirror/mailmirror/internal/testenv"
	"github.com/mailmirror/mailmirror/maildir"
)

// chaosSeed is the seed of the random changes and kill moments:
// MAILMIRROR_CHAOS_SEED replays another run.
func chaosSeed(t *testing.T) uint64 {
	seed := uint64(1)
	if s := os.Getenv("MAILMIRROR_CHAOS_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("MAILMIRROR_CHAOS_SEED: %v", err)
		}
		seed = n
	}
	t.Logf("seed %d (MAILMIRROR_CHAOS_SEED=%d replays it)", seed, seed)
	return seed
}

// Crash chaos: `mailmirror run` is killed with SIGKILL at 30 random
// moments (seeded) while another client and the local side change things:
// new mail, flag changes, deletes and moves on both sides, new local
// messages. After the last start and a quiet period the server and the
// Maildir agree exactly (Message-IDs per folder, flags), nothing created
// is lost unless deleted on purpose, and nothing is there twice.
func TestHardeningCrashChaos(t *testing.T) {
	const kills = 30
	w := newWorld(t, chaosSeed(t))
	dev := w.newDevice("chaos", "2s")
	for i := 0; i < 12; i++ {
		w.serverOp()
	}
	killed := 0
	for k := 0; k < kills; k++ {
		p := startRun(t, dev)
		w.logf("--- start %d", k)
		// Changes while it starts and runs, then the kill at a random
		// moment: during start-up, the first pass, IDLE, a targeted
		// update.
		deadline := time.Now().Add(time.Duration(50+w.rnd.IntN(1500)) * time.Millisecond)
		for time.Now().Before(deadline) {
			switch w.rnd.IntN(3) {
			case 0:
				w.serverOp()
			case 1:
				w.localOp(dev.root, "local")
			}
			time.Sleep(time.Duration(w.rnd.IntN(150)) * time.Millisecond)
		}
		select {
		case err := <-p.exited:
			p.exited <- err
			t.Fatalf("the daemon exited by itself (%v):\n%s", err, p.output())
		default:
		}
		p.kill()
		w.logf("--- SIGKILL %d", k)
		killed++
		// Sometimes a change while it is down.
		if w.rnd.IntN(3) == 0 {
			w.localOp(dev.root, "local")
			w.serverOp()
		}
	}
	t.Logf("%d kills", killed)
	// The last start, then quiet.
	p := startRun(t, dev)
	p.waitReady(t, 2*time.Minute)
	took := w.converge(90*time.Second, dev.root)
	t.Logf("converged %.1fs after the last start was ready", took.Seconds())
	p.stop(t)
	server := w.serverView()
	local := testenv.ReadMaildir(t, dev.root, maildir.LayoutVerbatim)
	for _, d := range testenv.DiffAccount(server, local) {
		t.Errorf("after the daemon stopped: %s", d)
	}
	w.checkInvariants("server", server)
	w.checkInvariants("local", local)
	if t.Failed() {
		w.dumpOps()
		t.Logf("last daemon's log:\n%s", p.output())
	}
}

// Multi-device convergence: two daemons (two Maildirs, two state
// directories) on one account and a third client make random changes for
// a bounded number of rounds; within a stated time after the last change
// (convergeWithin) the three views hold the same folders, messages and
// flags, with nothing lost and nothing twice.
func TestHardeningMultiDeviceConvergence(t *testing.T) {
	const (
		rounds         = 12
		convergeWithin = 45 * time.Second
	)
	w := newWorld(t, chaosSeed(t)+1000)
	for i := 0; i < 10; i++ {
		w.serverOp()
	}
	a, b := w.newDevice("a", "2s"), w.newDevice("b", "2s")
	pa, pb := startRun(t, a), startRun(t, b)
	pa.waitReady(t, 2*time.Minute)
	pb.waitReady(t, 2*time.Minute)
	for r := 0; r < rounds; r++ {
		for i := w.rnd.IntN(3); i >= 0; i-- {
			switch w.rnd.IntN(3) {
			case 0:
				w.serverOp()
			case 1:
				w.localOp(a.root, "a")
			case 2:
				w.localOp(b.root, "b")
			}
		}
		time.Sleep(time.Duration(100+w.rnd.IntN(700)) * time.Millisecond)
	}
	took := w.converge(convergeWithin, a.root, b.root)
	t.Logf("all three views agree %.1fs after the last change (bound %s)", took.Seconds(), convergeWithin)
	pa.stop(t)
	pb.stop(t)
	server := w.serverView()
	w.checkInvariants("server", server)
	for _, d := range []*device{a, b} {
		local := testenv.ReadMaildir(t, d.root, maildir.LayoutVerbatim)
		for _, diff := range testenv.DiffAccount(server, local) {
			t.Errorf("device %s after stop: %s", d.name, diff)
		}
		w.checkInvariants("device "+d.name, local)
	}
	if t.Failed() {
		w.dumpOps()
		t.Logf("daemon a:\n%s\ndaemon b:\n%s", pa.output(), pb.output())
	}
}
