package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailmirror/mailmirror/internal/testenv"
)

// runMain runs cli.Main and returns the exit code, stdout and stderr.
func runMain(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := Main(args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// writeConfig writes text to config.toml (mode 0600) in a new directory.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(name, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

// writeIMAPConfig writes the configuration of one IMAP account "work" on
// the test user's Dovecot (port), with its state and Maildir ("Mail") in
// dir, and returns its path.
func writeIMAPConfig(t *testing.T, u *testenv.User, port int, dir string) string {
	t.Helper()
	return writeConfig(t, fmt.Sprintf(`state_dir = %q
[[account]]
name = "work"
protocol = "imap"
host = "127.0.0.1"
port = %d
tls = "none"
username = %q
password = %q
maildir = %q
`, filepath.Join(dir, "state"), port, u.Name, u.Password, filepath.Join(dir, "Mail")))
}

func TestCheckValid(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	ran := filepath.Join(t.TempDir(), "ran")
	name := writeConfig(t, `
[[account]]
name = "work"
protocol = "imap"
host = "imap.example.com"
username = "user"
password_command = "touch `+ran+`; echo pw"
maildir = "~/Mail/work"

[[account]]
name = "isp"
protocol = "pop3"
host = "::1"
tls = "starttls"
username = "me@isp"
password = "plain"
maildir = "/srv/mail/isp"
layout = "maildir++"
`)
	want := "work: imap user@imap.example.com:993 tls=implicit maildir=" + filepath.Join(home, "Mail", "work") + " layout=verbatim\n" +
		"isp: pop3 me@isp@[::1]:110 tls=starttls maildir=/srv/mail/isp layout=maildir++\n"
	for _, args := range [][]string{{"--config", name, "check", "--offline"}, {"check", "--offline", "--config", name}} {
		code, out, errOut := runMain(t, args...)
		if code != ExitOK || out != want || errOut != "" {
			t.Errorf("%q: exit %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", args, code, out, want, errOut)
		}
	}
	t.Setenv("MAILMIRROR_CONFIG", name)
	if code, out, _ := runMain(t, "check", "--offline"); code != ExitOK || out != want {
		t.Errorf("with $MAILMIRROR_CONFIG: exit %d, stdout %q", code, out)
	}
	if _, err := os.Stat(ran); !os.IsNotExist(err) {
		t.Errorf("check without --secrets ran password_command (stat: %v)", err)
	}
}

func TestCheckSecrets(t *testing.T) {
	name := writeConfig(t, `
[[account]]
name = "good"
protocol = "imap"
host = "imap.example.com"
username = "u"
password_command = "echo S3cr3t-good"
maildir = "/m/good"

[[account]]
name = "bad"
protocol = "imap"
host = "imap.example.com"
username = "u"
password_command = "echo S3cr3t-bad; echo 'gpg: no secret key' >&2; exit 2"
maildir = "/m/bad"

[[account]]
name = "env"
protocol = "pop3"
host = "pop.example.com"
username = "u"
password_env = "MM_CHECK_TEST_UNSET"
maildir = "/m/env"
`)
	os.Unsetenv("MM_CHECK_TEST_UNSET")
	code, out, errOut := runMain(t, "check", "--offline", "--secrets", "--config", name)
	wantOut := "good: imap u@imap.example.com:993 tls=implicit maildir=/m/good layout=verbatim password=ok\n" +
		"bad: imap u@imap.example.com:993 tls=implicit maildir=/m/bad layout=verbatim password=failed\n" +
		"env: pop3 u@pop.example.com:995 tls=implicit maildir=/m/env layout=verbatim password=failed\n"
	wantErr := "mailmirror check: account \"bad\": password_command failed: exit status 2: gpg: no secret key\n" +
		"mailmirror check: account \"env\": password_env: environment variable MM_CHECK_TEST_UNSET is not set\n"
	if code != ExitFailure || out != wantOut || errOut != wantErr {
		t.Errorf("exit %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s\nwant:\n%s", code, out, wantOut, errOut, wantErr)
	}
	if strings.Contains(out+errOut, "S3cr3t") {
		t.Errorf("a password was printed")
	}
}

func TestCheckInvalid(t *testing.T) {
	name := writeConfig(t, `log_level = "loud"
[[account]]
name = "work"
protocol = "imap"
host = "imap.example.com"
username = "u"
pasword = "x"
password_env = "P"
maildir = "/m/work"
poll_interval = "-5s"
`)
	code, out, errOut := runMain(t, "check", "--config", name)
	want := `config.toml:1: log_level: must be "debug", "info", "warn" or "error", got "loud"
config.toml:7: account "work": unknown key "pasword"; did you mean password?
config.toml:10: account "work": poll_interval: must be positive, got "-5s"
mailmirror check: ` + name + `: 3 problems
`
	if code != ExitFailure || out != "" || errOut != want {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s\nwant:\n%s", code, out, errOut, want)
	}
}

func TestCheckPlaintextPasswordReadable(t *testing.T) {
	name := writeConfig(t, "[[account]]\nname = \"w\"\nprotocol = \"imap\"\nhost = \"h\"\nusername = \"u\"\npassword = \"S3cr3t\"\nmaildir = \"/m\"\n")
	if err := os.Chmod(name, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runMain(t, "check", "--config", name)
	if code != ExitFailure || !strings.Contains(errOut, `config.toml:6: account "w": password: the file holds a plaintext password and is readable by group or others (mode 0644): run "chmod 600 `+name+`"`) {
		t.Errorf("exit %d, stderr:\n%s", code, errOut)
	}
	if strings.Contains(errOut, "S3cr3t") {
		t.Errorf("password printed")
	}
}

func TestCheckOther(t *testing.T) {
	empty := writeConfig(t, "# no accounts yet\n")
	if code, out, errOut := runMain(t, "check", "--config", empty); code != ExitOK || out != empty+": no accounts (the daemon will wait)\n" || errOut != "" {
		t.Errorf("empty config: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	missing := filepath.Join(t.TempDir(), "nope.toml")
	if code, _, errOut := runMain(t, "check", "--config", missing); code != ExitFailure ||
		errOut != "mailmirror check: config: open "+missing+": no such file or directory\n" {
		t.Errorf("missing config: exit %d, stderr %q", code, errOut)
	}
	if code, _, _ := runMain(t, "check", "--config", empty, "extra"); code != ExitUsage {
		t.Errorf("extra argument: exit %d, want %d", code, ExitUsage)
	}
	if code, out, _ := runMain(t, "check", "--help"); code != ExitOK || !strings.Contains(out, "-secrets") {
		t.Errorf("--help: exit %d, stdout %q", code, out)
	}
}
