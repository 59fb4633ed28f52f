package daemon_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailmirror/mailmirror/internal/testenv"
	"github.com/mailmirror/mailmirror/internal/testenv/fakegmail"
)

// TestGmailLabelFromNotmuchInTheDaemon: on a Gmail account with tags =
// "notmuch" the daemon stores each message once (All Mail), and a tag
// set in notmuch becomes a label without a poll (the daemon watches
// notmuch's revision).
func TestGmailLabelFromNotmuchInTheDaemon(t *testing.T) {
	testenv.RequireNotmuch(t)
	srv := fakegmail.Start(t)
	raw := []byte("Message-Id: <d1@example.org>\r\nSubject: daemon\r\n\r\nbody\r\n")
	if _, err := srv.Store.Deliver(fakegmail.Inbox, raw); err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(srv.Addr[strings.LastIndex(srv.Addr, ":")+1:])
	u := &testenv.User{Name: srv.User, Password: srv.Password}
	f := newFixture(t, u, port, "provider = \"gmail\"\ntags = \"notmuch\"")
	notmuch := f.notmuchDB()
	f.start(testOptions())
	eventually(t, func() string { return "the message in All Mail" }, func() bool { return len(f.local(fakegmail.AllMail)["<d1@example.org>"]) == 1 })
	notmuch("new", "--quiet")
	start := time.Now()
	notmuch("tag", "+Work", "--", "id:d1@example.org")
	eventually(t, func() string {
		return "the label Work on the server, in " + strings.Join(srv.Store.Labels("<d1@example.org>"), ", ")
	},
		func() bool { return slices.Contains(srv.Store.Labels("<d1@example.org>"), "Work") })
	t.Logf("notmuch tag → Gmail label: %v", time.Since(start))
	if got := srv.Store.Labels("<d1@example.org>"); !slices.Contains(got, fakegmail.Inbox) || !slices.Contains(got, fakegmail.AllMail) {
		t.Errorf("the message is in %q", got)
	}
	for folder, msgs := range testenv.ReadMaildir(t, f.acct.Maildir, f.acct.Layout) {
		if folder != fakegmail.AllMail && len(msgs) > 0 {
			t.Errorf("local folder %q holds %d messages", folder, len(msgs))
		}
	}
}
