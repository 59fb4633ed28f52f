package syncer

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
)

// Regression: the bench found some of another client's flag changes undone
// by the next pass.
func TestServerFlagTogglesAreNotUndone(t *testing.T) {
	f := newFixture(t)
	f.u.CreateFolder(t, "Archive")
	r := rand.New(rand.NewPCG(5, 5))
	for i := 0; i < 200; i++ {
		var flags []imap.Flag
		if r.IntN(10) < 7 {
			flags = append(flags, imap.FlagSeen)
		}
		if r.IntN(20) == 0 {
			flags = append(flags, imap.FlagFlagged)
		}
		folder := "INBOX"
		if i%3 == 0 {
			folder = "Archive"
		}
		f.u.Append(t, folder, f.msg(fmt.Sprintf("t%d", i)), flags...)
	}
	f.sync()
	f.compare()
	for round := 0; round < 3; round++ {
		for _, folder := range []string{"INBOX", "Archive"} {
			msgs := f.u.Messages(t, folder)
			for k, i := range r.Perm(len(msgs))[:10] {
				m := msgs[i]
				flag := imap.FlagSeen
				if k%2 == 1 {
					flag = imap.FlagFlagged
				}
				f.u.SetFlags(t, folder, m.UID, !slices.Contains(m.Flags, string(flag)), flag)
			}
		}
		want := map[string][]string{}
		for _, folder := range []string{"INBOX", "Archive"} {
			for _, m := range f.u.Messages(t, folder) {
				want[m.MessageID] = m.Flags
			}
		}
		st := f.sync()
		if st.Up.Flags != 0 {
			t.Errorf("round %d: pushed %d flag changes to the server, want 0 (%v)", round, st.Up.Flags, st)
		}
		for _, folder := range []string{"INBOX", "Archive"} {
			for _, m := range f.u.Messages(t, folder) {
				if !slices.Equal(want[m.MessageID], m.Flags) {
					t.Errorf("round %d: %s flags %v, the other client set %v", round, m.MessageID, m.Flags, want[m.MessageID])
				}
			}
		}
		f.compare()
	}
}

func TestFlagsBothWays(t *testing.T) {
	f := newFixture(t)
	raw1, raw2 := f.msg("one"), f.msg("two")
	uid1 := f.u.Append(t, "INBOX", raw1)
	f.u.Append(t, "INBOX", raw2)
	f.sync()
	// Server: \Seen on one. Local: F on the other.
	f.u.SetFlags(t, "INBOX", uid1, true, imap.FlagSeen)
	p := f.file("INBOX", msgID(raw2))
	dir := filepath.Dir(filepath.Dir(p))
	np := filepath.Join(dir, "cur", filepath.Base(strings.SplitN(p, ":", 2)[0])+":2,F")
	if err := os.Rename(p, np); err != nil {
		t.Fatal(err)
	}
	st := f.sync()
	if st.Down.Flags != 1 || st.Up.Flags != 1 {
		t.Errorf("flags down %d up %d, want 1 and 1", st.Down.Flags, st.Up.Flags)
	}
	f.compare()
}

func TestDeletesBothWays(t *testing.T) {
	f := newFixture(t)
	raw1, raw2 := f.msg("one"), f.msg("two")
	uid1 := f.u.Append(t, "INBOX", raw1)
	f.u.Append(t, "INBOX", raw2)
	f.sync()
	f.u.Expunge(t, "INBOX", uid1)
	os.Remove(f.file("INBOX", msgID(raw2)))
	st := f.sync()
	if st.Down.Deleted != 1 || st.Up.Deleted != 1 {
		t.Errorf("deleted down %d up %d", st.Down.Deleted, st.Up.Deleted)
	}
	f.compare()
	if n := len(f.u.Messages(t, "INBOX")); n != 0 {
		t.Errorf("%d left on server", n)
	}
}
