package syncer

import (
	"fmt"
	"math/rand/v2"
	"slices"
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
