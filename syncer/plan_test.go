package syncer

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
)

func hasWarning(st Stats, parts ...string) bool {
	for _, w := range st.Warnings {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(w, p)
		}
		if ok {
			return true
		}
	}
	return false
}

func TestFolderDeletedOnServerWithLocalMessagesIsKeptAndReported(t *testing.T) {
	f := newFixture(t)
	f.u.CreateFolder(t, "Projects")
	f.u.Append(t, "Projects", f.msg("keep"), imap.FlagSeen)
	f.sync()
	f.u.DeleteFolder(t, "Projects")
	st := f.sync()
	if !hasWarning(st, "Projects", "deleted on the server", "1 message") {
		t.Errorf("no warning: %q", st.Warnings)
	}
	if n := len(f.local("Projects")); n != 1 {
		t.Fatalf("local Projects has %d messages, want 1 kept", n)
	}
}

func TestEmptyFolderDeletedOnServerIsDeletedLocally(t *testing.T) {
	f := newFixture(t)
	f.u.CreateFolder(t, "Empty")
	f.sync()
	if _, ok, _ := f.store.ExistingFolder("Empty"); !ok {
		t.Fatal("Empty was not created locally")
	}
	f.u.DeleteFolder(t, "Empty")
	f.sync()
	if _, ok, _ := f.store.ExistingFolder("Empty"); ok {
		t.Error("empty folder deleted on the server still exists locally")
	}
}

func TestFolderDeletedLocallyWithServerMessagesIsKeptAndReported(t *testing.T) {
	f := newFixture(t)
	f.u.CreateFolder(t, "Old")
	f.u.Append(t, "Old", f.msg("on server"), imap.FlagSeen)
	f.sync()
	lf, _, _ := f.store.ExistingFolder("Old")
	if err := os.RemoveAll(lf.Path); err != nil {
		t.Fatal(err)
	}
	st := f.sync()
	if !hasWarning(st, "Old", "deleted locally", "1 message") {
		t.Errorf("no warning: %q", st.Warnings)
	}
	if n := len(f.u.Messages(t, "Old")); n != 1 {
		t.Fatalf("server Old has %d, want 1 kept", n)
	}
}

func TestEmptyFolderDeletedLocallyIsDeletedOnServer(t *testing.T) {
	f := newFixture(t)
	f.u.CreateFolder(t, "Scratch")
	f.sync()
	lf, _, _ := f.store.ExistingFolder("Scratch")
	os.RemoveAll(lf.Path)
	f.sync()
	if slices.Contains(f.u.Folders(t), "Scratch") {
		t.Error("empty folder deleted locally still exists on the server")
	}
}

func TestNewLocalFolderIsCreatedOnServer(t *testing.T) {
	f := newFixture(t)
	f.sync()
	fo, _ := f.store.Folder("Projects/x")
	w, _ := fo.NewMessage()
	w.Write([]byte(strings.ReplaceAll(string(f.msg("p")), "\r\n", "\n")))
	w.Commit("", time_(t))
	f.sync()
	f.compare()
	found := false
	for _, n := range f.u.Folders(t) {
		if n == "Projects/x" {
			found = true
		}
	}
	if !found {
		t.Errorf("server folders %v lack Projects/x", f.u.Folders(t))
	}
}
