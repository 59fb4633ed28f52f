package daemon_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/internal/testenv"
)

// TestTagsBothWaysInTheDaemon: with tags = "notmuch", a tag set in notmuch
// reaches the server without a poll (the daemon watches notmuch's
// revision), and a keyword set on the server by another client arrives by
// IDLE.
func TestTagsBothWaysInTheDaemon(t *testing.T) {
	testenv.RequireNotmuch(t)
	testenv.RequireDovecot(t)
	u := testenv.Shared(t).NewUser(t)
	f := newFixture(t, u, u.Server().IMAPPort, `tags = "notmuch"`)
	notmuch := f.notmuchDB()
	raw := f.msg("tagged")
	id := msgID(raw)
	uid := u.Append(t, "INBOX", raw, imap.Flag("srv"))
	f.start(testOptions())
	eventually(t, func() string { return "the message to arrive" }, func() bool { return len(f.local("INBOX")[id]) == 1 })
	notmuch("new", "--quiet")
	localTags := func() []string {
		return strings.Fields(notmuch("search", "--output=tags", "id:"+strings.Trim(id, "<>")))
	}
	eventually(t, func() string { return "tag srv locally, have " + strings.Join(localTags(), " ") },
		func() bool { return slices.Contains(localTags(), "srv") })

	start := time.Now()
	notmuch("tag", "+laptop", "--", "id:"+strings.Trim(id, "<>"))
	eventually(t, func() string { return "keyword laptop on the server" },
		func() bool { return slices.Contains(f.serverFlags("INBOX", id), "laptop") })
	t.Logf("notmuch tag → server keyword: %v", time.Since(start))
	if fl := f.serverFlags("INBOX", id); slices.Contains(fl, "inbox") || slices.Contains(fl, "unread") {
		t.Errorf("bookkeeping tags uploaded: %q", fl)
	}

	start = time.Now()
	u.SetFlags(t, "INBOX", uid, true, imap.Flag("phone"))
	eventually(t, func() string { return "tag phone locally, have " + strings.Join(localTags(), " ") },
		func() bool { return slices.Contains(localTags(), "phone") })
	t.Logf("server keyword → notmuch tag: %v", time.Since(start))
}

// notmuchDB makes a notmuch database of the fixture's Maildir (its config
// in NOTMUCH_CONFIG for the test, new mail tagged inbox and unread),
// indexes it once and returns a function that runs notmuch and returns its
// output.
func (f *fixture) notmuchDB() func(args ...string) string {
	t := f.t
	t.Helper()
	mail := f.acct.Maildir
	if err := os.MkdirAll(mail, 0o700); err != nil {
		t.Fatal(err)
	}
	nmc := filepath.Join(f.dir, "notmuch-config")
	if err := os.WriteFile(nmc, []byte("[database]\npath="+mail+"\n[new]\ntags=inbox;unread\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("NOTMUCH_CONFIG", nmc)
	notmuch := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("notmuch", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("notmuch %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	notmuch("new", "--quiet")
	return notmuch
}
