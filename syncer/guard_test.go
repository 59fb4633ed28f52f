package syncer

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mailmirror/mailmirror/config"
)

// syncWith runs one pass with options (the password is filled in).
func (f *fixture) syncWith(opts Options) Stats {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	opts.Password = config.Secret(f.u.Password)
	s := New(f.acct, f.store, f.db, opts)
	defer s.Close()
	st, err := s.Sync(ctx)
	if err != nil {
		f.t.Fatalf("sync: %v", err)
	}
	return st
}

// Every file moved out of the local INBOX (a mistaken mv): the pass
// deletes nothing on the server, says why naming account and folder,
// keeps a note for status, and still syncs the other folders. With
// --allow-deletes for the folder the deletes go through.
func TestMassLocalDeleteIsRefused(t *testing.T) {
	f := newFixture(t)
	f.u.CreateFolder(t, "Archive")
	f.fill("INBOX", 303)
	f.fill("Archive", 3)
	f.sync()
	lf, _, _ := f.store.ExistingFolder("INBOX")
	away := t.TempDir()
	for _, sub := range []string{"cur", "new"} {
		ents, _ := os.ReadDir(filepath.Join(lf.Path, sub))
		for _, e := range ents {
			if err := os.Rename(filepath.Join(lf.Path, sub, e.Name()), filepath.Join(away, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	f.u.Append(t, "Archive", f.msg("still synced"))
	for pass := range 2 {
		st := f.sync()
		if st.Up.Deleted != 0 {
			t.Errorf("pass %d: %d deleted on the server", pass, st.Up.Deleted)
		}
		if !hasWarning(st, `account "test", folder "INBOX"`, "would delete 303 of its 303", "--allow-deletes test/INBOX") {
			t.Errorf("pass %d: no guard warning: %q", pass, st.Warnings)
		}
	}
	if n := len(f.u.Messages(t, "INBOX")); n != 303 {
		t.Fatalf("server INBOX has %d messages, want 303", n)
	}
	if n := len(f.local("Archive")); n != 4 {
		t.Errorf("local Archive has %d messages, want 4: the other folders sync", n)
	}
	notes, _ := f.db.Notes("test")
	if len(notes) != 1 || notes[0].Folder != "INBOX" || notes[0].Kind != noteDeleteGuard {
		t.Errorf("notes %+v, want the guard's for INBOX", notes)
	}
	st := f.syncWith(Options{AllowDeletes: []string{"INBOX"}})
	if st.Up.Deleted != 303 || len(f.u.Messages(t, "INBOX")) != 0 {
		t.Errorf("with --allow-deletes: %v, server INBOX %d", st, len(f.u.Messages(t, "INBOX")))
	}
	if notes, _ := f.db.Notes("test"); len(notes) != 0 {
		t.Errorf("notes after the allowed pass: %+v", notes)
	}
	f.compare()
}

// A server that answers an empty folder (here: another client expunged
// all of it): no local file is removed until --allow-deletes says so.
func TestEmptyServerFolderIsRefused(t *testing.T) {
	f := newFixture(t)
	f.fill("INBOX", 60)
	f.sync()
	for _, m := range f.u.Messages(t, "INBOX") {
		f.u.Expunge(t, "INBOX", m.UID)
	}
	st := f.sync()
	if st.Down.Deleted != 0 || len(f.local("INBOX")) != 60 {
		t.Fatalf("%v; local INBOX has %d files, want 60 kept", st, len(f.local("INBOX")))
	}
	if !hasWarning(st, `folder "INBOX"`, "would delete 60 of its 60 local messages") {
		t.Errorf("no guard warning: %q", st.Warnings)
	}
	st = f.syncWith(Options{AllowDeletes: []string{"*"}})
	if st.Down.Deleted != 60 || len(f.local("INBOX")) != 0 {
		t.Errorf("with --allow-deletes: %v, %d local files", st, len(f.local("INBOX")))
	}
}

// Below the threshold (50 messages, or 25% of the folder) deletes go
// through as before.
func TestFewDeletesAreNotGuarded(t *testing.T) {
	f := newFixture(t)
	f.fill("INBOX", 60)
	f.sync()
	for i, m := range f.local("INBOX") {
		if i < 40 {
			os.Remove(m.Path)
		}
	}
	if st := f.sync(); st.Up.Deleted != 40 || len(st.Warnings) > 0 {
		t.Errorf("%v %q, want 40 deleted, no warning", st, st.Warnings)
	}
	f.compare()
}

// A folder deleted on one side that still holds messages on the other is
// kept, unless --allow-deletes names it: then the messages mailmirror
// knows from both sides are deleted, and the folder with them.
func TestWholeFolderDeleteNeedsAllowDeletes(t *testing.T) {
	f := newFixture(t)
	f.u.CreateFolder(t, "Old")
	f.u.CreateFolder(t, "Gone")
	f.fill("Old", 3)
	f.fill("Gone", 2)
	f.sync()
	lf, _, _ := f.store.ExistingFolder("Old")
	os.RemoveAll(lf.Path)
	f.u.DeleteFolder(t, "Gone")
	f.sync()
	if len(f.u.Messages(t, "Old")) != 3 || len(f.local("Gone")) != 2 {
		t.Fatalf("without --allow-deletes: server Old %d, local Gone %d; want 3 and 2 kept", len(f.u.Messages(t, "Old")), len(f.local("Gone")))
	}
	f.syncWith(Options{AllowDeletes: []string{"Old", "Gone"}})
	if slices.Contains(f.u.Folders(t), "Old") {
		t.Error("server Old still there with --allow-deletes")
	}
	if _, ok, _ := f.store.ExistingFolder("Gone"); ok {
		t.Error("local Gone still there with --allow-deletes")
	}
	if notes, _ := f.db.Notes("test"); len(notes) != 0 {
		t.Errorf("notes: %+v", notes)
	}
	f.compare()
}

// A Maildir root that holds none of the known folders (a wrong maildir
// path, a disk not mounted) deletes no server folder, not even empty
// ones, and uploads nothing; the folders come back when the root does.
func TestMaildirGoneDeletesNoServerFolder(t *testing.T) {
	f := newFixture(t)
	f.u.CreateFolder(t, "Empty")
	f.u.CreateFolder(t, "Archive")
	f.fill("INBOX", 3)
	f.fill("Archive", 2)
	f.sync()
	away := f.acct.Maildir + ".away"
	if err := os.Rename(f.acct.Maildir, away); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(f.acct.Maildir, 0o700)
	st := f.sync()
	if !hasWarning(st, "none of its 3 folders") {
		t.Errorf("no warning: %q", st.Warnings)
	}
	if got := f.u.Folders(t); !slices.Equal(got, []string{"Archive", "Empty", "INBOX"}) {
		t.Errorf("server folders %q, want all kept", got)
	}
	if len(f.u.Messages(t, "INBOX")) != 3 || st.Up.Deleted != 0 {
		t.Errorf("server INBOX %d, %v", len(f.u.Messages(t, "INBOX")), st)
	}
	os.RemoveAll(f.acct.Maildir)
	if err := os.Rename(away, f.acct.Maildir); err != nil {
		t.Fatal(err)
	}
	f.sync()
	f.compare()
}
