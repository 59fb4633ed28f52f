package syncer

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/internal/testenv"
)

// loggedNotmuch makes d run notmuch through a script that logs the
// subcommand of every run, and returns a function that reads and clears
// the log.
func loggedNotmuch(t *testing.T, d *tagDevice) func() string {
	t.Helper()
	nm := testenv.RequireNotmuch(t)
	log := filepath.Join(d.dir, "notmuch.log")
	d.bin = filepath.Join(d.dir, "notmuch-logged")
	script := "#!/bin/sh\necho \"$1\" >> " + log + "\nexec " + nm + " \"$@\"\n"
	if err := os.WriteFile(d.bin, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	return func() string {
		data, _ := os.ReadFile(log)
		if err := os.WriteFile(log, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		return strings.Join(strings.Fields(string(data)), " ")
	}
}

// TestTagsChangedPassCost: a pass after a keyword changed on the server
// and a tag in notmuch reads the server's keywords from the FLAGS fetch
// the pass makes anyway (one CHANGEDSINCE per changed folder, not a second
// one for tags), runs notmuch for the count of the changes, the changes
// and one batch of writes, and after the pass reads its own writes back
// (count, show), so that the next quiet pass of the same Syncer runs
// notmuch not at all.
func TestTagsChangedPassCost(t *testing.T) {
	testenv.RequireDovecot(t)
	u := testenv.Shared(t).NewUser(t)
	d := newTagDevice(t, u)
	runs := loggedNotmuch(t, d)
	raw1, raw2 := d.msg("server side"), d.msg("local side")
	uid1 := u.Append(t, "INBOX", raw1, imap.Flag("old"))
	u.Append(t, "INBOX", raw2)
	d.pass()
	d.pass()
	var trace bytes.Buffer
	s := New(d.acct, d.store, d.db, Options{DialOptions: DialOptions{Password: config.Secret(d.u.Password), DebugWriter: &trace}, NotmuchEnv: d.env, NotmuchBin: d.bin})
	defer s.Close()
	if _, err := s.Sync(t.Context()); err != nil { // reads notmuch's settings; notmuch new ran
		t.Fatal(err)
	}
	s.tagClose()
	runs()
	trace.Reset()

	u.SetFlags(t, "INBOX", uid1, true, imap.Flag("fromphone"))
	d.notmuch("tag", "+fromlaptop", "--", "id:"+strings.Trim(msgID(raw2), "<>"))
	st, err := s.Sync(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	s.tagClose() // the check after the pass
	if st.TagsDown != 1 || st.TagsUp != 1 {
		t.Errorf("tags %d down, %d up; want 1, 1", st.TagsDown, st.TagsUp)
	}
	wantTags(t, "local", d.tags(msgID(raw1)), []string{"fromphone", "old"}, nil)
	wantTags(t, "server", keywords(t, u, "INBOX", msgID(raw2)), []string{"fromlaptop"}, nil)
	if got := runs(); got != "count show tag count show" {
		t.Errorf("changed pass ran notmuch %q, want \"count show tag count show\"", got)
	}
	if n := strings.Count(trace.String(), "CHANGEDSINCE"); n != 1 {
		t.Errorf("changed pass sent %d FETCH … CHANGEDSINCE, want 1 (the flags' own):\n%s", n, trace.String())
	}

	st, err = s.Sync(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := runs(); got != "" || st.TagsDown+st.TagsUp != 0 {
		t.Errorf("quiet pass after it ran notmuch %q, tags %d down %d up; want no run", got, st.TagsDown, st.TagsUp)
	}
	d.compare()
}

// TestTagsOtherAccountsChangesNotRead: one notmuch database over several
// accounts' Maildirs. A change to another account's message moves the
// revision, but this account's pass only counts its own changes
// (path:"Mail/**") and reads none; its own change is read and synced.
func TestTagsOtherAccountsChangesNotRead(t *testing.T) {
	testenv.RequireDovecot(t)
	u := testenv.Shared(t).NewUser(t)
	d := newTagDevice(t, u)
	conf := "[database]\npath=" + d.dir + "\n[new]\ntags=inbox;unread;new\nignore=state;config.toml;notmuch-config;notmuch.log;notmuch-logged\n"
	if err := os.WriteFile(filepath.Join(d.dir, "notmuch-config"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(d.dir, "Other", "cur")
	if err := os.MkdirAll(other, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, "k1:2,S"), []byte("Message-ID: <other@example.org>\nSubject: other\n\nbody\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d.notmuch("new", "--quiet")
	runs := loggedNotmuch(t, d)
	raw := d.msg("ours")
	u.Append(t, "INBOX", raw)
	d.pass()
	d.pass()
	s := New(d.acct, d.store, d.db, Options{DialOptions: DialOptions{Password: config.Secret(d.u.Password)}, NotmuchEnv: d.env, NotmuchBin: d.bin})
	defer s.Close()
	if _, err := s.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	s.tagClose()
	runs()

	d.notmuch("tag", "+elsewhere", "--", "id:other@example.org")
	st, err := s.Sync(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got := runs(); got != "count" || st.TagsDown+st.TagsUp != 0 {
		t.Errorf("another account's change: notmuch %q, tags %d down %d up; want \"count\" and nothing synced", got, st.TagsDown, st.TagsUp)
	}
	d.notmuch("tag", "+mine", "--", "id:"+strings.Trim(msgID(raw), "<>"))
	st, err = s.Sync(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.TagsUp != 1 {
		t.Errorf("our change: tags %d up, want 1", st.TagsUp)
	}
	wantTags(t, "server", keywords(t, u, "INBOX", msgID(raw)), []string{"mine"}, []string{"elsewhere"})
}
