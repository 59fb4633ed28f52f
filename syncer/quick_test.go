package syncer

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/config"
)

// pullNew runs PullNew on INBOX with a syncer of its own.
func (f *fixture) pullNew() (Stats, error) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := New(f.acct, f.store, f.db, Options{DialOptions: DialOptions{Password: config.Secret(f.u.Password)}})
	defer s.Close()
	return s.PullNew(ctx, "INBOX")
}

// The IDLE fast path: new server messages in a quiet folder are downloaded
// without a full pass, paired so that the next pass has nothing to do, and
// never doubled with what a pass uploaded itself.
func TestPullNewDownloadsOnlyTheNewMessages(t *testing.T) {
	f := newFixture(t)
	f.u.CreateFolder(t, "Archive")
	for i := 0; i < 3; i++ {
		f.u.Append(t, "INBOX", f.msg("old"), imap.FlagSeen)
	}
	f.u.Append(t, "Archive", f.msg("archived"))
	// A local message the pass uploads: its UID is at or above the
	// UIDNEXT the pass recorded, and must not come back as new.
	f.writeLocal("INBOX", 800, "S")
	if st := f.sync(); st.Down.New != 4 || st.Up.New != 1 {
		t.Fatalf("first pass: %s", st)
	}

	f.u.Append(t, "INBOX", f.msg("pushed 1"))
	f.u.Append(t, "INBOX", f.msg("pushed 2"), imap.FlagFlagged)
	st, err := f.pullNew()
	if err != nil {
		t.Fatalf("PullNew: %v", err)
	}
	if st.Down.New != 2 {
		t.Fatalf("PullNew: %s, want 2 new", st)
	}
	f.compare()
	if st := f.sync(); st.Down != (Counts{}) || st.Up != (Counts{}) {
		t.Fatalf("the pass after PullNew found work: %s", st)
	}
	f.compare()
	if n := len(f.local("INBOX")); n != 6 {
		t.Fatalf("local INBOX has %d messages, want 6", n)
	}
	// Nothing new: nothing done.
	if st, err := f.pullNew(); err != nil || st.Down != (Counts{}) {
		t.Fatalf("PullNew with nothing new: %s, %v", st, err)
	}
}

// Anything but new messages makes PullNew step aside, before it changes
// anything, for a full pass: which then does the right thing (a server
// move is a local rename, not a download).
func TestPullNewStepsAsideForAFullPass(t *testing.T) {
	f := newFixture(t)
	f.u.CreateFolder(t, "Archive")
	uids := make([]uint32, 3)
	for i := range uids {
		uids[i] = f.u.Append(t, "INBOX", f.msg("inbox"))
	}
	arch := f.u.Append(t, "Archive", f.msg("archived"))
	f.sync()

	cases := []struct {
		name   string
		change func()
	}{
		{"flag change of an older message", func() {
			f.u.SetFlags(t, "INBOX", uids[0], true, imap.FlagSeen)
			f.u.Append(t, "INBOX", f.msg("new"))
		}},
		{"expunge", func() {
			f.u.Expunge(t, "INBOX", uids[1])
			f.u.Append(t, "INBOX", f.msg("new"))
		}},
		{"server move into INBOX", func() {
			f.u.Move(t, "Archive", arch, "INBOX")
		}},
		{"new server folder", func() {
			f.u.CreateFolder(t, "Projects")
			f.u.Append(t, "INBOX", f.msg("new"))
		}},
	}
	for _, c := range cases {
		before := f.localAll()
		c.change()
		st, err := f.pullNew()
		if !errors.Is(err, ErrFullPass) {
			t.Fatalf("%s: PullNew = %s, %v; want ErrFullPass", c.name, st, err)
		}
		after := f.localAll()
		for folder, msgs := range before {
			if len(after[folder]) != len(msgs) {
				t.Fatalf("%s: PullNew changed local %s before stepping aside", c.name, folder)
			}
		}
		st = f.sync()
		if c.name == "server move into INBOX" && (st.Down.Moved != 1 || st.Down.New != 0) {
			t.Fatalf("%s: the full pass did %s, want the move as a rename", c.name, st)
		}
		f.compare()
	}
}
