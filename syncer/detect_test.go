package syncer

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

// max_age: old server messages are not downloaded, stay on the server
// untouched, and a pass never deletes them for being absent locally.
func TestMaxAgeLeavesOldMessagesOnTheServer(t *testing.T) {
	f := newFixture(t)
	f.acct.MaxAge = 30 * 24 * time.Hour
	c := f.u.Dial(t)
	appendAt := func(raw []byte, date time.Time) {
		cmd := c.Append("INBOX", int64(len(raw)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagSeen}, Time: date})
		cmd.Write(raw)
		cmd.Close()
		if _, err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	oldRaw, newRaw := f.msg("old"), f.msg("new")
	appendAt(oldRaw, time.Now().AddDate(-1, 0, 0))
	appendAt(newRaw, time.Now().Add(-time.Hour))
	st := f.sync()
	if st.Down.New != 1 {
		t.Fatalf("downloaded %d, want only the new one", st.Down.New)
	}
	local := f.local("INBOX")
	if len(local) != 1 || local[0].MessageID != msgID(newRaw) {
		t.Fatalf("local INBOX = %+v", local)
	}
	// More passes, with other changes, never touch the old message.
	appendAt(f.msg("newer"), time.Now())
	os.Remove(f.file("INBOX", msgID(newRaw)))
	for i := 0; i < 2; i++ {
		f.sync()
	}
	var ids []string
	for _, m := range f.u.Messages(t, "INBOX") {
		ids = append(ids, m.MessageID)
		if m.MessageID == msgID(oldRaw) && len(m.Flags) != 1 {
			t.Errorf("old message flags changed: %v", m.Flags)
		}
	}
	found := false
	for _, id := range ids {
		found = found || id == msgID(oldRaw)
	}
	if !found {
		t.Fatalf("the old message was deleted on the server: %v", ids)
	}
	if len(ids) != 2 {
		t.Errorf("server INBOX %v, want the old and the newer message", ids)
	}
}

func TestUIDValidityChangeRepairsWithoutTransfer(t *testing.T) {
	f := newFixture(t)
	f.acct.MaxConnections = 1
	f.u.CreateFolder(t, "Archive")
	var raws [][]byte
	for i := 0; i < 8; i++ {
		raw := f.msg(fmt.Sprintf("uv %d", i))
		raws = append(raws, raw)
		f.u.Append(t, "Archive", raw, imap.FlagSeen)
	}
	f.sync()
	stBefore, _, _ := f.db.Folder("test", "Archive")
	before := f.u.Messages(t, "Archive")
	// Another client re-creates the folder with the same messages (a
	// server rebuild): new UIDVALIDITY, new UIDs.
	f.u.DeleteFolder(t, "Archive")
	f.u.CreateFolder(t, "Archive")
	for i, raw := range raws {
		flags := []imap.Flag{imap.FlagSeen}
		if i == 0 {
			flags = append(flags, imap.FlagFlagged)
		}
		f.u.Append(t, "Archive", raw, flags...)
	}
	after := f.u.Messages(t, "Archive")
	if len(before) > 0 && len(after) > 0 && before[0].UID == after[0].UID {
		t.Logf("note: UIDs repeat after re-creation (%d)", after[0].UID)
	}
	bodies := f.bodyFetches(1)
	st := f.sync()
	stAfter, _, _ := f.db.Folder("test", "Archive")
	if stAfter.UIDValidity == stBefore.UIDValidity {
		t.Fatalf("UIDVALIDITY did not change (%d): the test proves nothing", stAfter.UIDValidity)
	}
	if st.Paired != len(raws) {
		t.Errorf("paired %d, want %d", st.Paired, len(raws))
	}
	if st.Down.New != 0 || st.Up.New != 0 {
		t.Errorf("transferred after UIDVALIDITY change: %v", st)
	}
	if got := f.bodyFetches(2); got != bodies {
		t.Errorf("%d bodies fetched, want 0", got-bodies)
	}
	f.compare()
	f.noDuplicates()
}
