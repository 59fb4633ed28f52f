//go:build linux

package wintest

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/mailmirror/mailmirror/internal/testenv"
)

// The Windows process killed the way taskkill /F kills it (no handler
// runs) in the middle of a first sync, twice: the next sync completes it
// and the Maildir holds every message once, with its flags.
func TestWineKillDuringFirstSync(t *testing.T) {
	w := newWin(t)
	u := testenv.Shared(t).NewUser(t)
	rng := rand.New(rand.NewPCG(4, 20))
	folders := []string{"INBOX", "Archive", "Lists/a", "Lists/b"}
	for _, f := range folders {
		if f != "INBOX" {
			u.CreateFolder(t, f)
		}
		fill(t, u, rng, f, 50)
	}
	dev := newDevice(t, u.Name, u.Password, u.Server().IMAPPort, "")

	killed := 0
	seen := 0
	for round := 0; round < 2; round++ {
		p := w.start("--config", dev.winCfg, "sync")
		// Kill once more files are published than at the last kill.
		deadline := time.Now().Add(time.Minute)
		done := false
		for !done && time.Now().Before(deadline) {
			select {
			case err := <-p.exited:
				p.exited <- err
				done = true
				continue
			default:
			}
			if n := len(files(dev.root)); n > seen {
				seen = n
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if done {
			t.Logf("round %d: the sync finished before it could be killed:\n%s", round, p.output())
			continue
		}
		p.kill()
		seen = len(files(dev.root))
		killed++
		t.Logf("round %d: killed with %d files published", round, len(files(dev.root)))
	}
	out := w.mustRun("--config", dev.winCfg, "sync")
	assertSame(t, u, dev.root)
	if n := len(files(dev.root)); n != 4*50 {
		t.Errorf("%d files in the Maildir, want %d", n, 4*50)
	}
	out = w.mustRun("--config", dev.winCfg, "sync")
	if !strings.Contains(out, "down: 0 new") || !strings.Contains(out, "up: 0 new") {
		t.Errorf("the pass after recovery is not quiet:\n%s", out)
	}
	if killed == 0 {
		t.Errorf("no sync was killed mid-way: the test proved nothing")
	}
}
