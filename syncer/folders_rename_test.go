package syncer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/maildir"
	"github.com/mailmirror/mailmirror/state"
)

// keysOf returns the sorted file names of a local folder's messages.
func (f *fixture) namesOf(folder string) []string {
	var out []string
	for _, m := range f.local(folder) {
		out = append(out, filepath.Base(m.Path))
	}
	sort.Strings(out)
	return out
}

// fill appends n messages to a server folder.
func (f *fixture) fill(folder string, n int) {
	for i := range n {
		f.u.Append(f.t, folder, f.msg(fmt.Sprintf("%s %d", folder, i)), imap.FlagSeen)
	}
}

// Another client renames a folder with a subfolder on the server: the
// local folders are renamed, no message is downloaded again, none is left
// behind in the old place.
func TestServerFolderRenameRenamesLocally(t *testing.T) {
	f := newFixture(t)
	f.u.CreateFolder(t, "Archive")
	f.u.CreateFolder(t, "Archive/2024")
	f.fill("Archive", 20)
	f.fill("Archive/2024", 3)
	f.sync()
	before, beforeSub := f.namesOf("Archive"), f.namesOf("Archive/2024")
	f.u.RenameFolder(t, "Archive", "Old")
	st := f.sync()
	if st.Down.New != 0 || st.Up.New != 0 || st.Paired != 0 {
		t.Errorf("rename on the server: %v, %d paired; want nothing transferred or re-paired", st, st.Paired)
	}
	if _, ok, _ := f.store.ExistingFolder("Archive"); ok {
		t.Error("local Archive still exists")
	}
	if got := f.namesOf("Old"); !slices.Equal(got, before) {
		t.Errorf("local Old holds %d files, want Archive's %d under the same names", len(got), len(before))
	}
	if got := f.namesOf("Old/2024"); !slices.Equal(got, beforeSub) {
		t.Errorf("local Old/2024 holds %d files, want %d", len(got), len(beforeSub))
	}
	if len(st.Warnings) > 0 {
		t.Errorf("warnings: %q", st.Warnings)
	}
	f.compare()
	if st := f.sync(); st.Down != (Counts{}) || st.Up != (Counts{}) || len(st.Warnings) > 0 {
		t.Errorf("pass after the rename: %v %q", st, st.Warnings)
	}
}

// The user renames a folder with a subfolder locally: RENAME on the
// server, no APPEND, the server keeps one copy of each message.
func TestLocalFolderRenameRenamesOnServer(t *testing.T) {
	f := newFixture(t)
	f.u.CreateFolder(t, "Sent")
	f.u.CreateFolder(t, "Sent/2024")
	f.fill("Sent", 20)
	f.fill("Sent/2024", 3)
	f.sync()
	lf, _, _ := f.store.ExistingFolder("Sent")
	if err := os.Rename(lf.Path, filepath.Join(filepath.Dir(lf.Path), "SentOld")); err != nil {
		t.Fatal(err)
	}
	st := f.sync()
	if st.Up.New != 0 || st.Down.New != 0 || st.Up.Deleted != 0 {
		t.Errorf("local rename: %v; want nothing transferred or deleted", st)
	}
	folders := f.u.Folders(t)
	if slices.Contains(folders, "Sent") || !slices.Contains(folders, "SentOld") || !slices.Contains(folders, "SentOld/2024") {
		t.Errorf("server folders %q, want SentOld and SentOld/2024 and no Sent", folders)
	}
	if n, m := len(f.u.Messages(t, "SentOld")), len(f.u.Messages(t, "SentOld/2024")); n != 20 || m != 3 {
		t.Errorf("server SentOld has %d, SentOld/2024 %d; want 20 and 3", n, m)
	}
	f.compare()
	if st := f.sync(); st.Down != (Counts{}) || st.Up != (Counts{}) {
		t.Errorf("pass after the rename: %v", st)
	}
}

// A folder renamed locally onto a name the server has already: nothing is
// renamed, both are kept, a note says so, nothing is lost.
func TestFolderRenameOntoExistingNameKeepsBoth(t *testing.T) {
	f := newFixture(t)
	f.u.CreateFolder(t, "Sent")
	f.fill("Sent", 5)
	f.sync()
	f.u.CreateFolder(t, "Mine") // another client, meanwhile
	lf, _, _ := f.store.ExistingFolder("Sent")
	if err := os.Rename(lf.Path, filepath.Join(filepath.Dir(lf.Path), "Mine")); err != nil {
		t.Fatal(err)
	}
	st := f.sync()
	if !hasWarning(st, "Sent", "Mine", "both kept") {
		t.Errorf("no conflict warning: %q", st.Warnings)
	}
	if n := len(f.u.Messages(t, "Sent")); n != 5 {
		t.Errorf("server Sent has %d messages, want its 5 kept", n)
	}
	if n := len(f.local("Mine")); n != 5 {
		t.Errorf("local Mine has %d messages, want 5", n)
	}
	notes, _ := f.db.Notes("test")
	if len(notes) == 0 {
		t.Error("no note for status")
	}
	if st := f.sync(); hasWarning(st, "both kept") {
		t.Errorf("the conflict is reported again: %q", st.Warnings)
	}
}

// A pass killed after its rename (a RENAME sent to the server, or the
// local directory renamed) and before the state recorded it: the next
// pass settles the intent, and neither transfers nor re-pairs the folder.
func TestFolderRenameIntentSettledAfterCrash(t *testing.T) {
	for _, onServer := range []bool{true, false} {
		t.Run(fmt.Sprintf("onServer=%v", onServer), func(t *testing.T) {
			f := newFixture(t)
			f.u.CreateFolder(t, "Sent")
			f.fill("Sent", 10)
			f.sync()
			kf, _, _ := f.db.Folder("test", "Sent")
			data, _ := json.Marshal(renameIntent{FolderID: kf.ID, From: "Sent", To: "SentOld", FromRemote: "Sent", ToRemote: "SentOld", OnServer: onServer})
			if _, err := f.db.AddOp(state.Op{Account: "test", Kind: opFolderRename, Folder: "Sent", Data: data}); err != nil {
				t.Fatal(err)
			}
			lf, _, _ := f.store.ExistingFolder("Sent")
			if err := os.Rename(lf.Path, filepath.Join(filepath.Dir(lf.Path), "SentOld")); err != nil {
				t.Fatal(err)
			}
			f.u.RenameFolder(t, "Sent", "SentOld")
			st := f.sync()
			if st.Up.New != 0 || st.Down.New != 0 || st.Paired != 0 {
				t.Errorf("after the crash: %v, %d paired; want nothing", st, st.Paired)
			}
			if got, ok, _ := f.db.Folder("test", "SentOld"); !ok || got.ID != kf.ID {
				t.Errorf("state: SentOld %+v %v, want the old record renamed", got, ok)
			}
			if n, _ := f.db.OpCount("test"); n != 0 {
				t.Errorf("%d ops left", n)
			}
			f.compare()
		})
	}
}

// A folder deleted on the server that still holds messages here is kept
// and reported once; status has it (a note) until it is resolved.
func TestFolderDeletedOnServerReportedOnce(t *testing.T) {
	f := newFixture(t)
	f.u.CreateFolder(t, "Projects")
	f.fill("Projects", 2)
	f.sync()
	f.u.DeleteFolder(t, "Projects")
	if st := f.sync(); !hasWarning(st, "Projects", "deleted on the server") {
		t.Fatalf("no warning: %q", st.Warnings)
	}
	if st := f.sync(); hasWarning(st, "Projects") {
		t.Errorf("reported again: %q", st.Warnings)
	}
	notes, _ := f.db.Notes("test")
	if len(notes) != 1 || notes[0].Folder != "Projects" {
		t.Fatalf("notes %+v, want one for Projects", notes)
	}
	lf, _, _ := f.store.ExistingFolder("Projects")
	os.RemoveAll(lf.Path)
	f.sync()
	if notes, _ := f.db.Notes("test"); len(notes) != 0 {
		t.Errorf("notes after the folder went: %+v", notes)
	}
}

// A folder deleted locally whose server folder was empty when the pass
// listed it, but got a message just before the DELETE: it is not deleted,
// the message survives.
func TestFolderDeletedLocallyKeptWhenMailArrivesMeanwhile(t *testing.T) {
	f := newFixture(t)
	f.u.CreateFolder(t, "Scratch")
	f.sync()
	lf, _, _ := f.store.ExistingFolder("Scratch")
	os.RemoveAll(lf.Path)
	beforeFolderDelete = func(string) { f.u.Append(t, "Scratch", f.msg("late")) }
	t.Cleanup(func() { beforeFolderDelete = nil })
	st := f.sync()
	beforeFolderDelete = nil
	if !slices.Contains(f.u.Folders(t), "Scratch") || len(f.u.Messages(t, "Scratch")) != 1 {
		t.Fatalf("server Scratch deleted with the message delivered meanwhile")
	}
	if !hasWarning(st, "Scratch", "deleted locally") {
		t.Errorf("no warning: %q", st.Warnings)
	}
}

// maildirPP switches the fixture to the Maildir++ layout (before its
// first pass), where subfolders are directories of their own.
func (f *fixture) maildirPP() {
	f.t.Helper()
	f.acct.Layout = maildir.LayoutMaildirPP
	st, err := maildir.Open(f.acct.Maildir, f.acct.Layout)
	if err != nil {
		f.t.Fatal(err)
	}
	f.store = st
}

// Maildir++: a server rename of a folder with a subfolder renames both
// local directories; a local rename of the parent alone (mv .Sent
// .SentOld leaves .Sent.2024) is a RENAME on the server, which takes the
// subfolder along, and the local subfolder follows.
func TestFolderRenamesWithMaildirPlusPlus(t *testing.T) {
	f := newFixture(t)
	f.maildirPP()
	for _, n := range []string{"Archive", "Archive/2024", "Sent", "Sent/2024"} {
		f.u.CreateFolder(t, n)
		f.fill(n, 3)
	}
	f.sync()
	f.u.RenameFolder(t, "Archive", "Old")
	root := f.acct.Maildir
	if err := os.Rename(filepath.Join(root, ".Sent"), filepath.Join(root, ".SentOld")); err != nil {
		t.Fatal(err)
	}
	st := f.sync()
	if st.Down.New != 0 || st.Up.New != 0 || st.Paired != 0 || len(st.Warnings) > 0 {
		t.Errorf("renames: %v, %d paired, warnings %q; want nothing transferred", st, st.Paired, st.Warnings)
	}
	for _, n := range []string{"Old", "Old/2024", "SentOld", "SentOld/2024"} {
		if len(f.local(n)) != 3 || len(f.u.Messages(t, n)) != 3 {
			t.Errorf("%s: %d local, %d on the server; want 3 and 3", n, len(f.local(n)), len(f.u.Messages(t, n)))
		}
	}
	f.compare()
}
