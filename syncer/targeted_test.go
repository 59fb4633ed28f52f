package syncer

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/internal/testenv"
	"github.com/mailmirror/mailmirror/maildir"
)

// pullNew runs PullNew with a syncer of its own, for INBOX when nothing
// is given.
func (f *fixture) pullNew(pushed ...Pushed) (Stats, error) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := New(f.acct, f.store, f.db, Options{DialOptions: DialOptions{Password: config.Secret(f.u.Password)}})
	defer s.Close()
	if len(pushed) == 0 {
		pushed = []Pushed{{Folder: "INBOX"}}
	}
	return s.PullNew(ctx, pushed...)
}

// The IDLE fast path: new server messages in a quiet folder are downloaded
// without a full pass, paired so that the next pass has nothing to do, and
// never doubled with what a pass uploaded itself.
func TestPullNewDownloadsOnlyTheNewMessages(t *testing.T) {
	f := newFixture(t)
	f.u.CreateFolder(t, "Archive")
	for i := 0; i < 3; i++ {
		f.u.Append(t, "INBOX", f.msg("old"), imap.FlagSeen)
	}
	f.u.Append(t, "Archive", f.msg("archived"))
	// A local message the pass uploads: its UID is at or above the
	// UIDNEXT the pass recorded, and must not come back as new.
	f.writeLocal("INBOX", 800, "S")
	if st := f.sync(); st.Down.New != 4 || st.Up.New != 1 {
		t.Fatalf("first pass: %s", st)
	}

	f.u.Append(t, "INBOX", f.msg("pushed 1"))
	f.u.Append(t, "INBOX", f.msg("pushed 2"), imap.FlagFlagged)
	st, err := f.pullNew()
	if err != nil {
		t.Fatalf("PullNew: %v", err)
	}
	if st.Down.New != 2 {
		t.Fatalf("PullNew: %s, want 2 new", st)
	}
	f.compare()
	if st := f.sync(); st.Down != (Counts{}) || st.Up != (Counts{}) {
		t.Fatalf("the pass after PullNew found work: %s", st)
	}
	f.compare()
	if n := len(f.local("INBOX")); n != 6 {
		t.Fatalf("local INBOX has %d messages, want 6", n)
	}
	// Nothing new: nothing done.
	if st, err := f.pullNew(); err != nil || st.Down != (Counts{}) {
		t.Fatalf("PullNew with nothing new: %s, %v", st, err)
	}
}

// Flag changes and reported expunges are applied message by message.
func TestPullNewAppliesFlagsAndExpunges(t *testing.T) {
	f := newFixture(t)
	uids := make([]uint32, 4)
	raws := make([][]byte, len(uids))
	for i := range uids {
		raws[i] = f.msg("inbox")
		uids[i] = f.u.Append(t, "INBOX", raws[i])
	}
	f.sync()
	f.u.SetFlags(t, "INBOX", uids[0], true, imap.FlagSeen, imap.FlagFlagged)
	f.u.Expunge(t, "INBOX", uids[1])
	f.u.Append(t, "INBOX", f.msg("new"))
	st, err := f.pullNew(Pushed{Folder: "INBOX", Expunged: []uint32{uids[1]}})
	if err != nil {
		t.Fatalf("PullNew: %v", err)
	}
	if st.Down != (Counts{New: 1, Flags: 1, Deleted: 1}) {
		t.Fatalf("PullNew: %s, want 1 new, 1 flags, 1 deleted", st)
	}
	f.compare()
	if st := f.sync(); st.Down != (Counts{}) || st.Up != (Counts{}) {
		t.Fatalf("the pass after PullNew found work: %s", st)
	}
	// An expunged UID the server still has is not believed.
	if _, err := f.pullNew(Pushed{Folder: "INBOX", Expunged: []uint32{uids[2]}}); err != nil {
		t.Fatalf("PullNew with a wrong expunge: %v", err)
	}
	f.compare()
	if n := len(f.local("INBOX")); n != 4 {
		t.Fatalf("local INBOX has %d messages, want 4", n)
	}
}

// A server flag change of a message whose local file carries another
// tool's name (a keyword letter mailmirror does not map): the stat by name
// misses it, the folder is listed instead, and the change arrives with
// the other letter kept.
func TestPullNewFlagsOnAFileWithAnotherToolsName(t *testing.T) {
	f := newFixture(t)
	raw := f.msg("renamed by a tool")
	uid := f.u.Append(t, "INBOX", raw)
	other := f.u.Append(t, "INBOX", f.msg("left alone"))
	f.sync()
	id := testenv.MessageIDOf(raw)
	p := f.file("INBOX", id)
	if err := os.Rename(p, p+":2,a"); err != nil { // unseen, no flags: KEY in new/
		t.Fatal(err)
	}
	if st := f.sync(); st.Down != (Counts{}) || st.Up != (Counts{}) {
		t.Fatalf("a keyword letter alone is no change: %s", st)
	}
	f.u.SetFlags(t, "INBOX", uid, true, imap.FlagFlagged)
	f.u.SetFlags(t, "INBOX", other, true, imap.FlagFlagged)
	st, err := f.pullNew()
	if err != nil {
		t.Fatalf("PullNew: %v", err)
	}
	if st.Down.Flags != 2 {
		t.Fatalf("PullNew: %s, want 2 flag changes down", st)
	}
	f.compare()
	if p := f.file("INBOX", id); !strings.HasSuffix(p, ":2,Fa") {
		t.Fatalf("file %s lost its other letter or the flag", p)
	}
}

// Anything else makes PullNew step aside, before it changes anything, for
// a full pass: which then does the right thing (a server move is a local
// rename, not a download).
func TestPullNewStepsAsideForAFullPass(t *testing.T) {
	f := newFixture(t)
	f.u.CreateFolder(t, "Archive")
	uids := make([]uint32, 3)
	for i := range uids {
		uids[i] = f.u.Append(t, "INBOX", f.msg("inbox"))
	}
	arch := f.u.Append(t, "Archive", f.msg("archived"))
	f.sync()

	var pushed []Pushed
	cases := []struct {
		name   string
		change func()
	}{
		{"expunge not reported", func() {
			f.u.Expunge(t, "INBOX", uids[1])
			f.u.Append(t, "INBOX", f.msg("new"))
		}},
		{"server move into INBOX", func() {
			f.u.Move(t, "Archive", arch, "INBOX")
		}},
		{"server move between pushed folders", func() {
			inbox := f.u.Messages(t, "INBOX")
			uid := inbox[len(inbox)-1].UID
			f.u.Move(t, "INBOX", uid, "Archive")
			pushed = []Pushed{{Folder: "INBOX", Expunged: []uint32{uid}}, {Folder: "Archive"}}
		}},
		{"new server folder", func() {
			f.u.CreateFolder(t, "Projects")
			f.u.Append(t, "INBOX", f.msg("new"))
		}},
	}
	for _, c := range cases {
		before := f.localAll()
		pushed = nil
		c.change()
		st, err := f.pullNew(pushed...)
		if !errors.Is(err, ErrFullPass) {
			t.Fatalf("%s: PullNew = %s, %v; want ErrFullPass", c.name, st, err)
		}
		after := f.localAll()
		for folder, msgs := range before {
			if len(after[folder]) != len(msgs) {
				t.Fatalf("%s: PullNew changed local %s before stepping aside", c.name, folder)
			}
		}
		st = f.sync()
		if strings.HasPrefix(c.name, "server move") && (st.Down.Moved != 1 || st.Down.New != 0) {
			t.Fatalf("%s: the full pass did %s, want the move as a rename", c.name, st)
		}
		f.compare()
	}
}

// The pull handles placeholders like a pass: a new big message becomes a
// placeholder, and one flagged on the server (a star on the phone) is
// replaced by its message.
func TestPullNewPlaceholders(t *testing.T) {
	pf := newPlaceholderFixture(t)
	pf.sync()
	big2 := testenvGen(pf.fixture, "big 2", 300_000)
	pf.u.Append(t, "INBOX", big2)
	st, err := pf.pullNew()
	if err != nil || st.Placeholders != 1 {
		t.Fatalf("PullNew of a big message: %+v, %v; want one placeholder", st, err)
	}
	pf.isPlaceholderOf(pf.file("INBOX", msgID(big2)), big2)
	pf.u.SetFlags(t, "INBOX", pf.bigUID, true, imap.FlagFlagged)
	if st, err := pf.pullNew(); err != nil || st.Fetched != 1 {
		t.Fatalf("PullNew of a flagged placeholder: %+v, %v; want it fetched", st, err)
	}
	pf.expectWhole(pf.file("INBOX", msgID(pf.big)), pf.bigUID, imap.FlagFlagged)
	pf.noChange("after the pulls")
}

// pushLocal runs PushLocal with a syncer of its own.
func (f *fixture) pushLocal(changes ...LocalChange) (Stats, error) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := New(f.acct, f.store, f.db, Options{DialOptions: DialOptions{Password: config.Secret(f.u.Password)}})
	defer s.Close()
	return s.PushLocal(ctx, changes)
}

// rename renames a local file in its directory and returns the changes a
// watcher reports for it.
func (f *fixture) rename(folder, path, name string) []LocalChange {
	f.t.Helper()
	to := filepath.Join(filepath.Dir(filepath.Dir(path)), "cur", name)
	if err := os.Rename(path, to); err != nil {
		f.t.Fatal(err)
	}
	return []LocalChange{{folder, path}, {folder, to}}
}

// The daemon's targeted push: flag changes, deletes, moves and new files
// go to the server for just those messages; a copy, or a new file the
// server already has, steps aside for a pass.
func TestPushLocal(t *testing.T) {
	f := newFixture(t)
	f.u.CreateFolder(t, "Archive")
	raws := make([][]byte, 5)
	uids := make([]uint32, len(raws))
	for i := range raws {
		raws[i] = f.msg("inbox")
		uids[i] = f.u.Append(t, "INBOX", raws[i], imap.FlagSeen)
	}
	f.sync()
	key := func(path string) string { k, _ := maildir.ParseName(filepath.Base(path)); return k }

	// A flag.
	p0 := f.file("INBOX", msgID(raws[0]))
	st, err := f.pushLocal(f.rename("INBOX", p0, key(p0)+":2,FS")...)
	if err != nil || st.Up != (Counts{Flags: 1}) {
		t.Fatalf("flag: %s, %v", st, err)
	}
	// A delete.
	p1 := f.file("INBOX", msgID(raws[1]))
	os.Remove(p1)
	if st, err := f.pushLocal(LocalChange{"INBOX", p1}); err != nil || st.Up != (Counts{Deleted: 1}) {
		t.Fatalf("delete: %s, %v", st, err)
	}
	f.compare()
	if st := f.sync(); st.Down != (Counts{}) || st.Up != (Counts{}) {
		t.Fatalf("the pass after PushLocal found work: %s", st)
	}

	// A delete of a message changed on the server since: a pass keeps it.
	p2 := f.file("INBOX", msgID(raws[2]))
	f.u.SetFlags(t, "INBOX", uids[2], true, imap.FlagAnswered)
	os.Remove(p2)
	if _, err := f.pushLocal(LocalChange{"INBOX", p2}); !errors.Is(err, ErrFullPass) {
		t.Fatalf("delete against a server change: %v, want ErrFullPass", err)
	}
	f.sync()
	f.compare()
	if _, ok := f.localAll()["INBOX"]; !ok || len(f.u.Messages(t, "INBOX")) != 4 {
		t.Fatal("the message changed on the server was deleted")
	}

	// A move under the same name, a move as copy + delete (mutt: a new
	// name) and a new file go for just those messages too.
	p3 := f.file("INBOX", msgID(raws[3]))
	dst := filepath.Join(f.acct.Maildir, "Archive", "cur", filepath.Base(p3))
	if err := os.Rename(p3, dst); err != nil {
		t.Fatal(err)
	}
	if st, err := f.pushLocal(LocalChange{"INBOX", p3}, LocalChange{"Archive", dst}); err != nil || st.Up != (Counts{Moved: 1}) {
		t.Fatalf("move: %s, %v", st, err)
	}
	f.compare()
	p4 := f.file("INBOX", msgID(raws[4]))
	data, err := os.ReadFile(p4)
	if err != nil {
		t.Fatal(err)
	}
	copied := filepath.Join(f.acct.Maildir, "Archive", "cur", "1700000000.mutt-copy:2,S")
	if err := os.WriteFile(copied, data, 0o600); err != nil {
		t.Fatal(err)
	}
	os.Remove(p4)
	if st, err := f.pushLocal(LocalChange{"Archive", copied}, LocalChange{"INBOX", p4}); err != nil || st.Up != (Counts{Moved: 1}) {
		t.Fatalf("move by copy and delete: %s, %v", st, err)
	}
	f.compare()
	id := f.writeLocal("INBOX", 500, "S")
	if st, err := f.pushLocal(LocalChange{"INBOX", f.file("INBOX", id)}); err != nil || st.Up != (Counts{New: 1}) {
		t.Fatalf("new file: %s, %v", st, err)
	}
	f.compare()
	if st := f.sync(); st.Down != (Counts{}) || st.Up != (Counts{}) {
		t.Fatalf("the pass after PushLocal found work: %s", st)
	}

	// A copy keeping the file name, and a new file the server got by
	// itself too (Gmail files sent mail), step aside for a pass.
	p5 := f.file("INBOX", id)
	cp := filepath.Join(f.acct.Maildir, "Archive", "cur", filepath.Base(p5))
	data, _ = os.ReadFile(p5)
	os.WriteFile(cp, data, 0o600)
	if _, err := f.pushLocal(LocalChange{"Archive", cp}); !errors.Is(err, ErrFullPass) {
		t.Fatalf("copy: %v, want ErrFullPass", err)
	}
	f.sync()
	sent := f.msg("sent")
	f.u.Append(t, "Archive", sent, imap.FlagSeen)
	lf, _ := f.store.Folder("Archive")
	w, _ := lf.NewMessage()
	w.Write(bytes.ReplaceAll(sent, []byte("\r\n"), []byte("\n")))
	if _, err := w.Commit("S", time_(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.pushLocal(LocalChange{"Archive", f.file("Archive", msgID(sent))}); !errors.Is(err, ErrFullPass) {
		t.Fatalf("a new file the server has too: %v, want ErrFullPass", err)
	}
	if st := f.sync(); st.Paired != 1 {
		t.Fatalf("the full pass: %s, want the file paired, not uploaded", st)
	}
	f.compare()
}
