package syncer

import (
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
)

// Found by the multi-device convergence test (internal/cli): a message
// this device uploaded gets a flag on the server (another device, another
// client) after the upload; the next pass must bring the flag down.
//
// What happens: the pass that appends stores the folder's UIDNEXT as read
// before the APPEND, so the appended message's UID is at or above it. The
// next pass fetches flag changes only below the stored UIDNEXT and treats
// UIDs from it on as new messages, skipping the ones already paired: the
// change is never looked at, and HIGHESTMODSEQ moves past it. The same
// holds for a message moved in by UID MOVE (paired with its COPYUID).
// Fix, in syncer/detect.go: fetchMeta should record the flags of a paired
// UID it meets (j.serverFlags) instead of skipping it, or the flag FETCH
// should cover 1:*.
func TestFlagChangeOnAnUploadedMessageComesDown(t *testing.T) {
	f := newFixture(t)
	f.u.Append(t, "INBOX", f.msg("already there"))
	f.sync()
	id := f.writeLocal("INBOX", 3000, "")
	if st := f.sync(); st.Up.New != 1 {
		t.Fatalf("upload pass: %v", st)
	}
	var uid uint32
	for _, m := range f.u.Messages(t, "INBOX") {
		if m.MessageID == id {
			uid = m.UID
		}
	}
	f.u.SetFlags(t, "INBOX", uid, true, imap.FlagFlagged)
	f.sync()
	if !strings.Contains(f.file("INBOX", id), ":2,F") {
		t.Errorf("the server's \\Flagged did not come down: %s", f.file("INBOX", id))
	}
	f.compare()
}

func TestFlagChangeOnAMovedMessageComesDown(t *testing.T) {
	f := newFixture(t)
	f.u.CreateFolder(t, "Archive")
	raw := f.msg("to be moved")
	f.u.Append(t, "INBOX", raw)
	f.u.Append(t, "Archive", f.msg("already in Archive"))
	f.sync()
	f.renameLocal("INBOX", "Archive", msgID(raw))
	if st := f.sync(); st.Up.Moved != 1 {
		t.Fatalf("move pass: %v", st)
	}
	var uid uint32
	for _, m := range f.u.Messages(t, "Archive") {
		if m.MessageID == msgID(raw) {
			uid = m.UID
		}
	}
	f.u.SetFlags(t, "Archive", uid, true, imap.FlagFlagged)
	f.sync()
	if !strings.Contains(f.file("Archive", msgID(raw)), ":2,F") {
		t.Errorf("the server's \\Flagged did not come down: %s", f.file("Archive", msgID(raw)))
	}
	f.compare()
}
