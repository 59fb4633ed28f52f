//go:build linux

package wintest

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/internal/testenv"
)

// fill appends n generated messages to folder, every third one seen and
// every fifth flagged.
func fill(t *testing.T, u *testenv.User, rng *rand.Rand, folder string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		var flags []imap.Flag
		if i%3 == 0 {
			flags = append(flags, imap.FlagSeen)
		}
		if i%5 == 0 {
			flags = append(flags, imap.FlagFlagged)
		}
		u.Append(t, folder, testenv.GenMessage(rng, nil), flags...)
	}
}

// The Windows build's first sync, from a config with drive-letter paths
// and backslashes to a Maildir on a path with spaces: every message in its
// folder with its flags, file names with ";2,"; check signs in; status
// without a daemon reads the state.
func TestWineFirstSyncCheckStatus(t *testing.T) {
	w := newWin(t)
	u := testenv.Shared(t).NewUser(t)
	rng := rand.New(rand.NewPCG(1, 20))
	u.CreateFolder(t, "Lists/golang")
	u.CreateFolder(t, "Sent")
	fill(t, u, rng, "INBOX", 20)
	fill(t, u, rng, "Lists/golang", 6)
	fill(t, u, rng, "Sent", 3)
	dev := newDevice(t, u.Name, u.Password, u.Server().IMAPPort, "")

	out := w.mustRun("--config", dev.winCfg, "check")
	if !strings.Contains(out, "work") {
		t.Errorf("check does not name the account:\n%s", out)
	}
	w.mustRun("--config", dev.winCfg, "sync")
	assertSame(t, u, dev.root)
	colon := 0
	for _, f := range files(dev.root) {
		if strings.Contains(filepath.Base(f), ";2,") {
			colon++
		}
	}
	if colon == 0 {
		t.Errorf("no file name has ;2, (the Windows info separator): %q", files(dev.root))
	}
	if _, err := os.Stat(filepath.Join(dev.dir, "state", "state.db")); err != nil {
		t.Errorf("state_dir from the config's Windows path: %v", err)
	}
	out = w.mustRun("--config", dev.winCfg, "status")
	if !strings.Contains(out, "daemon: not running") || !strings.Contains(out, "29 in 3 folders") {
		t.Errorf("status without a daemon:\n%s", out)
	}
	// A second pass changes nothing.
	w.mustRun("--config", dev.winCfg, "sync")
	assertSame(t, u, dev.root)

	// check names the file and line of a bad key.
	bad := filepath.Join(dev.dir, "config dir", "bad.toml")
	os.WriteFile(bad, []byte("poll_intervall = \"5s\"\n"), 0o600)
	_, stderr, code := w.run("--config", winPath(bad), "check")
	if code == 0 || !strings.Contains(stderr, "poll_intervall") || !strings.Contains(stderr, "bad.toml") {
		t.Errorf("check of a bad config: exit %d\n%s", code, stderr)
	}
}

// The daemon under Wine: a new server message arrives by IDLE, a local
// flag change reaches the server, status reaches the running daemon;
// changes made on both sides while it is killed are replayed when it
// starts again.
func TestWineDaemonPushAndOffline(t *testing.T) {
	w := newWin(t)
	u := testenv.Shared(t).NewUser(t)
	rng := rand.New(rand.NewPCG(2, 20))
	u.CreateFolder(t, "Sent")
	fill(t, u, rng, "INBOX", 5)
	dev := newDevice(t, u.Name, u.Password, u.Server().IMAPPort, `idle_folders = ["INBOX"]`+"\n")

	d := w.start("--config", dev.winCfg, "run")
	d.waitReady(t)
	converges(t, u, dev.root, "first sync of the daemon")
	out := w.mustRun("--config", dev.winCfg, "status")
	if !strings.Contains(out, "daemon: running") {
		t.Errorf("status does not reach the daemon:\n%s", out)
	}

	u.Append(t, "INBOX", testenv.GenMessage(rng, nil))
	converges(t, u, dev.root, "a new server message (IDLE)")

	f := unseenFile(t, dev.root, "INBOX")
	id := messageIDOf(t, f)
	setLocalFlags(t, f, "FS")
	eventually(t, time.Minute, "the local flag change on the server", func() bool {
		for _, m := range u.Messages(t, "INBOX") {
			if strings.Contains(strings.Join(m.Flags, " "), `\Flagged`) && strings.Contains(strings.Join(m.Flags, " "), `\Seen`) &&
				m.MessageID == id {
				return true
			}
		}
		return false
	})
	converges(t, u, dev.root, "after the local flag change")

	d.kill()
	// Offline: a server message, a local flag change, a new local
	// message in Sent.
	u.Append(t, "INBOX", testenv.GenMessage(rng, nil))
	setLocalFlags(t, unseenFile(t, dev.root, "INBOX"), "S")
	sent := testenv.GenMessage(rng, nil)
	if err := os.WriteFile(filepath.Join(dev.root, "Sent", "cur", "1700000000.M1P1.pc;2,S"), sent, 0o600); err != nil {
		t.Fatal(err)
	}
	d = w.start("--config", dev.winCfg, "run")
	d.waitReady(t)
	converges(t, u, dev.root, "offline changes replayed")
	if n := len(u.Messages(t, "Sent")); n != 1 {
		t.Errorf("Sent on the server has %d messages, want the 1 written locally", n)
	}
}

// unseenFile returns a message file in folder/new or one without S.
func unseenFile(t *testing.T, root, folder string) string {
	t.Helper()
	for _, m := range readMaildir(t, root)[folder] {
		if !strings.Contains(strings.Join(m.Flags, " "), `\Seen`) {
			return m.Path
		}
	}
	t.Fatalf("no unseen message in %s", folder)
	return ""
}

// setLocalFlags moves path into cur/ with exactly these flag letters, as a
// mail client on Windows does.
func setLocalFlags(t *testing.T, path, letters string) {
	t.Helper()
	base := filepath.Base(path)
	if i := strings.Index(base, ";2,"); i >= 0 {
		base = base[:i]
	}
	to := filepath.Join(filepath.Dir(filepath.Dir(path)), "cur", base+";2,"+letters)
	if err := os.Rename(path, to); err != nil {
		t.Fatal(err)
	}
}

func messageIDOf(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return testenv.MessageIDOf(b)
}
