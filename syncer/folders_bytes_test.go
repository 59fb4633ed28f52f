package syncer

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/internal/testenv"
)

// Renaming a 1,000-message folder, on the server and then locally, moves
// under 1% of the folder's bytes either way, by Dovecot's own counters
// (in=/out= and the FETCH body and header counts of its logout lines): no
// body is fetched, none appended.
func TestFolderRenameOfThousandMessagesMovesUnderOnePercent(t *testing.T) {
	f := newFixture(t)
	f.u.CreateFolder(t, "Archive")
	var folderBytes int64
	for range 1000 {
		raw := testenvGen(f, "archived", 1500+f.rnd.IntN(1500))
		folderBytes += int64(len(raw))
		f.u.Append(t, "Archive", raw, imap.FlagSeen)
	}
	sessions := 0
	pass := func(label string) (Stats, testenv.LogCounters) {
		t.Helper()
		before := f.u.LogCounters(t, sessions)
		c := &Counters{}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		s := New(f.acct, f.store, f.db, Options{DialOptions: DialOptions{Password: config.Secret(f.u.Password), Counters: c}})
		st, err := s.Sync(ctx)
		s.Close()
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		sessions += int(c.Dials.Load())
		after := f.u.LogCounters(t, sessions)
		d := testenv.LogCounters{In: after.In - before.In, Out: after.Out - before.Out,
			BodyCount: after.BodyCount - before.BodyCount, HdrCount: after.HdrCount - before.HdrCount}
		t.Logf("%s: %v; Dovecot received %d B, sent %d B, %d bodies, %d headers", label, st, d.In, d.Out, d.BodyCount, d.HdrCount)
		return st, d
	}
	pass("first sync")
	limit := folderBytes / 100
	check := func(label string, st Stats, d testenv.LogCounters) {
		t.Helper()
		if d.BodyCount != 0 || st.Down.New != 0 || st.Up.New != 0 {
			t.Errorf("%s: %d bodies fetched, %v; want none", label, d.BodyCount, st)
		}
		if d.In+d.Out >= limit {
			t.Errorf("%s: %d B on the wire, want under 1%% of the folder's %d B (%d B)", label, d.In+d.Out, folderBytes, limit)
		}
	}

	f.u.RenameFolder(t, "Archive", "Old")
	st, d := pass("renamed on the server")
	check("renamed on the server", st, d)
	if n := len(f.local("Old")); n != 1000 {
		t.Fatalf("local Old has %d messages, want 1000", n)
	}

	lf, _, _ := f.store.ExistingFolder("Old")
	if err := os.Rename(lf.Path, filepath.Join(filepath.Dir(lf.Path), "Older")); err != nil {
		t.Fatal(err)
	}
	st, d = pass("renamed locally")
	check("renamed locally", st, d)
	if n := len(f.u.Messages(t, "Older")); n != 1000 {
		t.Fatalf("server Older has %d messages, want 1000", n)
	}
	f.compare()
}
