package syncer

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/config"
)

// One daemon's syncer pulls twice in INBOX: its pooled connection keeps
// INBOX selected in between (no UNSELECT on the way of the next push),
// and the second pull still sees the server as it is now: the new
// message, a flag change, and a change in another folder (which the
// LIST-STATUS shows: a full pass is needed).
func TestPullNewKeepsThePushedFolderSelected(t *testing.T) {
	f := newFixture(t)
	f.u.CreateFolder(t, "Archive")
	uid := f.u.Append(t, "INBOX", f.msg("old"))
	f.u.Append(t, "Archive", f.msg("archived"))
	f.sync()

	var trace lockedBuffer
	s := New(f.acct, f.store, f.db, Options{DialOptions: DialOptions{Password: config.Secret(f.u.Password), DebugWriter: &trace}})
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pull := func() (Stats, error) { return s.PullNew(ctx, Pushed{Folder: "INBOX"}) }

	f.u.Append(t, "INBOX", f.msg("pushed 1"))
	if st, err := pull(); err != nil || st.Down.New != 1 {
		t.Fatalf("first PullNew: %s, %v", st, err)
	}
	f.compare()
	before := len(trace.Bytes())

	f.u.Append(t, "INBOX", f.msg("pushed 2"), imap.FlagFlagged)
	f.u.SetFlags(t, "INBOX", uid, true, imap.FlagSeen)
	st, err := pull()
	if err != nil || st.Down.New != 1 || st.Down.Flags != 1 {
		t.Fatalf("second PullNew: %s, %v (want 1 new, 1 flag change)", st, err)
	}
	f.compare()
	if second := trace.Bytes()[before:]; bytes.Contains(second, []byte(" UNSELECT")) || !bytes.Contains(second, []byte(" SELECT")) {
		t.Fatalf("second PullNew: want a SELECT and no UNSELECT, sent:\n%s", second)
	}

	f.u.Append(t, "Archive", f.msg("elsewhere"))
	if _, err := pull(); !errors.Is(err, ErrFullPass) {
		t.Fatalf("PullNew after a change in Archive: %v, want ErrFullPass", err)
	}
	f.sync()
	f.compare()
}
