package syncer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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

	s, trace, ctx := f.tracedSyncer()
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

// PullNew over a lent connection (the daemon's IDLE connection, out of
// IDLE, its folder examined): the new messages come over it and not over
// the pool's connections, which do not open the folder; the lent
// connection stays the caller's, its folder still selected read-only.
// With two folders pushed it is not used.
func TestPullNewOverALentConnection(t *testing.T) {
	f := newFixture(t)
	f.u.CreateFolder(t, "Archive")
	f.u.Append(t, "INBOX", f.msg("old"))
	f.sync()

	s, trace, ctx := f.tracedSyncer()
	lent, err := Dial(ctx, f.acct, DialOptions{Password: config.Secret(f.u.Password)})
	if err != nil {
		t.Fatal(err)
	}
	defer lent.Close()
	if _, err := lent.Reexamine("INBOX"); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		f.u.Append(t, "INBOX", f.msg(fmt.Sprintf("pushed %d", i)))
		// The IDLE session saw the EXISTS (its DONE: caught up).
		if err := lent.Noop().Wait(); err != nil {
			t.Fatal(err)
		}
		if st, err := s.PullNew(ctx, Pushed{Folder: "INBOX", Conn: lent}); err != nil || st.Down.New != 1 {
			t.Fatalf("PullNew %d: %s, %v", i, st, err)
		}
		f.compare()
		if lent.Selected() != "INBOX" || !lent.ReadOnly() {
			t.Fatalf("PullNew %d: the lent connection came back with %q selected, read-only %v", i, lent.Selected(), lent.ReadOnly())
		}
		if err := lent.Noop().Wait(); err != nil {
			t.Fatalf("the lent connection after PullNew %d: %v", i, err)
		}
	}
	for _, cmd := range []string{" FETCH", " SELECT", " EXAMINE"} {
		if bytes.Contains(trace.Bytes(), []byte(cmd)) {
			t.Fatalf("the pool's connections sent%s:\n%s", cmd, trace.Bytes())
		}
	}
	if got := s.pool.p.TryGet(ctx); got == lent {
		t.Fatal("the lent connection went into the pool")
	} else if got != nil {
		s.pool.put(got)
	}

	// Two folders: over the pool, the lent connection untouched.
	f.u.Append(t, "INBOX", f.msg("pushed 3"))
	f.u.Append(t, "Archive", f.msg("archived"))
	if st, err := s.PullNew(ctx, Pushed{Folder: "Archive", Conn: lent}, Pushed{Folder: "INBOX", Conn: lent}); err != nil || st.Down.New != 2 {
		t.Fatalf("PullNew of two folders: %s, %v", st, err)
	}
	f.compare()
	if !bytes.Contains(trace.Bytes(), []byte(" FETCH")) || lent.Selected() != "INBOX" {
		t.Fatalf("PullNew of two folders: pool FETCH %v, lent connection has %q selected", bytes.Contains(trace.Bytes(), []byte(" FETCH")), lent.Selected())
	}
}

// tracedSyncer is a Syncer of the fixture's account whose protocol trace
// is kept, and a context for its calls; both end with the test.
func (f *fixture) tracedSyncer() (*Syncer, *lockedBuffer, context.Context) {
	trace := &lockedBuffer{}
	s := New(f.acct, f.store, f.db, Options{DialOptions: DialOptions{Password: config.Secret(f.u.Password), DebugWriter: trace}})
	f.t.Cleanup(s.Close)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	f.t.Cleanup(cancel)
	return s, trace, ctx
}
