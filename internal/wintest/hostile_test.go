//go:build linux

package wintest

import (
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mailmirror/mailmirror/internal/testenv"
	"github.com/mailmirror/mailmirror/internal/testenv/fakeimap"
)

// A hostile server's folder names that Windows refuses or rewrites
// (device names, backslashes, trailing dots and spaces, drive letters,
// colons, wildcards) or that climb out of the Maildir: under Wine every
// file lands inside the Maildir, every stored folder decodes back to its
// server name with its message, and a second pass changes nothing.
func TestWineHostileFolderNames(t *testing.T) {
	w := newWin(t)
	rng := rand.New(rand.NewPCG(3, 20))
	srv := fakeimap.New()
	srv.Caps = []string{"UIDPLUS", "MOVE", "ESEARCH", "LIST-STATUS", "NAMESPACE", "CONDSTORE"}
	names := []string{
		"CON", "NUL", "aux.txt", "COM1", "lpt9.log", "PRN/sub", `back\slash`, `..\..\evil`, `\evil`,
		`C:\Windows`, "trailing.", "trailing ", "dots...", " lead", "a:b", "*", "?", `"quoted"`, "<>|",
		"../x", "cur", strings.Repeat("L", 200),
	}
	want := map[string][]string{} // folder → Message-IDs
	srv.Lock()
	for _, n := range append([]string{"INBOX"}, names...) {
		msg := testenv.GenMessage(rng, nil)
		srv.AddMailbox(n).Add([]byte(strings.ReplaceAll(string(msg), "\n", "\r\n")))
		want[n] = []string{testenv.MessageIDOf(msg)}
	}
	srv.Unlock()
	fakeimap.Start(t, srv)
	dev := newDevice(t, "hostile", "secret", srv.Port(), "")

	out, stderr, code := w.run("--config", dev.winCfg, "sync")
	confined(t, dev)
	local := readMaildir(t, dev.root)
	var stored []string
	for folder, msgs := range local {
		ids, ok := want[folder]
		if !ok {
			t.Errorf("local folder %q is no server folder", folder)
			continue
		}
		stored = append(stored, folder)
		var got []string
		for _, m := range msgs {
			got = append(got, m.MessageID)
		}
		if !slices.Equal(got, ids) {
			t.Errorf("folder %q holds %q, want %q", folder, got, ids)
		}
	}
	slices.Sort(stored)
	t.Logf("stored %d of %d folders: %q", len(stored), len(want), stored)
	if len(stored) != len(want) {
		t.Errorf("exit %d; folders not stored:\n%s%s", code, out, stderr)
	}
	// A second pass downloads nothing again, uploads nothing.
	out = w.mustRun("--config", dev.winCfg, "sync")
	if !strings.Contains(out, "down: 0 new") || !strings.Contains(out, "up: 0 new") {
		t.Errorf("second pass is not quiet:\n%s", out)
	}
	if n := len(files(dev.root)); n != len(stored) {
		t.Errorf("%d files after the second pass, want %d", n, len(stored))
	}
	confined(t, dev)
}

// confined fails t for any file or directory of the test's directory
// outside the Maildir, the state directory and the config directory.
func confined(t *testing.T, dev *device) {
	t.Helper()
	allowed := []string{dev.root, filepath.Join(dev.dir, "state"), filepath.Dir(dev.cfg)}
	filepath.WalkDir(filepath.Dir(dev.dir), func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			t.Error(err)
			return nil
		}
		for _, a := range allowed {
			if p == a || strings.HasPrefix(p, a+string(filepath.Separator)) || strings.HasPrefix(a, p+string(filepath.Separator)) || p == filepath.Dir(dev.dir) {
				return nil
			}
		}
		t.Errorf("outside the Maildir: %s", p)
		return nil
	})
}
