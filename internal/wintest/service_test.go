//go:build linux

package wintest

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailmirror/mailmirror/internal/testenv"
)

// The settings install may report as not applied where the SCM refuses
// their ChangeServiceConfig2 level (Wine's does); any other note is a
// failure.
var refusable = []string{
	"not applied: reading the recovery actions back: ",
	"not applied: recovery also when the service stops with an error: ",
	"not applied: delayed automatic start: ",
}

// service install, start, status, stop and uninstall in Wine's service
// manager, which failed with "install: Invalid level." before: the daemon
// runs under the SCM (it syncs, IDLE brings a new message, status reaches
// it) and stops cleanly on stop (its state database closed: no -wal file
// left, as a killed daemon leaves).
func TestWineService(t *testing.T) {
	w := newWin(t)
	u := testenv.Shared(t).NewUser(t)
	rng := rand.New(rand.NewPCG(5, 20))
	fill(t, u, rng, "INBOX", 4)
	dev := newDevice(t, u.Name, u.Password, u.Server().IMAPPort, "")
	cfg := []string{"--config", dev.winCfg}
	svc := func(action string) (string, int) {
		out, stderr, code := w.run(append(cfg, "service", action)...)
		return out + stderr, code
	}
	if out, _ := svc("status"); !strings.Contains(out, "not installed") {
		// A run killed before its cleanup left it behind.
		svc("uninstall")
	}
	t.Cleanup(func() {
		if out, _ := svc("status"); !strings.Contains(out, "not installed") {
			svc("uninstall")
		}
	})

	out, code := svc("install")
	if code != 0 || !strings.Contains(out, "\nstarted\n") {
		t.Fatalf("install: exit %d\n%s", code, out)
	}
	for _, line := range strings.Split(out, "\n") {
		if !strings.Contains(line, "not applied:") {
			continue
		}
		ok := false
		for _, r := range refusable {
			ok = ok || strings.Contains(line, r) && strings.Contains(line, "refused by the service manager")
		}
		if !ok {
			t.Errorf("install: unexpected warning %q", line)
		}
	}
	if out, _ := svc("status"); !strings.Contains(out, "state:    running") ||
		!strings.Contains(out, `"`+winPath(w.exe)+`" run --config "`+dev.winCfg+`"`) {
		t.Errorf("status after install:\n%s", out)
	}
	converges(t, u, dev.root, "first sync under the SCM")
	if out := w.mustRun(append(cfg, "status")...); !strings.Contains(out, "daemon: running") {
		t.Errorf("status does not reach the service's daemon:\n%s", out)
	}
	u.Append(t, "INBOX", testenv.GenMessage(rng, nil))
	converges(t, u, dev.root, "a new server message under the SCM")

	if out, code := svc("stop"); code != 0 || !strings.Contains(out, "stopped mailmirror") {
		t.Errorf("stop: exit %d\n%s", code, out)
	}
	if out, _ := svc("status"); !strings.Contains(out, "state:    stopped") {
		t.Errorf("status after stop:\n%s", out)
	}
	eventually(t, 30*time.Second, "the daemon closed its state database", func() bool {
		_, err := os.Stat(filepath.Join(dev.dir, "state", "state.db-wal"))
		return os.IsNotExist(err)
	})
	if out := w.mustRun(append(cfg, "status")...); !strings.Contains(out, "daemon: not running") {
		t.Errorf("status after stop:\n%s", out)
	}
	if out, code := svc("start"); code != 0 || !strings.Contains(out, "started mailmirror") {
		t.Errorf("start: exit %d\n%s", code, out)
	}
	if out, code := svc("uninstall"); code != 0 {
		t.Errorf("uninstall: exit %d\n%s", code, out)
	}
	if out, _ := svc("status"); !strings.Contains(out, "not installed") {
		t.Errorf("status after uninstall:\n%s", out)
	}
	if out := w.mustRun(append(cfg, "status")...); !strings.Contains(out, "daemon: not running") {
		t.Errorf("uninstall left the daemon running:\n%s", out)
	}
}
