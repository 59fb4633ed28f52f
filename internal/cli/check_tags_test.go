package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailmirror/mailmirror/internal/testenv"
)

// TestCheckTagsMaildirOutsideNotmuch: with tags = "notmuch", check (here
// --offline) says when the account's Maildir is not under notmuch's
// database path.
func TestCheckTagsMaildirOutsideNotmuch(t *testing.T) {
	testenv.RequireNotmuch(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "mail")
	if err := os.MkdirAll(db, 0o700); err != nil {
		t.Fatal(err)
	}
	nmc := filepath.Join(dir, "notmuch-config")
	if err := os.WriteFile(nmc, []byte("[database]\npath="+db+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("NOTMUCH_CONFIG", nmc)
	conf := func(maildir string) string {
		return writeConfig(t, `
[[account]]
name = "work"
protocol = "imap"
host = "imap.example.com"
username = "u"
password_env = "P"
tags = "notmuch"
maildir = "`+maildir+`"
`)
	}
	code, out, errOut := runMain(t, "check", "--offline", "--config", conf(filepath.Join(dir, "elsewhere")))
	if code != ExitFailure || !strings.HasSuffix(out, " tags=failed\n") ||
		!strings.Contains(errOut, `account "work": tags: the maildir `+filepath.Join(dir, "elsewhere")+" is not under "+nmc+"'s database.path "+db) {
		t.Errorf("outside: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	code, out, errOut = runMain(t, "check", "--offline", "--config", conf(filepath.Join(db, "work")))
	if code != ExitOK || !strings.HasSuffix(out, " tags=notmuch\n") || errOut != "" {
		t.Errorf("inside: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
}
