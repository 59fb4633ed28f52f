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
	// The kept session is caught up with a NOOP, not opened again: on
	// Dovecot a SELECT or EXAMINE reads the whole dovecot-uidlist and
	// lists cur/ again.
	if second := trace.Bytes()[before:]; bytes.Contains(second, []byte(" UNSELECT")) || bytes.Contains(second, []byte(" SELECT")) ||
		bytes.Contains(second, []byte(" EXAMINE")) || !bytes.Contains(second, []byte(" NOOP")) {
		t.Fatalf("second PullNew: want a NOOP and no SELECT, EXAMINE or UNSELECT, sent:\n%s", second)
	}
	// What it recorded is never ahead of the server's view: a flag
	// change alone after it is still found.
	f.u.SetFlags(t, "INBOX", uid, true, imap.FlagFlagged)
	if st, err := pull(); err != nil || st.Down.Flags != 1 || st.Down.New != 0 {
		t.Fatalf("third PullNew: %s, %v (want 1 flag change)", st, err)
	}
	f.compare()
	sc := f.u.Dial(t)
	defer sc.Close()
	srv, err := sc.Status("INBOX", &imap.StatusOptions{NumMessages: true, UIDNext: true, HighestModSeq: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if fs, _, err := f.db.Folder(f.acct.Name, "INBOX"); err != nil {
		t.Fatal(err)
	} else if fs.HighestModSeq > srv.HighestModSeq || fs.UIDNext != uint32(srv.UIDNext) || fs.Messages != *srv.NumMessages {
		t.Fatalf("recorded HIGHESTMODSEQ %d, UIDNEXT %d, %d messages; the server's %d, %d, %d", fs.HighestModSeq, fs.UIDNext, fs.Messages, srv.HighestModSeq, srv.UIDNext, *srv.NumMessages)
	}

	f.u.Append(t, "Archive", f.msg("elsewhere"))
	if _, err := pull(); !errors.Is(err, ErrFullPass) {
		t.Fatalf("PullNew after a change in Archive: %v, want ErrFullPass", err)
	}
	f.sync()
	f.compare()
}

// With a second idle connection in the pool, PullNew lists the folders
// there while it selects INBOX on the first: a change in a folder that
// second connection had selected still shows (a full pass is needed), and
// new mail in INBOX is pulled as before.
func TestPullNewListsOnASecondConnection(t *testing.T) {
	f := newFixture(t)
	f.u.CreateFolder(t, "Archive")
	f.u.Append(t, "INBOX", f.msg("old"))
	f.u.Append(t, "Archive", f.msg("archived"))
	f.sync()

	s := New(f.acct, f.store, f.db, Options{DialOptions: DialOptions{Password: config.Secret(f.u.Password)}})
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Two idle connections; the one PullNew lists on has Archive selected.
	c1, err := s.pool.get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := s.pool.get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Select("Archive"); err != nil {
		t.Fatal(err)
	}
	s.pool.put(c2)
	s.pool.put(c1)

	f.u.Append(t, "Archive", f.msg("elsewhere"))
	f.u.Append(t, "INBOX", f.msg("pushed 1"))
	if _, err := s.PullNew(ctx, Pushed{Folder: "INBOX"}); !errors.Is(err, ErrFullPass) {
		t.Fatalf("PullNew after a change in Archive: %v, want ErrFullPass", err)
	}
	if n := len(f.local("INBOX")); n != 1 {
		t.Fatalf("PullNew that stepped aside changed INBOX: %d messages", n)
	}
	if _, err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	f.compare()

	f.u.Append(t, "INBOX", f.msg("pushed 2"))
	if st, err := s.PullNew(ctx, Pushed{Folder: "INBOX"}); err != nil || st.Down.New != 1 {
		t.Fatalf("PullNew: %s, %v", st, err)
	}
	f.compare()
	if got := s.pool.p.TryGet(ctx); got == nil {
		t.Fatal("the second connection was not given back")
	} else {
		s.pool.put(got)
	}
}
