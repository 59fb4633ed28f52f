package syncer

import (
	"fmt"
	"testing"

	"github.com/emersion/go-imap/v2"
)

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
