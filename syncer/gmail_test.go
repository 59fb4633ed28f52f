package syncer

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/internal/testenv"
	"github.com/mailmirror/mailmirror/internal/testenv/fakegmail"
	"github.com/mailmirror/mailmirror/maildir"
	"github.com/mailmirror/mailmirror/state"
)

// gmailDevice is a laptop with provider = "gmail" and tags = "notmuch"
// against the fake Gmail: its own Maildir, state and notmuch database.
type gmailDevice struct {
	t     *testing.T
	srv   *fakegmail.Server
	acct  *config.Account
	store *maildir.Store
	db    *state.DB
	env   []string
}

func newGmailDevice(t *testing.T, srv *fakegmail.Server) *gmailDevice {
	return newGmailDeviceTags(t, srv, "inbox;unread;new")
}

// newGmailDeviceTags is newGmailDevice with notmuch's new.tags and extra
// account lines.
func newGmailDeviceTags(t *testing.T, srv *fakegmail.Server, newTags string, extra ...string) *gmailDevice {
	t.Helper()
	testenv.RequireNotmuch(t)
	dir := t.TempDir()
	mail := filepath.Join(dir, "Mail")
	port := srv.Addr[strings.LastIndex(srv.Addr, ":")+1:]
	if err := os.MkdirAll(mail, 0o700); err != nil {
		t.Fatal(err)
	}
	a, store, db := openTestAccount(t, fmt.Sprintf(`state_dir = %q
[[account]]
name = "gmail"
provider = "gmail"
protocol = "imap"
host = "127.0.0.1"
port = %s
tls = "none"
username = "alice"
password_env = "MAILMIRROR_UNUSED"
maildir = %q
tags = "notmuch"
%s
`, filepath.Join(dir, "state"), port, mail, strings.Join(extra, "\n")), "gmail.toml")
	nmc := filepath.Join(dir, "notmuch-config")
	conf := "[database]\npath=" + mail + "\n[new]\ntags=" + newTags + "\n[maildir]\nsynchronize_flags=true\n"
	if err := os.WriteFile(nmc, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	d := &gmailDevice{t: t, srv: srv, acct: a, store: store, db: db, env: append(os.Environ(), "NOTMUCH_CONFIG="+nmc)}
	d.notmuch("new", "--quiet")
	return d
}

// pass syncs, then indexes new mail as on_new_mail = "notmuch new" does.
func (d *gmailDevice) pass() Stats {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := New(d.acct, d.store, d.db, Options{DialOptions: DialOptions{Password: config.Secret(d.srv.Password)}, NotmuchEnv: d.env})
	defer s.Close()
	st, err := s.Sync(ctx)
	if err != nil {
		d.t.Fatalf("sync: %v", err)
	}
	for _, w := range st.Warnings {
		d.t.Errorf("warning: %s", w)
	}
	d.notmuch("new", "--quiet")
	return st
}

func (d *gmailDevice) notmuch(args ...string) string {
	d.t.Helper()
	cmd := exec.Command("notmuch", args...)
	cmd.Env = d.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		d.t.Fatalf("notmuch %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (d *gmailDevice) tags(msgid string) []string {
	d.t.Helper()
	return strings.Fields(d.notmuch("search", "--output=tags", "id:"+strings.Trim(msgid, "<>")))
}

func (d *gmailDevice) tag(msgid string, changes ...string) {
	d.t.Helper()
	d.notmuch(append(append([]string{"tag"}, changes...), "--", "id:"+strings.Trim(msgid, "<>"))...)
}

// local returns the local folders holding each Message-ID, one entry per
// file.
func (d *gmailDevice) local() map[string][]string {
	d.t.Helper()
	out := map[string][]string{}
	for folder, msgs := range testenv.ReadMaildir(d.t, d.acct.Maildir, d.acct.Layout) {
		for _, m := range msgs {
			out[m.MessageID] = append(out[m.MessageID], folder)
		}
	}
	return out
}

func gmailRaw(n int, subject string) []byte {
	return []byte(fmt.Sprintf("Message-Id: <g%d@example.org>\r\nFrom: a@example.org\r\nTo: b@example.org\r\nSubject: %s\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\n\r\nbody of %s\r\n", n, subject, subject))
}

func gmailID(n int) string { return fmt.Sprintf("<g%d@example.org>", n) }

func deliverGmail(t *testing.T, srv *fakegmail.Server, n int, first string, labels ...string) {
	t.Helper()
	if _, err := srv.Store.Deliver(first, gmailRaw(n, fmt.Sprintf("message %d", n))); err != nil {
		t.Fatal(err)
	}
	for _, l := range labels {
		if err := srv.Store.AddLabel(gmailID(n), l); err != nil {
			t.Fatal(err)
		}
	}
}

// TestGmailMessageInFiveLabelsStoredOnce: All Mail is the one local copy;
// label folders are tags; archived mail (no label) is mirrored too, the
// Trash as a folder of its own.
func TestGmailMessageInFiveLabelsStoredOnce(t *testing.T) {
	srv := fakegmail.Start(t)
	deliverGmail(t, srv, 1, fakegmail.Inbox, "Work", "Travel", "Family/Kids", fakegmail.Important)
	deliverGmail(t, srv, 2, fakegmail.AllMail) // archived: no label
	deliverGmail(t, srv, 3, fakegmail.Inbox)
	srv.Store.AddLabel(gmailID(3), fakegmail.Trash)
	before := srv.Store.Count()
	d := newGmailDevice(t, srv)
	d.pass()
	st := d.pass() // notmuch has indexed the mail: the labels arrive
	local := d.local()
	if got := local[gmailID(1)]; len(got) != 1 || got[0] != fakegmail.AllMail {
		t.Errorf("message in five labels stored in %q, want once in All Mail", got)
	}
	if got := local[gmailID(2)]; len(got) != 1 || got[0] != fakegmail.AllMail {
		t.Errorf("archived message stored in %q, want All Mail", got)
	}
	if got := local[gmailID(3)]; len(got) != 1 || got[0] != fakegmail.Trash {
		t.Errorf("trashed message stored in %q, want the Trash", got)
	}
	for folder := range testenv.ReadMaildir(t, d.acct.Maildir, d.acct.Layout) {
		if folder != fakegmail.AllMail && folder != fakegmail.Trash && folder != fakegmail.Spam {
			t.Errorf("label folder %q mirrored as a Maildir folder", folder)
		}
	}
	wantTags(t, "labelled", d.tags(gmailID(1)), []string{"inbox", "Work", "Travel", "Family/Kids", "important"}, nil)
	wantTags(t, "archived", d.tags(gmailID(2)), nil, []string{"inbox", "Work"})
	if st.TagsDown != 2 || st.TagsUp != 0 {
		// message 1 gets its labels, message 2 loses notmuch new's inbox.
		t.Errorf("tags: %d down, %d up; want 2, 0", st.TagsDown, st.TagsUp)
	}
	if srv.Store.Count() != before {
		t.Errorf("the server has %d messages, had %d", srv.Store.Count(), before)
	}
	wantTags(t, "server", srv.Store.Labels(gmailID(2)), []string{fakegmail.AllMail}, []string{fakegmail.Inbox})
	if st := d.pass(); st.TagsDown+st.TagsUp != 0 {
		t.Errorf("a pass without changes moved tags: %d down, %d up", st.TagsDown, st.TagsUp)
	}
}

// TestGmailLabelAddRemoveBothWays: a label added or removed on the server
// becomes a tag change; a tag added locally is a COPY into the label's
// folder (created when missing), removed an expunge there; the star is the
// F flag; nothing is deleted from All Mail.
func TestGmailLabelAddRemoveBothWays(t *testing.T) {
	srv := fakegmail.Start(t)
	deliverGmail(t, srv, 1, fakegmail.Inbox, "Work")
	deliverGmail(t, srv, 2, fakegmail.Inbox)
	d := newGmailDevice(t, srv)
	d.pass()
	d.pass()
	// Server → local.
	srv.Store.AddLabel(gmailID(2), "Travel")
	srv.Store.RemoveLabel(gmailID(1), "Work")
	st := d.pass()
	wantTags(t, "local 1", d.tags(gmailID(1)), []string{"inbox"}, []string{"Work"})
	wantTags(t, "local 2", d.tags(gmailID(2)), []string{"inbox", "Travel"}, nil)
	if st.TagsDown != 2 {
		t.Errorf("TagsDown = %d, want 2", st.TagsDown)
	}
	// Local → server: archive 1 (no label left), label 2 with a new
	// label, unlabel Travel, star it.
	d.tag(gmailID(1), "-inbox")
	d.tag(gmailID(2), "+Projects/2027", "-Travel", "+flagged")
	st = d.pass()
	if st.TagsUp != 2 {
		t.Errorf("TagsUp = %d, want 2", st.TagsUp)
	}
	wantTags(t, "server 1", srv.Store.Labels(gmailID(1)), []string{fakegmail.AllMail}, []string{fakegmail.Inbox, "Work"})
	wantTags(t, "server 2", srv.Store.Labels(gmailID(2)), []string{fakegmail.AllMail, fakegmail.Inbox, "Projects/2027", fakegmail.Starred}, []string{"Travel"})
	if srv.Store.Count() != 2 || len(srv.Store.Messages(fakegmail.AllMail)) != 2 {
		t.Fatalf("All Mail has %v after label changes", srv.Store.Messages(fakegmail.AllMail))
	}
	local := d.local()
	if len(local[gmailID(1)]) != 1 || len(local[gmailID(2)]) != 1 {
		t.Errorf("local copies after label changes: %v", local)
	}
	// The next passes change nothing, on either side.
	for i := 0; i < 2; i++ {
		if st := d.pass(); st.TagsDown+st.TagsUp != 0 {
			t.Errorf("pass %d after the changes moved tags: %d down, %d up", i, st.TagsDown, st.TagsUp)
		}
	}
	wantTags(t, "local 2 after", d.tags(gmailID(2)), []string{"inbox", "Projects/2027", "flagged"}, []string{"Travel"})
	wantTags(t, "local 1 after", d.tags(gmailID(1)), nil, []string{"inbox", "Work"})
	// A star set on the server is the F flag of the All Mail copy (All
	// Mail's HIGHESTMODSEQ moved, CHANGEDSINCE finds it).
	srv.Store.AddLabel(gmailID(1), fakegmail.Starred)
	d.pass()
	wantTags(t, "starred on the server", d.tags(gmailID(1)), []string{"flagged"}, []string{"inbox"})
	if got := d.local()[gmailID(1)]; len(got) != 1 {
		t.Errorf("starred message stored in %q", got)
	}
}

// TestGmailStaleDeviceAndBookkeeping: a laptop that did not sync for a
// while does not bring back a label another removed; bookkeeping tags
// never become labels; a label removal deletes nothing from All Mail.
func TestGmailStaleDeviceAndBookkeeping(t *testing.T) {
	srv := fakegmail.Start(t)
	deliverGmail(t, srv, 1, fakegmail.Inbox, "Work")
	a, b := newGmailDevice(t, srv), newGmailDevice(t, srv)
	for _, d := range []*gmailDevice{a, b} {
		d.pass()
		d.pass()
		wantTags(t, "start", d.tags(gmailID(1)), []string{"inbox", "Work"}, nil)
	}
	folders := len(srv.Store.Labels(gmailID(1)))
	a.tag(gmailID(1), "-Work", "+attachment", "+signed", "+encrypted", "+new", "+unread", "+replied")
	a.pass()
	wantTags(t, "server after A", srv.Store.Labels(gmailID(1)), []string{fakegmail.AllMail, fakegmail.Inbox}, []string{"Work"})
	for _, bk := range []string{"attachment", "signed", "encrypted", "new", "unread", "replied"} {
		if st := srv.Store.Status(bk); st.UIDValidity != 0 {
			t.Errorf("bookkeeping tag %q became a label folder", bk)
		}
	}
	if got := len(srv.Store.Labels(gmailID(1))); got != folders-1 {
		t.Errorf("message in %d folders, want %d", got, folders-1)
	}
	b.pass() // stale: its tags did not change since its last pass
	wantTags(t, "stale device", b.tags(gmailID(1)), []string{"inbox"}, []string{"Work"})
	wantTags(t, "server after B", srv.Store.Labels(gmailID(1)), []string{fakegmail.AllMail}, []string{"Work"})
	a.pass()
	wantTags(t, "first device", a.tags(gmailID(1)), []string{"inbox"}, []string{"Work"})
	if srv.Store.Count() != 1 || len(srv.Store.Messages(fakegmail.AllMail)) != 1 {
		t.Errorf("All Mail after a label removal: %v", srv.Store.Messages(fakegmail.AllMail))
	}
	for _, d := range []*gmailDevice{a, b} {
		if got := d.local()[gmailID(1)]; len(got) != 1 {
			t.Errorf("local copies: %q", got)
		}
	}
}

// selectsSince returns the folders selected since the counts before.
func selectsSince(srv *fakegmail.Server, before map[string]int) []string {
	var out []string
	for name, n := range srv.Store.Selects() {
		if n > before[name] {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// TestGmailOnlyChangedLabelsRead: a pass reads only the label folders
// whose counters moved (none when nothing changed).
func TestGmailOnlyChangedLabelsRead(t *testing.T) {
	srv := fakegmail.Start(t)
	for i := 1; i <= 4; i++ {
		deliverGmail(t, srv, i, fakegmail.Inbox, "Work", "Travel")
	}
	d := newGmailDevice(t, srv)
	d.pass()
	d.pass()
	before := srv.Store.Selects()
	d.pass()
	for _, f := range selectsSince(srv, before) {
		if f != fakegmail.AllMail && f != fakegmail.Trash && f != fakegmail.Spam {
			t.Errorf("a pass without changes selected the label folder %q", f)
		}
	}
	srv.Store.RemoveLabel(gmailID(3), "Travel")
	before = srv.Store.Selects()
	d.pass()
	got := selectsSince(srv, before)
	if !slices.Contains(got, "Travel") || slices.Contains(got, "Work") || slices.Contains(got, fakegmail.Inbox) {
		t.Errorf("after a change in Travel the pass selected %q", got)
	}
	wantTags(t, "local 3", d.tags(gmailID(3)), []string{"Work", "inbox"}, []string{"Travel"})
	wantTags(t, "local 2", d.tags(gmailID(2)), []string{"Work", "Travel", "inbox"}, nil)
}

// TestGmailCrashBeforeRecordLosesNothing: a pass that stops after writing
// labels and tags but before recording them (as a SIGKILL there would)
// loses no change, and the next passes neither repeat nor undo them.
func TestGmailCrashBeforeRecordLosesNothing(t *testing.T) {
	srv := fakegmail.Start(t)
	deliverGmail(t, srv, 1, fakegmail.Inbox)
	deliverGmail(t, srv, 2, fakegmail.Inbox, "Work")
	d := newGmailDevice(t, srv)
	d.pass()
	d.pass()
	d.tag(gmailID(1), "+Todo", "-inbox")
	srv.Store.RemoveLabel(gmailID(2), "Work")
	srv.Store.AddLabel(gmailID(2), "Travel")
	tagHook = func(step string) {
		if step == "applied" {
			panic("killed")
		}
	}
	func() {
		defer func() {
			tagHook = nil
			if r := recover(); r != "killed" {
				t.Fatalf("the pass did not stop at the hook: %v", r)
			}
		}()
		d.pass()
	}()
	for i := 0; i < 2; i++ {
		d.pass()
		wantTags(t, "server 1", srv.Store.Labels(gmailID(1)), []string{fakegmail.AllMail, "Todo"}, []string{fakegmail.Inbox})
		wantTags(t, "server 2", srv.Store.Labels(gmailID(2)), []string{fakegmail.AllMail, fakegmail.Inbox, "Travel"}, []string{"Work"})
		wantTags(t, "local 1", d.tags(gmailID(1)), []string{"Todo"}, []string{"inbox"})
		wantTags(t, "local 2", d.tags(gmailID(2)), []string{"inbox", "Travel"}, []string{"Work"})
	}
	if n := len(srv.Store.Messages("Todo")); n != 1 {
		t.Errorf("Todo holds %d entries, want 1", n)
	}
}

// TestGmailLabelDeletedAndMessageTrashed: a label folder deleted on the
// server takes its tag off its messages (found by TagPass, the daemon's
// tags-only pass, too); a message whose file is removed locally goes to
// the Trash, with no label left and no copy left in All Mail.
func TestGmailLabelDeletedAndMessageTrashed(t *testing.T) {
	srv := fakegmail.Start(t)
	deliverGmail(t, srv, 1, fakegmail.Inbox, "Work")
	deliverGmail(t, srv, 2, fakegmail.Inbox, "Work")
	d := newGmailDevice(t, srv)
	d.pass()
	d.pass()
	if err := srv.Store.DeleteLabel("Work"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := New(d.acct, d.store, d.db, Options{DialOptions: DialOptions{Password: config.Secret(d.srv.Password)}, NotmuchEnv: d.env})
	st, err := s.TagPass(ctx)
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	if st.TagsDown != 2 {
		t.Errorf("TagPass: %d tags down, want 2", st.TagsDown)
	}
	for _, n := range []int{1, 2} {
		wantTags(t, "after the label was deleted", d.tags(gmailID(n)), []string{"inbox"}, []string{"Work"})
	}
	files := testenv.ReadMaildir(t, d.acct.Maildir, d.acct.Layout)[fakegmail.AllMail]
	for _, m := range files {
		if m.MessageID == gmailID(1) {
			if err := os.Remove(m.Path); err != nil {
				t.Fatal(err)
			}
		}
	}
	d.notmuch("new", "--quiet")
	d.pass()
	if got := srv.Store.Labels(gmailID(1)); !slices.Equal(got, []string{fakegmail.Trash}) {
		t.Errorf("a message deleted locally is in %q, want only the Trash", got)
	}
	wantTags(t, "the other message", srv.Store.Labels(gmailID(2)), []string{fakegmail.AllMail, fakegmail.Inbox}, nil)
	if st := d.pass(); st.TagsDown+st.TagsUp != 0 {
		t.Errorf("after the delete a pass moved tags: %d down, %d up", st.TagsDown, st.TagsUp)
	}
}

// TestGmailLabelWithServerFlagChange: a flag change from the server
// renames the local file, after which `notmuch show` fails on the message
// until `notmuch new` runs; a label change in the same pass must still
// arrive (the step reads tags with `notmuch dump`).
func TestGmailLabelWithServerFlagChange(t *testing.T) {
	srv := fakegmail.Start(t)
	deliverGmail(t, srv, 1, fakegmail.Inbox)
	d := newGmailDevice(t, srv)
	d.pass()
	d.pass()
	d.tag(gmailID(1), "+Todo")
	srv.Store.SetFlag(gmailID(1), imap.FlagAnswered, true)
	srv.Store.AddLabel(gmailID(1), "Work")
	st := d.pass()
	wantTags(t, "local", d.tags(gmailID(1)), []string{"Work", "Todo", "replied", "inbox"}, nil)
	wantTags(t, "server", srv.Store.Labels(gmailID(1)), []string{"Work", "Todo", fakegmail.Inbox}, nil)
	if st.TagsDown != 1 || st.TagsUp != 1 {
		t.Errorf("tags: %d down, %d up; want 1, 1", st.TagsDown, st.TagsUp)
	}
}

// TestGmailAfewInboxKeepsArchive: with new.tags = "new" and afew's inbox
// filter tagging every new message inbox, archived mail stays archived.
func TestGmailAfewInboxKeepsArchive(t *testing.T) {
	srv := fakegmail.Start(t)
	deliverGmail(t, srv, 1, fakegmail.AllMail) // archived
	deliverGmail(t, srv, 2, fakegmail.Inbox)
	d := newGmailDeviceTags(t, srv, "new")
	d.pass()
	d.notmuch("tag", "+inbox", "-new", "--", "tag:new") // what afew's InboxFilter does
	d.pass()
	wantTags(t, "server 1", srv.Store.Labels(gmailID(1)), []string{fakegmail.AllMail}, []string{fakegmail.Inbox})
	wantTags(t, "local 1", d.tags(gmailID(1)), nil, []string{"inbox"})
	wantTags(t, "local 2", d.tags(gmailID(2)), []string{"inbox"}, nil)
}

// TestGmailLabelMemberNotInAllMail: a label folder message with no local
// All Mail copy (max_age left it out) is kept unresolved; it costs no
// SELECT of its label while All Mail gets no new mail, and the label's
// other messages sync.
func TestGmailLabelMemberNotInAllMail(t *testing.T) {
	srv := fakegmail.Start(t)
	c, err := imapclient.DialInsecure(srv.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(srv.User, srv.Password).Wait(); err != nil {
		t.Fatal(err)
	}
	old := gmailRaw(1, "old")
	cmd := c.Append(fakegmail.Inbox, int64(len(old)), &imap.AppendOptions{Time: time.Now().AddDate(-2, 0, 0)})
	cmd.Write(old)
	cmd.Close()
	if _, err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	deliverGmail(t, srv, 2, fakegmail.Inbox)
	d := newGmailDeviceTags(t, srv, "inbox;unread;new", `max_age = "30d"`)
	d.pass()
	d.pass()
	if got := d.local(); len(got[gmailID(1)]) != 0 || len(got[gmailID(2)]) != 1 {
		t.Fatalf("local copies %v", got)
	}
	wantTags(t, "new message", d.tags(gmailID(2)), []string{"inbox"}, nil)
	before := srv.Store.Selects()
	d.pass()
	if got := selectsSince(srv, before); slices.Contains(got, fakegmail.Inbox) {
		t.Errorf("a pass without changes selected INBOX (for its unresolved message): %q", got)
	}
	deliverGmail(t, srv, 3, fakegmail.AllMail)
	srv.Store.AddLabel(gmailID(3), "Work")
	d.pass()
	d.pass()
	wantTags(t, "archived, then labelled", d.tags(gmailID(3)), []string{"Work"}, []string{"inbox"})
}

// TestGmailNewUIDValidity: a label folder, then All Mail, numbered again
// under a new UIDVALIDITY: the labels are read again, no tag changes on
// either side, nothing is copied or stored twice.
func TestGmailNewUIDValidity(t *testing.T) {
	srv := fakegmail.Start(t)
	deliverGmail(t, srv, 1, fakegmail.Inbox, "Work")
	deliverGmail(t, srv, 2, fakegmail.AllMail, "Work", "Travel")
	deliverGmail(t, srv, 3, fakegmail.Inbox)
	d := newGmailDevice(t, srv)
	d.pass()
	d.pass()
	check := func(when string) {
		t.Helper()
		wantTags(t, when+" 1", d.tags(gmailID(1)), []string{"inbox", "Work"}, []string{"Travel"})
		wantTags(t, when+" 2", d.tags(gmailID(2)), []string{"Work", "Travel"}, []string{"inbox"})
		wantTags(t, when+" 3", d.tags(gmailID(3)), []string{"inbox"}, []string{"Work"})
		if n := len(srv.Store.Messages("Work")); n != 2 {
			t.Errorf("%s: Work holds %d messages", when, n)
		}
		for id, folders := range d.local() {
			if len(folders) != 1 {
				t.Errorf("%s: %s stored in %q", when, id, folders)
			}
		}
	}
	srv.Store.NewUIDValidity("Work")
	if st := d.pass(); st.TagsUp+st.TagsDown != 0 {
		t.Errorf("new UIDVALIDITY of Work: %d tags down, %d up", st.TagsDown, st.TagsUp)
	}
	check("label folder renumbered")
	srv.Store.NewUIDValidity(fakegmail.AllMail)
	d.pass()
	d.pass()
	check("All Mail renumbered")
	// Label changes still work on the new numbers.
	d.tag(gmailID(3), "+Work")
	srv.Store.RemoveLabel(gmailID(2), "Travel")
	d.pass()
	wantTags(t, "server 3", srv.Store.Labels(gmailID(3)), []string{"Work", fakegmail.Inbox}, nil)
	wantTags(t, "local 2", d.tags(gmailID(2)), []string{"Work"}, []string{"Travel"})
}
