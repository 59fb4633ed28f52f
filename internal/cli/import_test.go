package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailmirror/mailmirror/config"
)

const importMbsyncrc = `IMAPAccount work
Host imap.work.example.com
User jane
PassCmd "pass show work"
SSLType IMAPS

IMAPStore work-remote
Account work

MaildirStore work-local
Path ~/Mail/work/
Inbox ~/Mail/work/INBOX
SubFolders Verbatim

Channel work
Far :work-remote:
Near :work-local:
Patterns * !Spam
Sync All
`

func TestImportMbsync(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	rc := filepath.Join(home, ".mbsyncrc")
	if err := os.WriteFile(rc, []byte(importMbsyncrc), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"import", "mbsync"}, {"import", "mbsync", rc}} {
		code, out, errOut := runMain(t, args...)
		if code != ExitOK {
			t.Fatalf("%q: exit %d, stderr %s", args, code, errOut)
		}
		c, err := config.Parse([]byte(out), "config.toml")
		if err != nil {
			t.Fatalf("output does not parse: %v\n%s", err, out)
		}
		a := c.Account("work")
		if a == nil || a.Host != "imap.work.example.com" || a.TLS != "implicit" || a.PasswordCommand != "pass show work" ||
			a.Maildir != filepath.Join(home, "Mail", "work") || strings.Join(a.Folders, ",") != "*,!Spam" {
			t.Errorf("account %+v", a)
		}
		if strings.Contains(out, "Sync All") || a.Direction != "both" {
			t.Errorf("Sync All (two-way, as mailmirror) not translated:\n%s", out)
		}
		if want := "mailmirror import: " + rc + ": translated 1 account, 0 lines not translated (see the \"# not translated\" comments)\n"; errOut != want {
			t.Errorf("stderr %q, want %q", errOut, want)
		}
	}
}

func TestImportOfflineIMAPDefaultsAndOutput(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", "")
	// Only the XDG location exists.
	dir := filepath.Join(home, ".config", "offlineimap")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	rc := filepath.Join(dir, "config")
	text := "[general]\naccounts = A\n[Account A]\nlocalrepository = L\nremoterepository = R\n[Repository L]\ntype = Maildir\nlocalfolders = ~/Mail/a\n[Repository R]\ntype = IMAP\nremotehost = imap.example.com\nremoteuser = u\nremotepass = S3cr3t\n"
	if err := os.WriteFile(rc, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "config.toml")
	code, stdout, errOut := runMain(t, "import", "offlineimap", "--output", out)
	if code != ExitOK || stdout != "" {
		t.Fatalf("exit %d, stdout %q, stderr %s", code, stdout, errOut)
	}
	info, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("output mode %o, want 600", info.Mode().Perm())
	}
	c, err := config.Load(out)
	if err != nil {
		t.Fatalf("Load of the output: %v", err)
	}
	if a := c.Account("A"); a == nil || a.Password.Reveal() != "S3cr3t" || a.TLS != "implicit" {
		t.Errorf("account %+v", a)
	}
	if !strings.Contains(errOut, "mailmirror import: "+rc+": translated 1 account, 0 lines not translated") ||
		!strings.Contains(errOut, `mailmirror import: warning: account "A": plaintext password`) || strings.Contains(errOut, "S3cr3t") {
		t.Errorf("stderr:\n%s", errOut)
	}
	// Never overwrite.
	if code, _, errOut := runMain(t, "import", "offlineimap", "--output", out); code != ExitFailure ||
		errOut != "mailmirror import: --output: "+out+" already exists; remove it or choose another name\n" {
		t.Errorf("second run: exit %d, stderr %q", code, errOut)
	}
}

func TestImportReportsInvalidResult(t *testing.T) {
	rc := filepath.Join(t.TempDir(), "mbsyncrc")
	// No User: the result lacks username.
	text := "IMAPStore r\nHost h.example.com\nPassCmd p\n\nMaildirStore l\nPath /m/\nInbox /m/INBOX\n\nChannel c\nFar :r:\nNear :l:\n"
	if err := os.WriteFile(rc, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runMain(t, "import", "mbsync", rc)
	if code != ExitOK || !strings.Contains(out, "[[account]]") {
		t.Fatalf("exit %d, stdout %s", code, out)
	}
	want := "mailmirror import: the translated config is not valid yet (lines of output.toml refer to the output):\n" +
		"output.toml:5: account \"r\": username: required\n"
	if !strings.HasSuffix(errOut, want) {
		t.Errorf("stderr:\n%s\nwant suffix:\n%s", errOut, want)
	}
}

func TestImportUsage(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	for _, args := range [][]string{{"import"}, {"import", "fetchmail"}, {"import", "mbsync", "a", "b"}} {
		if code, _, _ := runMain(t, args...); code != ExitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, ExitUsage)
		}
	}
	missing := filepath.Join(t.TempDir(), "nope")
	if code, _, errOut := runMain(t, "import", "mbsync", missing); code != ExitFailure ||
		errOut != "mailmirror import: cannot read the mbsync config to import: open "+missing+": no such file or directory\n" {
		t.Errorf("missing file: exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut := runMain(t, "import", "mbsync"); code != ExitFailure || !strings.Contains(errOut, ".mbsyncrc: no such file") {
		t.Errorf("missing default: exit %d, stderr %q", code, errOut)
	}
}

// On a fresh home --output creates ~/.config/mailmirror (0700) and the
// file (0600); a directory that cannot be made is named as such, not
// mistaken for the input.
func TestImportOutputFreshHome(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	rc := filepath.Join(home, ".mbsyncrc")
	text := "IMAPStore r\nHost h.example.com\nUser u\nPassCmd p\n\nMaildirStore l\nPath ~/Mail/\nInbox ~/Mail/INBOX\n\nChannel c\nFar :r:\nNear :l:\nSync Pull\n"
	if err := os.WriteFile(rc, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(home, ".config", "mailmirror", "config.toml")
	code, _, errOut := runMain(t, "import", "mbsync", "--output", out)
	if code != ExitOK {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	for p, want := range map[string]os.FileMode{filepath.Dir(out): 0o700, out: 0o600} {
		info, err := os.Stat(p)
		if err != nil || info.Mode().Perm() != want {
			t.Errorf("%s: %v, mode %v, want %o", p, err, info, want)
		}
	}
	c, err := config.Load(out)
	if err != nil || c.Accounts[0].Direction != "pull" {
		t.Fatalf("load: %v", err)
	}
	// A file where the directory should be.
	blocker := filepath.Join(home, "blocker")
	os.WriteFile(blocker, nil, 0o600)
	bad := filepath.Join(blocker, "mailmirror", "config.toml")
	code, _, errOut = runMain(t, "import", "mbsync", "--output", bad)
	if want := "mailmirror import: --output: cannot create the directory " + filepath.Dir(bad) + ": not a directory\n"; code != ExitFailure || errOut != want {
		t.Errorf("exit %d, stderr %q, want %q", code, errOut, want)
	}
}

// A line mailmirror would not follow makes the import fail and write
// nothing, naming the line.
func TestImportRefusesBehaviourChange(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	rc := filepath.Join(home, ".mbsyncrc")
	text := "IMAPStore r\nHost h.example.com\nUser u\nPassCmd p\n\nMaildirStore l\nPath ~/Mail/\n\nChannel c\nFar :r:\nNear :l:\nSync Pull Flags\n"
	if err := os.WriteFile(rc, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(home, "config.toml")
	code, stdout, errOut := runMain(t, "import", "mbsync", "--output", out)
	if code != ExitFailure || stdout != "" || !strings.Contains(errOut, "nothing written: 1 line change what a channel does") ||
		!strings.Contains(errOut, "  line 12: Sync Pull Flags: mbsync kept messages that were deleted") {
		t.Errorf("exit %d, stdout %q, stderr:\n%s", code, stdout, errOut)
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("output written")
	}
}
