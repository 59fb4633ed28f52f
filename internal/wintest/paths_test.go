//go:build linux

package wintest

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailmirror/mailmirror/internal/testenv"
)

// profileDir returns the Linux path of a Windows profile folder of the
// prefix (%APPDATA%, %LOCALAPPDATA%), as Wine's cmd expands it.
func profileDir(t *testing.T, w *win, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	cmd := w.command(ctx, "cmd", "/c", "echo %"+name+"%")
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("cmd /c echo %%%s%%: %v", name, err)
	}
	v := strings.TrimSpace(out.String())
	if !strings.HasPrefix(strings.ToUpper(v), `C:\`) {
		t.Fatalf("%%%s%% is %q, want a path on C:", name, v)
	}
	return filepath.Join(w.prefix, "drive_c", filepath.FromSlash(strings.ReplaceAll(v[3:], `\`, "/")))
}

// Without --config and state_dir the Windows build reads
// %APPDATA%\mailmirror\config.toml and keeps its state in
// %LOCALAPPDATA%\mailmirror, as config-reference.md says.
func TestWineDefaultPathsInProfile(t *testing.T) {
	w := newWin(t)
	u := testenv.Shared(t).NewUser(t)
	fill(t, u, rand.New(rand.NewPCG(7, 20)), "INBOX", 3)
	cfgDir := filepath.Join(profileDir(t, w, "APPDATA"), "mailmirror")
	stateDir := filepath.Join(profileDir(t, w, "LOCALAPPDATA"), "mailmirror")
	for _, d := range []string{cfgDir, stateDir} {
		os.RemoveAll(d) // a killed run's
		t.Cleanup(func() { os.RemoveAll(d) })
	}
	if err := os.MkdirAll(cfgDir, 0o700); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "Mail Dir")
	writeConfig(t, filepath.Join(cfgDir, "config.toml"), "", u.Name, u.Password, u.Server().IMAPPort, root, "")
	w.env = append(w.env, "MAILMIRROR_CONFIG=")
	w.mustRun("check")
	w.mustRun("sync")
	assertSame(t, u, root)
	if _, err := os.Stat(filepath.Join(stateDir, "state.db")); err != nil {
		t.Errorf("state not in %%LOCALAPPDATA%%\\mailmirror: %v", err)
	}
	if out := w.mustRun("status"); !strings.Contains(out, `AppData\Local\mailmirror`) {
		t.Errorf("status does not show the state in %%LOCALAPPDATA%%:\n%s", out)
	}
}

// A Maildir deeper than Windows' old MAX_PATH (260 characters), with a
// long folder name in it: the first sync and a second pass work.
func TestWineLongPaths(t *testing.T) {
	w := newWin(t)
	u := testenv.Shared(t).NewUser(t)
	long := "Projects/" + strings.Repeat("long folder name ", 10)
	u.CreateFolder(t, long)
	rng := rand.New(rand.NewPCG(8, 20))
	fill(t, u, rng, "INBOX", 2)
	fill(t, u, rng, long, 2)
	dev := newDevice(t, u.Name, u.Password, u.Server().IMAPPort, "")
	root := filepath.Join(dev.dir, strings.Repeat("a deep directory/", 16), "Mail")
	writeConfig(t, dev.cfg, "state_dir = '"+winPath(filepath.Join(dev.dir, "state"))+"'\n",
		u.Name, u.Password, u.Server().IMAPPort, root, "")
	if n := len(winPath(root)); n <= 260 {
		t.Fatalf("the Maildir's path has %d characters, want more than 260", n)
	}
	w.mustRun("--config", dev.winCfg, "sync")
	assertSame(t, u, root)
	for _, f := range files(root) {
		if len(winPath(f)) > 400 {
			t.Logf("longest file path: %d characters", len(winPath(f)))
			break
		}
	}
	if out := w.mustRun("--config", dev.winCfg, "sync"); !strings.Contains(out, "down: 0 new") {
		t.Errorf("second pass is not quiet:\n%s", out)
	}
}
