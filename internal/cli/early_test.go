package cli

import (
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/internal/testenv"
	"github.com/mailmirror/mailmirror/state"
)

// `mailmirror sync` dials its first account while it opens the state
// (syncer.DialEarly): each pass still logs in exactly once, stores what
// the server has message by message, and a sync that finds the state
// held by another process still says so (its early login is abandoned).
func TestSyncDialsEarlyAndLogsInOnce(t *testing.T) {
	testenv.RequireDovecot(t)
	d := testenv.Shared(t)
	u := d.NewUser(t)
	dir := t.TempDir()
	cfg := writeIMAPConfig(t, u, d.IMAPPort, dir)
	rng := rand.New(rand.NewPCG(16, 1))
	for i := range 5 {
		var flags []imap.Flag
		if i%2 == 0 {
			flags = append(flags, imap.FlagSeen)
		}
		u.Append(t, "INBOX", testenv.GenMessage(rng, &testenv.GenOptions{BodySize: 500}), flags...)
	}
	// u's helper connection stays open until the test ends: not counted.
	for run := 1; run <= 3; run++ {
		if run == 3 {
			u.Append(t, "INBOX", testenv.GenMessage(rng, &testenv.GenOptions{BodySize: 500}))
		}
		if code, out, errOut := runMain(t, "--config", cfg, "sync"); code != 0 {
			t.Fatalf("sync %d: %d %s%s", run, code, out, errOut)
		}
		if c := u.LogCounters(t, run); c.IMAPSessions != run {
			t.Errorf("after %d passes Dovecot logged %d sessions, want one per pass", run, c.IMAPSessions)
		}
	}
	server := map[string][]testenv.Msg{"INBOX": u.Messages(t, "INBOX")}
	local := testenv.ReadMaildir(t, filepath.Join(dir, "Mail"), "verbatim")
	if diff := testenv.DiffAccount(server, local); len(diff) > 0 {
		t.Errorf("Maildir differs from the server:\n%s", strings.Join(diff, "\n"))
	}

	db, err := state.Open(filepath.Join(dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	code, _, errOut := runMain(t, "--config", cfg, "sync")
	if code != ExitFailure || !strings.Contains(errOut, "holds the state") {
		t.Fatalf("sync with the state held: %d %s", code, errOut)
	}
}
