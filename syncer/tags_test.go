package syncer

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/internal/testenv"
)

// tagDevice is a device with tags = "notmuch": its own notmuch database
// over its Maildir.
type tagDevice struct {
	*fixture
	env []string
	bin string
}

func newTagDevice(t *testing.T, u *testenv.User) *tagDevice {
	t.Helper()
	testenv.RequireNotmuch(t)
	f := newDevice(t, u)
	f.acct.Tags = config.TagsNotmuch
	f.acct.TagMap = map[string]string{"$label1": "important"}
	if err := os.MkdirAll(f.acct.Maildir, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(f.dir, "notmuch-config")
	conf := "[database]\npath=" + f.acct.Maildir + "\n[new]\ntags=inbox;unread;new\n[maildir]\nsynchronize_flags=true\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	d := &tagDevice{fixture: f, env: append(os.Environ(), "NOTMUCH_CONFIG="+cfg)}
	d.notmuch("new", "--quiet")
	return d
}

// pass syncs, then indexes the new mail as on_new_mail = "notmuch new"
// does.
func (d *tagDevice) pass() Stats {
	d.t.Helper()
	st := d.syncOnly()
	d.notmuch("new", "--quiet")
	return st
}

func (d *tagDevice) syncOnly() Stats {
	d.t.Helper()
	st, err := d.trySyncTags()
	if err != nil {
		d.t.Fatalf("sync: %v", err)
	}
	for _, w := range st.Warnings {
		d.t.Errorf("warning: %s", w)
	}
	return st
}

func (d *tagDevice) trySyncTags() (Stats, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := New(d.acct, d.store, d.db, Options{DialOptions: DialOptions{Password: config.Secret(d.u.Password)}, NotmuchEnv: d.env, NotmuchBin: d.bin})
	defer s.Close()
	return s.Sync(ctx)
}

func (d *tagDevice) notmuch(args ...string) string {
	d.t.Helper()
	cmd := exec.Command("notmuch", args...)
	cmd.Env = d.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		d.t.Fatalf("notmuch %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// tags returns a message's notmuch tags.
func (d *tagDevice) tags(msgid string) []string {
	d.t.Helper()
	out := d.notmuch("search", "--output=tags", "id:"+strings.Trim(msgid, "<>"))
	return strings.Fields(out)
}

// keywords returns the keywords of a server message (flags without "\").
func keywords(t *testing.T, u *testenv.User, folder, msgid string) []string {
	t.Helper()
	for _, m := range u.Messages(t, folder) {
		if m.MessageID == msgid {
			var out []string
			for _, f := range m.Flags {
				if !strings.HasPrefix(f, `\`) {
					out = append(out, f)
				}
			}
			return out
		}
	}
	t.Fatalf("no server message %s in %s", msgid, folder)
	return nil
}

func wantTags(t *testing.T, what string, got []string, has, hasNot []string) {
	t.Helper()
	for _, x := range has {
		if !slices.Contains(got, x) {
			t.Errorf("%s: %q lacks %q", what, got, x)
		}
	}
	for _, x := range hasNot {
		if slices.Contains(got, x) {
			t.Errorf("%s: %q has %q", what, got, x)
		}
	}
}

func TestTagsKeywordToTag(t *testing.T) {
	testenv.RequireDovecot(t)
	u := testenv.Shared(t).NewUser(t)
	d := newTagDevice(t, u)
	raw := d.msg("keywords")
	u.Append(t, "INBOX", raw, imap.Flag("work"), imap.Flag("$label1"), imap.Flag("$NotJunk"), imap.FlagSeen)
	d.pass() // downloads; notmuch indexes afterwards
	if got := d.tags(msgID(raw)); slices.Contains(got, "work") {
		t.Fatalf("tags %q before the message was indexed", got)
	}
	st := d.pass() // the message is indexed now: its tags arrive
	wantTags(t, "local", d.tags(msgID(raw)), []string{"work", "important", "$NotJunk", "inbox"}, []string{"$label1", "unread"})
	if st.TagsDown != 1 {
		t.Errorf("TagsDown = %d, want 1", st.TagsDown)
	}
	// Bookkeeping tags notmuch new set (inbox, new) never reach the server.
	wantTags(t, "server", keywords(t, u, "INBOX", msgID(raw)), []string{"work", "$label1", "$NotJunk"}, []string{"inbox", "new", "unread", "important"})
	d.compare()
}

func TestTagsTagToKeywordAndRemovalBothWays(t *testing.T) {
	testenv.RequireDovecot(t)
	u := testenv.Shared(t).NewUser(t)
	d := newTagDevice(t, u)
	raw1, raw2 := d.msg("one"), d.msg("two")
	u.Append(t, "INBOX", raw1, imap.Flag("old1"))
	u.Append(t, "INBOX", raw2, imap.Flag("old2"))
	d.pass()
	d.pass()
	id1, id2 := strings.Trim(msgID(raw1), "<>"), strings.Trim(msgID(raw2), "<>")
	d.notmuch("tag", "+todo", "+important", "+signed", "+attachment", "-old1", "--", "id:"+id1)
	st := d.pass()
	if st.TagsUp != 1 {
		t.Errorf("TagsUp = %d, want 1", st.TagsUp)
	}
	wantTags(t, "server 1", keywords(t, u, "INBOX", msgID(raw1)), []string{"todo", "$label1"}, []string{"old1", "signed", "attachment", "inbox", "unread", "new", "important"})
	// Server side: remove old2, add later.
	uid2 := uidOf(t, u, "INBOX", msgID(raw2))
	u.SetFlags(t, "INBOX", uid2, false, imap.Flag("old2"))
	u.SetFlags(t, "INBOX", uid2, true, imap.Flag("later"))
	st = d.pass()
	wantTags(t, "local 2", d.tags(msgID(raw2)), []string{"later", "inbox"}, []string{"old2"})
	wantTags(t, "local 1", d.tags(msgID(raw1)), []string{"todo", "important", "signed"}, []string{"old1"})
	if st.TagsDown != 1 || st.TagsUp != 0 {
		t.Errorf("TagsDown, TagsUp = %d, %d; want 1, 0", st.TagsDown, st.TagsUp)
	}
	_ = id2
	// Nothing changed: nothing moves.
	if st := d.pass(); st.TagsDown+st.TagsUp != 0 {
		t.Errorf("a pass without changes changed tags: %d down, %d up", st.TagsDown, st.TagsUp)
	}
}

func uidOf(t *testing.T, u *testenv.User, folder, msgid string) uint32 {
	t.Helper()
	for _, m := range u.Messages(t, folder) {
		if m.MessageID == msgid {
			return m.UID
		}
	}
	t.Fatalf("no server message %s in %s", msgid, folder)
	return 0
}

// TestTagsConcurrentChanges: both sides change one message's tags between
// passes: adds of both are kept, a removal wins only where the other side
// did not touch the tag.
func TestTagsConcurrentChanges(t *testing.T) {
	testenv.RequireDovecot(t)
	u := testenv.Shared(t).NewUser(t)
	d := newTagDevice(t, u)
	raw := d.msg("both")
	uid := u.Append(t, "INBOX", raw, imap.Flag("a"), imap.Flag("b"), imap.Flag("c"))
	d.pass()
	d.pass()
	id := strings.Trim(msgID(raw), "<>")
	d.notmuch("tag", "+local", "-a", "-c", "--", "id:"+id) // c removed on both sides
	u.SetFlags(t, "INBOX", uid, true, imap.Flag("remote"))
	u.SetFlags(t, "INBOX", uid, false, imap.Flag("b"), imap.Flag("c"))
	d.pass()
	want, gone := []string{"local", "remote"}, []string{"a", "b", "c"}
	wantTags(t, "local", d.tags(msgID(raw)), want, gone)
	wantTags(t, "server", keywords(t, u, "INBOX", msgID(raw)), want, gone)
}

// TestTagsStaleDevice: a laptop that did not sync for a while must not
// bring back tags another device removed, nor undo its additions.
func TestTagsStaleDevice(t *testing.T) {
	testenv.RequireDovecot(t)
	u := testenv.Shared(t).NewUser(t)
	a, b := newTagDevice(t, u), newTagDevice(t, u)
	raw := a.msg("stale")
	u.Append(t, "INBOX", raw, imap.Flag("old"))
	for _, d := range []*tagDevice{a, b} {
		d.pass()
		d.pass()
		wantTags(t, "start", d.tags(msgID(raw)), []string{"old"}, nil)
	}
	id := strings.Trim(msgID(raw), "<>")
	a.notmuch("tag", "-old", "+fresh", "--", "id:"+id)
	a.pass()
	b.pass() // stale: its tags did not change since its last pass
	wantTags(t, "stale device", b.tags(msgID(raw)), []string{"fresh"}, []string{"old"})
	wantTags(t, "server", keywords(t, u, "INBOX", msgID(raw)), []string{"fresh"}, []string{"old"})
	a.pass()
	wantTags(t, "first device", a.tags(msgID(raw)), []string{"fresh"}, []string{"old"})
}
