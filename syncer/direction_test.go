package syncer

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/internal/testenv"
)

// serverSnapshot is every server message, folder by folder: UID,
// Message-ID, flags, size and INTERNALDATE.
func (f *fixture) serverSnapshot() map[string][]testenv.Msg {
	f.t.Helper()
	out := map[string][]testenv.Msg{}
	for _, name := range f.u.Folders(f.t) {
		out[name] = f.u.Messages(f.t, name)
	}
	return out
}

// localSnapshot is every local message as "folder Message-ID flags", sorted.
func (f *fixture) localSnapshot() []string {
	var out []string
	for folder, msgs := range f.localAll() {
		for _, m := range msgs {
			out = append(out, fmt.Sprintf("%s %s %s", folder, m.MessageID, strings.Join(m.Flags, ",")))
		}
	}
	slices.Sort(out)
	return out
}

func diffSnapshots(t *testing.T, what string, got, want map[string][]testenv.Msg) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	for folder := range want {
		if !reflect.DeepEqual(got[folder], want[folder]) {
			t.Errorf("%s: server folder %q changed:\n got %+v\nwant %+v", what, folder, got[folder], want[folder])
		}
	}
	for folder := range got {
		if _, ok := want[folder]; !ok {
			t.Errorf("%s: server folder %q was created", what, folder)
		}
	}
}

// direction = "pull": whatever the user does locally (flags, a delete, a
// move, new files in Sent and in a new folder), the server is never
// changed, the local changes stay, and the server's changes still arrive.
func TestDirectionPullNeverChangesServer(t *testing.T) {
	f := newFixture(t)
	f.withConfig("direction = \"pull\"\n")
	f.u.CreateFolder(t, "Archive")
	f.u.CreateFolder(t, "Sent")
	var raws [][]byte
	for i := range 4 {
		raw := f.msg(fmt.Sprintf("pull %d", i))
		f.u.Append(t, "INBOX", raw, imap.FlagSeen)
		raws = append(raws, raw)
	}
	f.sync()
	f.compare()
	before := f.serverSnapshot()

	// Local changes of every kind.
	p := f.file("INBOX", msgID(raws[0]))
	key, _ := splitFlags(filepath.Base(p))
	flagged := f.rename("INBOX", p, key+":2,FS")
	if err := os.Remove(f.file("INBOX", msgID(raws[1]))); err != nil {
		t.Fatal(err)
	}
	f.renameLocal("INBOX", "Archive", msgID(raws[2]))
	f.writeLocal("Sent", 800, "S")
	f.writeLocal("Local", 900, "")

	// The daemon's targeted push first, then full passes.
	if _, err := f.pushLocal(flagged...); err != nil {
		t.Fatalf("push local: %v", err)
	}
	diffSnapshots(t, "after PushLocal", f.serverSnapshot(), before)
	st := f.sync()
	if st.Up != (Counts{}) {
		t.Errorf("pass sent %v to the server", st.Up)
	}
	if want := (Counts{New: 1, Flags: 1, Deleted: 1, Moved: 1}); st.Held != want {
		t.Errorf("held %v, want %v (Local is a local-only folder: no job)", st.Held, want)
	}
	f.sync()
	diffSnapshots(t, "after passes", f.serverSnapshot(), before)

	// Local changes are kept: the flag, the delete, the move, new files.
	local := f.localSnapshot()
	want := []string{
		"Archive " + msgID(raws[2]) + ` \Seen`,
		"INBOX " + msgID(raws[0]) + ` \Flagged,\Seen`,
		"INBOX " + msgID(raws[3]) + ` \Seen`,
	}
	for _, w := range want {
		if !slices.Contains(local, w) {
			t.Errorf("local files %q lack %q", local, w)
		}
	}
	for _, l := range local {
		if strings.Contains(l, msgID(raws[1])) {
			t.Errorf("deleted message came back: %s", l)
		}
	}
	if n := len(f.local("Sent")) + len(f.local("Local")); n != 2 {
		t.Errorf("Sent and Local hold %d files, want 2", n)
	}

	// Server changes still arrive.
	uid := before["INBOX"][3].UID
	f.u.SetFlags(t, "INBOX", uid, true, imap.FlagAnswered)
	raw := f.msg("new on the server")
	f.u.Append(t, "INBOX", raw)
	st = f.sync()
	if st.Down.New != 1 || st.Down.Flags != 1 || st.Up != (Counts{}) {
		t.Errorf("server changes: %+v", st)
	}
	local = f.localSnapshot()
	for _, w := range []string{"INBOX " + msgID(raw) + " ", "INBOX " + msgID(raws[3]) + ` \Answered,\Seen`} {
		if !slices.Contains(local, w) {
			t.Errorf("local files %q lack %q", local, w)
		}
	}
}

// direction = "push": the server's changes (new mail, flags, an expunge, a
// move) never change the Maildir; a message removed from the server while
// its file is here is uploaded again; local changes still go up.
func TestDirectionPushNeverChangesMaildir(t *testing.T) {
	f := newFixture(t)
	f.u.CreateFolder(t, "Archive")
	var raws [][]byte
	var uids []uint32
	for i := range 4 {
		raw := f.msg(fmt.Sprintf("push %d", i))
		uids = append(uids, f.u.Append(t, "INBOX", raw, imap.FlagSeen))
		raws = append(raws, raw)
	}
	f.sync()
	f.withConfig("direction = \"push\"\n")
	before := f.localSnapshot()

	f.u.Append(t, "INBOX", f.msg("new on the server"))
	f.u.SetFlags(t, "INBOX", uids[0], true, imap.FlagFlagged)
	f.u.Expunge(t, "INBOX", uids[1])
	f.u.Move(t, "INBOX", uids[2], "Archive")
	f.u.CreateFolder(t, "NewOnServer")
	st := f.sync()
	if st.Down != (Counts{}) {
		t.Errorf("pass changed the Maildir: %v", st.Down)
	}
	if st.Up.New != 2 {
		t.Errorf("uploads %d, want 2 (the expunged and the moved message, still here)", st.Up.New)
	}
	f.sync()
	if got := f.localSnapshot(); !reflect.DeepEqual(got, before) {
		t.Errorf("Maildir changed:\n got %q\nwant %q", got, before)
	}
	if _, err := os.Stat(filepath.Join(f.acct.Maildir, "NewOnServer")); err == nil {
		t.Errorf("server folder created locally")
	}
	// Every local message is on the server in its folder.
	inbox := map[string]bool{}
	for _, m := range f.u.Messages(t, "INBOX") {
		inbox[m.MessageID] = true
	}
	for _, raw := range raws {
		if !inbox[msgID(raw)] {
			t.Errorf("%s not in the server's INBOX", msgID(raw))
		}
	}

	// A local flag change still goes up.
	p := f.file("INBOX", msgID(raws[3]))
	key, _ := splitFlags(filepath.Base(p))
	f.rename("INBOX", p, key+":2,RS")
	if st := f.sync(); st.Up.Flags != 1 {
		t.Errorf("local flag change: %+v", st)
	}
	for _, m := range f.u.Messages(t, "INBOX") {
		if m.MessageID == msgID(raws[3]) && !slices.Contains(m.Flags, `\Answered`) {
			t.Errorf("flags on the server %v", m.Flags)
		}
	}
}
