package imapconn_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/imapconn"
	"github.com/mailmirror/mailmirror/internal/testenv"
	"github.com/mailmirror/mailmirror/internal/testenv/fakeimap"
	"github.com/mailmirror/mailmirror/state"
	"github.com/mailmirror/mailmirror/syncer"
)

// TestCompressCorruptStreamSync (fuzz-ish): a server whose deflate stream
// turns corrupt at a random point of a first sync loses nothing: the pass
// either carries on by itself uncompressed (the Link turned compression
// off and the pass is run again) or fails with an error naming the
// stream, and a second pass completes; the Maildir then holds every
// server message once, byte for byte, and nothing half written.
func TestCompressCorruptStreamSync(t *testing.T) {
	if imapconn.RaceEnabled && os.Getenv("MAILMIRROR_HARDENING_STRICT") != "1" {
		t.Skip("KNOWN BUG (set MAILMIRROR_HARDENING_STRICT=1 to run): a connection failing mid-literal races inside go-imap under -race (HACKING.md)")
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	for round := range 4 {
		srv := fakeimap.New()
		srv.Caps = []string{"COMPRESS=DEFLATE", "UIDPLUS", "CONDSTORE", "ESEARCH"}
		want := map[string][]byte{}
		for i := range 60 {
			body := testenv.GenMessage(rng, &testenv.GenOptions{BodySize: 500 + rng.IntN(6000)})
			want[testenv.MessageIDOf(body)] = body
			srv.Mailbox("INBOX").Add(body)
			if i%3 == 0 {
				srv.AddMailbox("Archive").Add(testenv.GenMessage(rng, nil))
			}
		}
		for _, m := range srv.Mailbox("Archive").Messages {
			want[testenv.MessageIDOf(m.Body)] = m.Body
		}
		at := 1 + rng.IntN(12)
		var fired atomic.Bool
		srv.Deflated = func(s *fakeimap.Session, n int, out []byte) []byte {
			if n == at && fired.CompareAndSwap(false, true) {
				return append(slices.Clone(out), 0x07)
			}
			return out
		}
		fakeimap.Start(t, srv)
		acct, db := fakeAccountDB(t, srv.Port())
		link := imapconn.NewLink()
		var errs []error
		seen := false // the corruption was read (it may come after a session's last read)
		for pass := range 2 {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			st, err := syncer.SyncAccount(ctx, acct, db, syncer.Options{DialOptions: syncer.DialOptions{Password: "pw", Timeout: 5 * time.Second, Link: link}})
			cancel()
			t.Logf("round %d (flush %d) pass %d: %v, %v; warnings %q", round, at, pass, st, err, st.Warnings)
			seen = seen || strings.Contains(fmt.Sprint(err, st.Warnings), "corrupt")
			if err == nil {
				break
			}
			errs = append(errs, err)
			if !strings.Contains(err.Error(), "corrupt COMPRESS=DEFLATE stream") {
				t.Errorf("round %d: the pass failed with %v, want an error naming the corrupt stream", round, err)
			}
		}
		if len(errs) == 2 {
			t.Fatalf("round %d: two passes failed", round)
		}
		if seen && !slices.Contains(link.Disabled(), imapconn.CapCompressDeflate) {
			t.Errorf("round %d: compression still on after a corrupt stream", round)
		}
		local := testenv.ReadMaildir(t, acct.Maildir, acct.Layout)
		got := 0
		for folder, msgs := range local {
			for _, m := range msgs {
				got++
				b, err := os.ReadFile(m.Path)
				if err != nil {
					t.Fatal(err)
				}
				w, ok := want[m.MessageID]
				if !ok || !bytes.Equal(b, bytes.ReplaceAll(w, []byte("\r\n"), []byte("\n"))) {
					t.Errorf("round %d: %s/%s is not a server message byte for byte", round, folder, m.MessageID)
				}
			}
		}
		if got != len(want) {
			t.Errorf("round %d: %d messages in the Maildir, want %d", round, got, len(want))
		}
	}
}

// fakeAccountDB is an account on the fake server at port, with its state.
func fakeAccountDB(t *testing.T, port int) (*config.Account, *state.DB) {
	dir := t.TempDir()
	cfg, err := config.Parse([]byte(fmt.Sprintf(`state_dir = %q
[[account]]
name = "corrupt"
protocol = "imap"
host = "127.0.0.1"
port = %d
tls = "none"
username = "u"
password_env = "UNUSED"
maildir = %q
`, dir+"/state", port, dir+"/Mail")), "corrupt.toml")
	if err != nil {
		t.Fatal(err)
	}
	db, err := state.Open(cfg.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return cfg.Accounts[0], db
}
