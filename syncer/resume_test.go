package syncer

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/internal/testenv/faultproxy"
)

// A large download cut in the middle (the connection reset after 60% of
// the message) keeps what it received; the next pass asks only for the
// rest (BODY.PEEK[]<offset.count>) and publishes the message whole.
func TestResumeCutDownload(t *testing.T) {
	for _, action := range []faultproxy.Action{faultproxy.Reset, faultproxy.Truncate} {
		t.Run(action.String(), func(t *testing.T) {
			if raceEnabled {
				knownBug(t, raceMidLiteral)
			}
			f, p := proxied(t)
			big := testenvGen(f, "five megabytes", 5_000_000)
			uid := f.u.Append(t, "INBOX", big, imap.FlagSeen)
			size := int64(len(f.u.Raw(t, "INBOX", uid)))
			f.u.Append(t, "INBOX", testenvGen(f, "small", 3000))

			// The link stays down: the pass cannot go on over a new
			// connection, the next one resumes.
			p.Arm(faultproxy.Fault{Action: action, Dir: faultproxy.Down, Match: []byte("BODY[] {"), After: size * 6 / 10, ThenRefuse: true})
			st, err := f.pass(0)
			if err == nil || !p.HasFired() {
				t.Fatalf("cut pass: %v, err %v, fired %v", st, err, p.HasFired())
			}
			p.Disarm()
			p.SetRefuse(false)
			fo, _, _ := f.db.Folder(f.acct.Name, "INBOX")
			parts, err := f.db.Partials(fo.ID)
			// A reset loses what was still in the socket buffers: less
			// than 60% may have arrived. A truncated connection delivers
			// all of it.
			if err != nil || len(parts) != 1 || parts[0].UID != uid || parts[0].Offset <= 0 || parts[0].Offset > size*6/10 ||
				(action == faultproxy.Truncate && parts[0].Offset < size/2) {
				t.Fatalf("partials after the cut: %+v, %v (message of %d bytes)", parts, err, size)
			}
			kept := parts[0].Offset
			t.Logf("kept %d of %d bytes", kept, size)
			f.noPartialFiles()

			var cnt Counters
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			s := New(f.acct, f.store, f.db, Options{DialOptions: DialOptions{Password: config.Secret(f.u.Password), Counters: &cnt}})
			st, err = s.Sync(ctx)
			s.Close()
			if err != nil {
				t.Fatalf("resuming pass: %v", err)
			}
			in := cnt.In.Load()
			t.Logf("resuming pass: %v; %d bytes received for a %d-byte message", st, in, size)
			if in > size-kept+64<<10 {
				t.Errorf("the resuming pass received %d bytes: more than the rest of the %d-byte message, %d of which were kept", in, size, kept)
			}
			if got := f.readFile(f.file("INBOX", msgID(big))); !bytes.Equal(got, lf(f.u.Raw(t, "INBOX", uid))) {
				t.Fatalf("the resumed message (%d bytes) differs from the server's", len(got))
			}
			f.noPartials(fo.ID)
			f.recoverAndExpect(f.serverIDs())
		})
	}
}

// noPartials checks that no partial download is left of INBOX (folder
// id): no record, no file in tmp/.
func (f *fixture) noPartials(id int64) {
	f.t.Helper()
	if parts, _ := f.db.Partials(id); len(parts) != 0 {
		f.t.Errorf("partials left: %+v", parts)
	}
	if ents, _ := os.ReadDir(filepath.Join(f.acct.Maildir, "INBOX", "tmp")); len(ents) != 0 {
		f.t.Errorf("tmp/ holds %d files", len(ents))
	}
}

// A partial download of a message that is gone, or of an earlier
// UIDVALIDITY, is dropped (file and record) and never published.
func TestResumeDropsStalePartial(t *testing.T) {
	if raceEnabled {
		knownBug(t, raceMidLiteral)
	}
	f, p := proxied(t)
	big := testenvGen(f, "big", 2_000_000)
	uid := f.u.Append(t, "INBOX", big)
	p.Arm(faultproxy.Fault{Action: faultproxy.Reset, Dir: faultproxy.Down, Match: []byte("BODY[] {"), After: 1_000_000, ThenRefuse: true})
	if _, err := f.pass(0); err == nil {
		t.Fatal("cut pass succeeded")
	}
	p.Disarm()
	p.SetRefuse(false)
	fo, _, _ := f.db.Folder(f.acct.Name, "INBOX")
	if parts, _ := f.db.Partials(fo.ID); len(parts) != 1 {
		t.Fatalf("partials after the cut: %+v", parts)
	}
	f.u.Expunge(t, "INBOX", uid)
	f.u.Append(t, "INBOX", testenvGen(f, "other", 1000))
	if _, err := f.pass(0); err != nil {
		t.Fatal(err)
	}
	f.noPartials(fo.ID)
	f.expectExactly(f.serverIDs())
}

// `mailmirror fetch` of a placeholder cut short goes on where it stopped,
// also after a pass in between.
func TestResumeCutPlaceholderFetch(t *testing.T) {
	if raceEnabled {
		knownBug(t, raceMidLiteral)
	}
	f, p := proxied(t)
	f.acct.MaxSize = 100_000
	big := testenvGen(f, "big", 3_000_000)
	uid := f.u.Append(t, "INBOX", big)
	if _, err := f.pass(0); err != nil {
		t.Fatal(err)
	}
	path := f.file("INBOX", msgID(big))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	p.Arm(faultproxy.Fault{Action: faultproxy.Reset, Dir: faultproxy.Down, Match: []byte("BODY[] {"), After: 2_000_000})
	if err := f.syncer().FetchPlaceholder(ctx, path); err == nil {
		t.Fatal("cut fetch succeeded")
	}
	p.Disarm()
	fo, _, _ := f.db.Folder(f.acct.Name, "INBOX")
	parts, _ := f.db.Partials(fo.ID)
	if len(parts) != 1 || parts[0].Offset < 100_000 {
		t.Fatalf("partials after the cut: %+v", parts)
	}
	kept := parts[0].Offset
	f.u.Append(t, "INBOX", testenvGen(f, "small", 1000))
	if _, err := f.pass(0); err != nil {
		t.Fatal(err)
	}
	if parts, _ := f.db.Partials(fo.ID); len(parts) != 1 {
		t.Fatalf("partials after a pass: %+v", parts)
	}
	var cnt Counters
	s := New(f.acct, f.store, f.db, Options{DialOptions: DialOptions{Password: config.Secret(f.u.Password), Counters: &cnt}})
	defer s.Close()
	if err := s.FetchPlaceholder(ctx, path); err != nil {
		t.Fatal(err)
	}
	if got := f.readFile(path); !bytes.Equal(got, lf(f.u.Raw(t, "INBOX", uid))) {
		t.Fatalf("the fetched message (%d bytes) differs from the server's", len(got))
	}
	if in := cnt.In.Load(); in > int64(len(big))-kept+64<<10 {
		t.Errorf("the resumed fetch received %d bytes of a %d-byte message, %d of which were kept", in, len(big), kept)
	} else {
		t.Logf("the resumed fetch received %d bytes of a %d-byte message, %d of which were kept", in, len(big), kept)
	}
	f.recoverAndExpect(f.serverIDs())
}
