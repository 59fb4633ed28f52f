//go:build linux

package wintest

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailmirror/mailmirror/internal/testenv"
)

// device is one mailmirror setup on the Windows side: a config whose paths
// are Windows paths (drive letter, backslashes), a Maildir whose path has
// spaces.
type device struct {
	dir    string // Linux path of the test's directory
	cfg    string // Linux path of the config file
	root   string // Linux path of the Maildir
	winCfg string // the config's path as Windows sees it
}

// newDevice writes a config for one IMAP account on 127.0.0.1:port.
func newDevice(t *testing.T, user, password string, port int, extra string) *device {
	t.Helper()
	dir := t.TempDir()
	d := &device{dir: dir, cfg: filepath.Join(dir, "config dir", "config.toml"), root: filepath.Join(dir, "My Mail", "work account")}
	d.winCfg = winPath(d.cfg)
	if err := os.MkdirAll(filepath.Dir(d.cfg), 0o700); err != nil {
		t.Fatal(err)
	}
	writeConfig(t, d.cfg, fmt.Sprintf("state_dir = '%s'\n", winPath(filepath.Join(dir, "state"))), user, password, port, d.root, extra)
	return d
}

// writeConfig writes a config file with head (top-level keys) and one IMAP
// account, the Maildir at the Linux path root given as a Windows path.
func writeConfig(t *testing.T, path, head, user, password string, port int, root, extra string) {
	t.Helper()
	text := head + fmt.Sprintf(`log_level = "debug"
[[account]]
name = "work"
protocol = "imap"
host = "127.0.0.1"
port = %d
tls = "none"
username = %q
password = %q
maildir = '%s'
poll_interval = "2s"
%s`, port, user, password, winPath(root), extra)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// readMaildir reads the Maildir the Windows build wrote: as
// testenv.ReadMaildir, with the flags after ";2," (go-maildir's separator on
// Windows, where ":" cannot be in a file name).
func readMaildir(t *testing.T, root string) map[string][]testenv.Msg {
	t.Helper()
	local := testenv.ReadMaildir(t, root, testenv.LayoutVerbatim)
	for _, msgs := range local {
		for i := range msgs {
			base := filepath.Base(msgs[i].Path)
			if strings.Contains(base, ":") {
				t.Errorf("file name %s has a colon, which Windows refuses", msgs[i].Path)
			}
			if j := strings.LastIndex(base, ";2,"); j >= 0 {
				msgs[i].Flags = flagsOf(base[j+3:])
			}
		}
	}
	return local
}

// flagsOf turns Maildir info letters into sorted IMAP flags, the ones
// testenv compares.
func flagsOf(letters string) []string {
	names := map[rune]string{'D': `\Draft`, 'F': `\Flagged`, 'P': `$Forwarded`, 'R': `\Answered`, 'S': `\Seen`, 'T': `\Deleted`}
	var flags []string
	for _, r := range letters {
		if f, ok := names[r]; ok {
			flags = append(flags, f)
		}
	}
	slices.Sort(flags)
	return flags
}

// serverView is every folder of u with its messages.
func serverView(t *testing.T, u *testenv.User) map[string][]testenv.Msg {
	t.Helper()
	view := map[string][]testenv.Msg{}
	for _, f := range u.Folders(t) {
		view[f] = u.Messages(t, f)
	}
	return view
}

// diff is the differences between the server and the Maildir at root.
func diff(t *testing.T, u *testenv.User, root string) []string {
	t.Helper()
	return testenv.DiffAccount(serverView(t, u), readMaildir(t, root))
}

// assertSame fails t with every difference between the server and root.
func assertSame(t *testing.T, u *testenv.User, root string) {
	t.Helper()
	for _, d := range diff(t, u, root) {
		t.Errorf("server vs Maildir: %s", d)
	}
}

// converges waits until the server and root agree, twice in a row.
func converges(t *testing.T, u *testenv.User, root string, what string) {
	t.Helper()
	same := 0
	var last []string
	for end := time.Now().Add(time.Minute); time.Now().Before(end); time.Sleep(300 * time.Millisecond) {
		if last = diff(t, u, root); len(last) == 0 {
			if same++; same == 2 {
				return
			}
		} else {
			same = 0
		}
	}
	t.Fatalf("%s: server and Maildir still differ after a minute: %q", what, last)
}

// files lists the message files under root (new/ and cur/ of every folder).
func files(root string) []string {
	var out []string
	filepath.WalkDir(root, func(p string, e os.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			if d := filepath.Base(filepath.Dir(p)); d == "new" || d == "cur" {
				out = append(out, p)
			}
		}
		return nil
	})
	return out
}
