package syncer

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

// renameLocal moves a local file to another folder keeping its name (what
// notmuch/afew do).
func (f *fixture) renameLocal(from, to, msgid string) {
	f.t.Helper()
	p := f.file(from, msgid)
	dst, err := f.store.Folder(to)
	if err != nil {
		f.t.Fatal(err)
	}
	sub := filepath.Base(filepath.Dir(p))
	if err := os.Rename(p, filepath.Join(dst.Path, sub, filepath.Base(p))); err != nil {
		f.t.Fatal(err)
	}
}

// copyDeleteLocal moves a local file the way mutt does: a new file with a
// new name in the destination, then the old one deleted.
func (f *fixture) copyDeleteLocal(from, to, msgid string) {
	f.t.Helper()
	p := f.file(from, msgid)
	data, err := os.ReadFile(p)
	if err != nil {
		f.t.Fatal(err)
	}
	dst, _ := f.store.Folder(to)
	w, _ := dst.NewMessage()
	w.Write(data)
	_, flags := splitFlags(filepath.Base(p))
	if _, err := w.Commit(flags, time_(f.t)); err != nil {
		f.t.Fatal(err)
	}
	os.Remove(p)
}

func splitFlags(name string) (string, string) {
	i := strings.Index(name, ":2,")
	if i < 0 {
		return name, ""
	}
	return name[:i], name[i+3:]
}

// bodyFetches counts the message bodies the server sent this user, once
// sessions IMAP sessions have ended (each pass of a fixture with
// MaxConnections = 1 is one session).
func (f *fixture) bodyFetches(sessions int) int64 {
	return f.u.LogCounters(f.t, sessions).BodyCount
}

func TestLocalRenameMoveBecomesServerMove(t *testing.T) {
	f := newFixture(t)
	f.u.CreateFolder(t, "Archive")
	raw := f.msg("move me")
	f.u.Append(t, "INBOX", raw, imap.FlagSeen)
	f.sync()
	f.renameLocal("INBOX", "Archive", msgID(raw))
	st := f.sync()
	if st.Up.Moved != 1 || st.Up.New != 0 || st.Up.Deleted != 0 || st.Down.New != 0 {
		t.Errorf("stats %+v, want exactly one server move", st)
	}
	f.compare()
	if n := len(f.u.Messages(t, "Archive")); n != 1 {
		t.Errorf("Archive has %d on the server", n)
	}
	// The pair followed: nothing happens next time.
	if st := f.sync(); st.Down != (Counts{}) || st.Up != (Counts{}) {
		t.Errorf("after move: %v", st)
	}
}

func TestLocalCopyDeleteMoveBecomesServerMove(t *testing.T) {
	f := newFixture(t)
	f.u.CreateFolder(t, "Archive")
	raw := f.msg("mutt move")
	f.u.Append(t, "INBOX", raw, imap.FlagSeen, imap.FlagFlagged)
	f.sync()
	f.copyDeleteLocal("INBOX", "Archive", msgID(raw))
	st := f.sync()
	if st.Up.Moved != 1 || st.Up.New != 0 || st.Up.Deleted != 0 {
		t.Errorf("stats %+v, want exactly one server move", st)
	}
	f.compare()
	if st := f.sync(); st.Down != (Counts{}) || st.Up != (Counts{}) {
		t.Errorf("after move: %v", st)
	}
}

func TestServerMoveIsRenamedLocallyNotDownloaded(t *testing.T) {
	f := newFixture(t)
	f.acct.MaxConnections = 1
	f.u.CreateFolder(t, "Archive")
	raw := f.msg("server move")
	uid := f.u.Append(t, "INBOX", raw, imap.FlagSeen)
	f.sync()
	before := f.bodyFetches(1)
	key, _ := splitFlags(filepath.Base(f.file("INBOX", msgID(raw))))
	f.u.Move(t, "INBOX", uid, "Archive")
	st := f.sync()
	if st.Down.Moved != 1 || st.Down.New != 0 || st.Down.Deleted != 0 {
		t.Errorf("stats %+v, want exactly one local move", st)
	}
	f.compare()
	if got := f.bodyFetches(2); got != before {
		t.Errorf("bodies fetched: %d, want none", got-before)
	}
	gotKey, _ := splitFlags(filepath.Base(f.file("Archive", msgID(raw))))
	if gotKey != key {
		t.Errorf("file re-created (key %s, was %s)", gotKey, key)
	}
}

// Conflict rules: a delete never wins over a change on the other side.

func TestConflict_FlagChangedBothSides_ChangesMerge(t *testing.T) {
	f := newFixture(t)
	raw := f.msg("both")
	uid := f.u.Append(t, "INBOX", raw, imap.FlagSeen)
	f.sync()
	// Server adds \Flagged; locally \Seen is removed and \Answered added.
	f.u.SetFlags(t, "INBOX", uid, true, imap.FlagFlagged)
	p := f.file("INBOX", msgID(raw))
	key, _ := splitFlags(filepath.Base(p))
	os.Rename(p, filepath.Join(filepath.Dir(p), key+":2,R"))
	f.sync()
	f.compare()
	got := f.u.Messages(t, "INBOX")[0].Flags
	if strings.Join(got, " ") != `\Answered \Flagged` {
		t.Errorf("server flags %v, want \\Answered \\Flagged", got)
	}
}

func TestConflict_FlagChangedOnOneSide_ThatChangeWins(t *testing.T) {
	cases := []struct{ base, local, server, want string }{
		{"S", "", "FS", "F"}, // local removed S, server added F
		{"F", "", "F", ""},   // local removed F
		{"S", "RS", "", "R"}, // local added R, server removed S
		{"", "F", "", "F"},   // local added F
		{"", "F", "F", "F"},  // both added F
		{"F", "", "", ""},    // both removed F
		{"DFPRST", "DFPRST", "", ""},
	}
	for _, c := range cases {
		if got := merge3(c.base, c.local, c.server); got != c.want {
			t.Errorf("merge3(base %q, local %q, server %q) = %q, want %q", c.base, c.local, c.server, got, c.want)
		}
	}
}

func TestConflict_DeletedLocallyFlaggedOnServer_MessageKept(t *testing.T) {
	f := newFixture(t)
	raw := f.msg("keep me")
	uid := f.u.Append(t, "INBOX", raw, imap.FlagSeen)
	f.sync()
	os.Remove(f.file("INBOX", msgID(raw)))
	f.u.SetFlags(t, "INBOX", uid, true, imap.FlagFlagged)
	f.sync()
	f.compare()
	if n := len(f.u.Messages(t, "INBOX")); n != 1 {
		t.Fatalf("server has %d, want the message kept", n)
	}
	if n := len(f.local("INBOX")); n != 1 {
		t.Fatalf("local has %d, want the message restored", n)
	}
}

func TestConflict_ExpungedOnServerFlaggedLocally_MessageKept(t *testing.T) {
	f := newFixture(t)
	raw := f.msg("keep me too")
	uid := f.u.Append(t, "INBOX", raw, imap.FlagSeen)
	f.sync()
	p := f.file("INBOX", msgID(raw))
	key, _ := splitFlags(filepath.Base(p))
	os.Rename(p, filepath.Join(filepath.Dir(p), key+":2,FS"))
	f.u.Expunge(t, "INBOX", uid)
	f.sync()
	f.compare()
	if n := len(f.u.Messages(t, "INBOX")); n != 1 {
		t.Fatalf("server has %d, want the message uploaded again", n)
	}
}

func TestConflict_MovedLocallyDeletedOnServer_MessageKeptInDestination(t *testing.T) {
	f := newFixture(t)
	f.u.CreateFolder(t, "Archive")
	raw := f.msg("moved here, deleted there")
	uid := f.u.Append(t, "INBOX", raw, imap.FlagSeen)
	f.sync()
	f.renameLocal("INBOX", "Archive", msgID(raw))
	f.u.Expunge(t, "INBOX", uid)
	f.sync()
	f.compare()
	if n := len(f.u.Messages(t, "Archive")); n != 1 {
		t.Fatalf("server Archive has %d, want 1", n)
	}
}

func TestConflict_MovedOnServerDeletedLocally_MessageKeptInDestination(t *testing.T) {
	f := newFixture(t)
	f.u.CreateFolder(t, "Archive")
	raw := f.msg("moved there, deleted here")
	uid := f.u.Append(t, "INBOX", raw, imap.FlagSeen)
	f.sync()
	os.Remove(f.file("INBOX", msgID(raw)))
	f.u.Move(t, "INBOX", uid, "Archive")
	f.sync()
	f.compare()
	if n := len(f.local("Archive")); n != 1 {
		t.Fatalf("local Archive has %d, want 1", n)
	}
}

func TestDeleteModeTrashMovesToTrash(t *testing.T) {
	f := newFixture(t)
	f.acct.DeleteMode = "trash"
	f.u.CreateFolder(t, "Trash")
	raw := f.msg("to trash")
	f.u.Append(t, "INBOX", raw, imap.FlagSeen)
	f.sync()
	os.Remove(f.file("INBOX", msgID(raw)))
	f.sync()
	if n := len(f.u.Messages(t, "INBOX")); n != 0 {
		t.Errorf("INBOX still has %d", n)
	}
	if n := len(f.u.Messages(t, "Trash")); n != 1 {
		t.Errorf("Trash has %d, want 1", n)
	}
	f.sync()
	f.compare()
}

// copyKeepingName copies a synced INBOX message to Archive with its file
// name (cp), and waits until Archive has been quiet for a second.
func (f *fixture) copyKeepingName(raw []byte) (original string) {
	f.t.Helper()
	f.u.CreateFolder(f.t, "Archive")
	f.u.Append(f.t, "INBOX", raw, imap.FlagSeen)
	f.sync()
	p := f.file("INBOX", msgID(raw))
	data, _ := os.ReadFile(p)
	dst, _ := f.store.Folder("Archive")
	if err := os.WriteFile(filepath.Join(dst.Path, "cur", filepath.Base(p)), data, 0o600); err != nil {
		f.t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	return p
}

// A file copied to another folder with its name (cp) is a new message
// there, not a move: once its folder has been quiet for a second it is
// copied on the server (UID COPY: the body is not uploaded again), and the
// original stays.
func TestLocalCopyKeepingTheNameIsCopiedOnTheServer(t *testing.T) {
	f := newFixture(t)
	f.copyKeepingName(f.msg("copy me"))
	if st := f.sync(); st.Copied != 1 || st.Up.New != 0 || st.Up.Moved != 0 {
		t.Errorf("copy pass: %v", st)
	}
	f.compare()
	if n := len(f.u.Messages(t, "INBOX")) + len(f.u.Messages(t, "Archive")); n != 2 {
		t.Errorf("server holds %d copies, want 2", n)
	}
}

// After a cp-style copy was uploaded, deleting the original is a delete,
// not a move onto the copy.
func TestDeletingTheOriginalOfACopyIsADelete(t *testing.T) {
	f := newFixture(t)
	p := f.copyKeepingName(f.msg("copy me"))
	f.sync()
	os.Remove(p)
	if st := f.sync(); st.Up.Deleted != 1 || st.Up.Moved != 0 {
		t.Errorf("pass after deleting the original: %v", st)
	}
	f.compare()
	if n := len(f.u.Messages(t, "Archive")); n != 1 {
		t.Errorf("server Archive has %d, want 1", n)
	}
}

// killAfterMoveInto, in the crash child, kills the pass at apply step
// kill of folder kf once folder wf has passed step wait: spec
// "wait:wf>kill:kf" (steps of applyHook). When wf has not passed wait
// within 10 s the child exits with status 3 instead.
func killAfterMoveInto(spec string) {
	first, second, ok := strings.Cut(spec, ">")
	wait, wf, ok1 := strings.Cut(first, ":")
	kill, kf, ok2 := strings.Cut(second, ":")
	if !ok || !ok1 || !ok2 {
		return
	}
	passed := make(chan struct{})
	var once sync.Once
	applyHook = func(step, folder string) {
		switch {
		case step == wait && folder == wf:
			once.Do(func() { close(passed) })
		case step == kill && folder == kf:
			select {
			case <-passed:
			case <-time.After(10 * time.Second):
				os.Exit(3)
			}
			self, _ := os.FindProcess(os.Getpid())
			self.Kill() // SIGKILL on Unix
			select {}
		}
	}
}

// A pass killed after the UID MOVE of a local move and after the
// destination folder recorded its counters, before the move itself was
// recorded: the next pass must still see the moved files in the
// destination (and pair them), not take the source's pairs for local
// deletes. It deleted them on the server: the destination's local stamp,
// recorded while its files were not yet paired, made the next pass skip
// its local side (TestCrashDuringChangesLosesNothingDuplicatesNothing
// lost five messages now and then).
func TestKilledLocalMoveIsNotADeleteNextPass(t *testing.T) {
	f := newFixture(t)
	f.u.CreateFolder(t, "Archive")
	var raws [][]byte
	for i := 0; i < 4; i++ {
		raw := f.msg(fmt.Sprintf("moved %d", i))
		raws = append(raws, raw)
		f.u.Append(t, "INBOX", raw, imap.FlagSeen)
	}
	f.u.Append(t, "Archive", f.msg("already archived"), imap.FlagSeen)
	f.sync()
	f.renameLocal("INBOX", "Archive", msgID(raws[0]))     // same name: paired by key
	f.copyDeleteLocal("INBOX", "Archive", msgID(raws[1])) // a new name: paired by identity
	time.Sleep(1100 * time.Millisecond)                   // the stamps are trusted one second after a change
	if !f.childPass("SYNCER_CHILD_MOVE_KILL=finished:Archive>moved:INBOX") {
		t.Fatal("the pass was not killed after its move")
	}
	f.sync()
	f.compare()
	f.noDuplicates()
	if n := len(f.u.Messages(t, "Archive")); n != 3 {
		t.Fatalf("server Archive holds %d messages, want 3", n)
	}
	if n := len(f.u.Messages(t, "INBOX")); n != 2 {
		t.Fatalf("server INBOX holds %d messages, want 2", n)
	}
}

// The same for a move made on the server: a pass killed after the source
// folder recorded its counters and before the destination renamed the
// file. The next pass must move the file, not keep it in the source and
// download the message again into the destination.
func TestKilledServerMoveIsNoCopyNextPass(t *testing.T) {
	f := newFixture(t)
	f.u.CreateFolder(t, "Archive")
	raw := f.msg("moved on the server")
	uid := f.u.Append(t, "INBOX", raw, imap.FlagSeen)
	f.u.Append(t, "INBOX", f.msg("stays"), imap.FlagSeen)
	f.u.Append(t, "Archive", f.msg("already archived"), imap.FlagSeen)
	f.sync()
	f.u.Move(t, "INBOX", uid, "Archive")
	if !f.childPass("SYNCER_CHILD_MOVE_KILL=finished:INBOX>moving-in:Archive") {
		t.Fatal("the pass was not killed before its rename")
	}
	f.sync()
	f.compare()
	f.noDuplicates()
	if n := len(f.local("INBOX")); n != 1 {
		t.Fatalf("local INBOX holds %d messages, want 1", n)
	}
}
