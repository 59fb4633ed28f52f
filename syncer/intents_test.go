package syncer

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/maildir"
)

// markLocalChange records what the daemon records for a folder changed
// while its account was offline.
func (f *fixture) markLocalChange(folder string) {
	f.t.Helper()
	if err := f.db.MarkLocalChange(f.acct.Name, folder); err != nil {
		f.t.Fatal(err)
	}
}

// Issue 13 item 5: the daemon's record that a folder changed locally while
// offline is information, not a write-ahead intent. It must not make the
// targeted passes (PullNew, PushLocal) step aside for a full pass, nor
// count as a pending operation of the engine.
func TestLocalChangeRecordIsNoIntent(t *testing.T) {
	f := newFixture(t)
	raws := [][]byte{f.msg("one"), f.msg("two")}
	for _, raw := range raws {
		f.u.Append(t, "INBOX", raw, imap.FlagSeen)
	}
	f.sync()
	f.markLocalChange("INBOX")
	if n, err := f.db.OpCount(f.acct.Name); err != nil || n != 0 {
		t.Fatalf("OpCount with a local-change record = %d, %v; want 0", n, err)
	}

	f.u.Append(t, "INBOX", f.msg("pushed"))
	st, err := f.pullNew()
	if err != nil || st.Down.New != 1 {
		t.Fatalf("PullNew with a local-change record: %s, %v; want 1 new, no error", st, err)
	}
	p := f.file("INBOX", msgID(raws[0]))
	key, _ := maildir.ParseName(filepath.Base(p))
	st, err = f.pushLocal(f.rename("INBOX", p, key+":2,FS")...)
	if err != nil || st.Up != (Counts{Flags: 1}) {
		t.Fatalf("PushLocal with a local-change record: %s, %v; want 1 flag up", st, err)
	}
	f.compare()
	var flagged []string
	for _, m := range f.u.Messages(t, "INBOX") {
		if slices.Contains(m.Flags, string(imap.FlagFlagged)) {
			flagged = append(flagged, m.MessageID)
		}
	}
	if len(flagged) != 1 || flagged[0] != msgID(raws[0]) {
		t.Fatalf("flagged on the server: %v, want just %s", flagged, msgID(raws[0]))
	}
}
