package cli

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/internal/testenv"
)

// Secrets stay secret (DESIGN.md invariant 6) and files stay private, seen
// from outside: `mailmirror sync` and `mailmirror check --secrets` run as
// subprocesses (with umask 000, so that nothing relies on the umask), and
// every byte they print, and every file of the state directory, is
// searched for each password in every form it takes on the wire.

// passwordForms are the forms a password takes on the wire: as is,
// quoted with escapes, inside AUTHENTICATE PLAIN's base64.
func passwordForms(user, pw string) []string {
	forms := []string{pw, base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pw))}
	if q := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(pw); q != pw {
		forms = append(forms, q)
	}
	return forms
}

func TestSecuritySecretsNeverPrintedAndFilesPrivate(t *testing.T) {
	bin := testBinary(t)
	d := testenv.NewDovecot(t, &testenv.DovecotOptions{TLS: true})
	u := d.NewUser(t)
	for i := 0; i < 3; i++ {
		u.Append(t, "INBOX", []byte(fmt.Sprintf("Message-ID: <sec%d@x>\r\nSubject: s%d\r\n\r\nbody\r\n", i, i)), imap.FlagSeen)
	}
	u.CreateFolder(t, "Lists/golang")
	u.Append(t, "Lists/golang", []byte("Message-ID: <list@x>\r\nSubject: l\r\n\r\nbody\r\n"))
	dir := t.TempDir()
	wrong := `Wr0ng"pass\word-9431`
	envPW := "env-" + u.Password
	cfg := fmt.Sprintf(`state_dir = %q

[[account]]
name = "imap"
protocol = "imap"
host = "127.0.0.1"
port = %d
tls = "implicit"
tls_ca_file = %q
username = %q
password = %q
maildir = %q

[[account]]
name = "pop"
protocol = "pop3"
host = "127.0.0.1"
port = %d
tls = "implicit"
tls_ca_file = %q
username = %q
password_command = "printf %%s \"$MM_TEST_POP_PW\" | sed s/^env-//"
maildir = %q

[[account]]
name = "wrong"
protocol = "imap"
host = "127.0.0.1"
port = %d
tls = "starttls"
tls_ca_file = %q
username = %q
password = '%s'
maildir = %q
`, filepath.Join(dir, "state"),
		d.IMAPSPort, d.CAFile, u.Name, u.Password, filepath.Join(dir, "Mail", "imap"),
		d.POP3SPort, d.CAFile, u.Name, filepath.Join(dir, "Mail", "pop"),
		d.IMAPPort, d.CAFile, u.Name, wrong, filepath.Join(dir, "Mail", "wrong"))
	cfgPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	run := func(wantCode int, args ...string) {
		t.Helper()
		cmd := exec.Command("sh", "-c", `umask 000; exec "$0" "$@"`, bin)
		cmd.Args = append(cmd.Args, args...)
		cmd.Env = append(os.Environ(), "MM_TEST_POP_PW="+envPW, "HOME="+dir)
		var o bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &o
		code := exitCode(t, cmd.Run())
		t.Logf("mailmirror %s: exit %d\n%s", strings.Join(args, " "), code, o.String())
		if code != wantCode {
			t.Errorf("mailmirror %s: exit %d, want %d", strings.Join(args, " "), code, wantCode)
		}
		out.Write(o.Bytes())
	}
	run(0, "--config", cfgPath, "check", "--offline")
	run(0, "--config", cfgPath, "check", "--offline", "--secrets")
	run(1, "--config", cfgPath, "check") // signs in: "wrong" fails, its password never shown
	run(0, "--config", cfgPath, "sync", "imap", "pop")
	run(1, "--config", cfgPath, "sync")
	run(0, "--config", cfgPath, "sync", "imap")
	if !bytes.Contains(out.Bytes(), []byte("wrong")) || !bytes.Contains(out.Bytes(), []byte("password=ok")) {
		t.Fatalf("the output lacks what the runs should print: the checks prove nothing")
	}
	if !testenv.CompareAccount(t, u, filepath.Join(dir, "Mail", "imap"), "verbatim") {
		t.Fatal("the IMAP account did not sync")
	}
	secrets := map[string]string{"imap password": u.Password, "wrong password": wrong, "environment password": envPW}
	for what, pw := range secrets {
		for _, f := range passwordForms(u.Name, pw) {
			if bytes.Contains(out.Bytes(), []byte(f)) {
				t.Errorf("the output shows the %s as %q", what, f)
			}
		}
	}
	// The state directory never holds a password.
	stateDir := filepath.Join(dir, "state")
	filepath.WalkDir(stateDir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for what, pw := range secrets {
			for _, f := range passwordForms(u.Name, pw) {
				if bytes.Contains(b, []byte(f)) {
					t.Errorf("%s holds the %s", p, what)
				}
			}
		}
		return nil
	})
	// Everything written with umask 000 is still private.
	for _, root := range []string{filepath.Join(dir, "Mail"), stateDir} {
		n := 0
		filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				t.Fatal(err)
			}
			st, err := os.Lstat(p)
			if err != nil {
				t.Fatal(err)
			}
			n++
			switch m := st.Mode(); {
			case m.IsDir() && m.Perm() != 0o700:
				t.Errorf("directory %s: mode %04o, want 0700", p, m.Perm())
			case m.IsRegular() && m.Perm() != 0o600:
				t.Errorf("file %s: mode %04o, want 0600", p, m.Perm())
			case !m.IsDir() && !m.IsRegular():
				t.Errorf("%s: unexpected %v", p, m)
			}
			return nil
		})
		if n < 3 {
			t.Errorf("%s: only %d entries checked", root, n)
		}
	}
	if _, err := os.Stat(filepath.Join(stateDir, "state.db")); err != nil {
		t.Errorf("no state database: %v", err)
	}
}
