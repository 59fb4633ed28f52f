package syncer

import (
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
