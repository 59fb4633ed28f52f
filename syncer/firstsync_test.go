package syncer

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/internal/testenv/faultproxy"
)

// serverIdentities reads what the identity fetch of detect would record
// for every message of a server folder: UID → identity.
func (f *fixture) serverIdentities(folder string) map[uint32]string {
	f.t.Helper()
	c := f.u.Dial(f.t)
	defer c.Close()
	if _, err := c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		f.t.Fatal(err)
	}
	msgs, err := c.Fetch(imap.UIDSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{identitySection}}).Collect()
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[uint32]string{}
	for _, m := range msgs {
		out[uint32(m.UID)] = identity(m.FindBodySection(identitySection))
	}
	return out
}

// samePairIdentities fails unless every pair of folder records the
// identity the server's header fields give.
func (f *fixture) samePairIdentities(folder string) {
	f.t.Helper()
	fo, ok, err := f.db.Folder(f.acct.Name, folder)
	if err != nil || !ok {
		f.t.Fatalf("folder %s: %v %v", folder, ok, err)
	}
	pairs, err := f.db.Pairs(fo.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	want := f.serverIdentities(folder)
	if len(pairs) != len(want) {
		f.t.Errorf("%s: %d pairs for %d server messages", folder, len(pairs), len(want))
	}
	for _, p := range pairs {
		if w, ok := want[p.UID]; !ok || p.MsgID != w {
			f.t.Errorf("%s UID %d: pair identity %q, the server's header fields give %q", folder, p.UID, p.MsgID, w)
		}
	}
}

// A first sync (no pair anywhere, empty Maildir) asks for no header
// fields: each message's identity is taken from its body as it arrives,
// and is the one the identity fetch gives, for messages with a
// Message-ID, a folded one, none (Date/From/To/Subject) and a placeholder
// (max_size). The next pass matches by it as before: a server move is a
// local rename, not a download.
func TestFirstSyncTakesIdentitiesFromTheBodies(t *testing.T) {
	f := newFixture(t)
	f.acct.MaxSize = 200_000
	f.u.CreateFolder(t, "Archive")
	f.u.Append(t, "INBOX", f.msg("plain"), imap.FlagSeen)
	folded := []byte("Message-ID:\r\n <folded@first.test>\r\nFrom: a@first.test\r\nSubject: folded\r\n\r\nbody\r\n")
	f.u.Append(t, "INBOX", folded)
	noID := []byte("Date: Mon, 1 Jan 2024 10:00:00 +0000\r\nFrom: b@first.test\r\nTo: c@first.test\r\nSubject: no id\r\n\r\nbody\r\n")
	noUID := f.u.Append(t, "INBOX", noID, imap.FlagFlagged)
	f.u.Append(t, "INBOX", testenvGen(f, "big", 400_000))
	for i := 0; i < 3; i++ {
		f.u.Append(t, "Archive", f.msg(fmt.Sprintf("archived %d", i)))
	}

	var trace lockedBuffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := New(f.acct, f.store, f.db, Options{DialOptions: DialOptions{Password: config.Secret(f.u.Password), DebugWriter: &trace}})
	st, err := s.Sync(ctx)
	s.Close()
	if err != nil || st.Down.New != 7 || st.Placeholders != 1 {
		t.Fatalf("first sync: %v, %v (want 7 new, 1 placeholder)", st, err)
	}
	if bytes.Contains(trace.Bytes(), []byte("HEADER.FIELDS")) {
		t.Errorf("the first sync fetched header fields:\n%s", grepLines(trace.Bytes(), "HEADER.FIELDS"))
	}
	f.compare()
	f.samePairIdentities("INBOX")
	f.samePairIdentities("Archive")

	before := f.bodyFetches(1)
	f.u.Move(t, "INBOX", noUID, "Archive")
	st = f.sync()
	if st.Down.Moved != 1 || st.Down.New != 0 || st.Down.Deleted != 0 {
		t.Errorf("after a server move: %v, want one local move", st)
	}
	if got := f.bodyFetches(2); got != before {
		t.Errorf("bodies fetched after the move: %d, want none", got-before)
	}
	f.compare()
	f.noDuplicates()
}

// A folder new on the server while the others have pairs takes the
// identity fetch as before: a message moved into it on the server is
// found as the pair gone from INBOX (a local rename, no download).
func TestServerMoveIntoANewFolderIsRenamedLocally(t *testing.T) {
	f := newFixture(t)
	f.acct.MaxConnections = 1
	raw := f.msg("moved into a new folder")
	uid := f.u.Append(t, "INBOX", raw, imap.FlagSeen)
	f.u.Append(t, "INBOX", f.msg("stays"))
	f.sync()
	before := f.bodyFetches(1)
	f.u.CreateFolder(t, "Projects")
	f.u.Move(t, "INBOX", uid, "Projects")
	st := f.sync()
	if st.Down.Moved != 1 || st.Down.New != 0 || st.Down.Deleted != 0 {
		t.Errorf("after a server move into a new folder: %v, want one local move", st)
	}
	if got := f.bodyFetches(2); got != before {
		t.Errorf("bodies fetched: %d, want none", got-before)
	}
	f.compare()
	f.noDuplicates()
	f.samePairIdentities("Projects")
}

// A first sync whose only download was cut in the middle resumes it at the
// next pass (still no pair anywhere) and takes the identity from the file
// kept in tmp/ and the rest: the pair's identity is the server's.
func TestFirstSyncResumedTakesTheIdentityFromTheKeptStart(t *testing.T) {
	if raceEnabled {
		knownBug(t, raceMidLiteral)
	}
	f, p := proxied(t)
	big := testenvGen(f, "cut first download", 3_000_000)
	uid := f.u.Append(t, "INBOX", big)
	size := int64(len(f.u.Raw(t, "INBOX", uid)))
	p.Arm(faultproxy.Fault{Action: faultproxy.Truncate, Dir: faultproxy.Down, Match: []byte("BODY[] {"), After: size / 2, ThenRefuse: true})
	if _, err := f.pass(0); err == nil || !p.HasFired() {
		t.Fatalf("cut pass: err %v, fired %v", err, p.HasFired())
	}
	p.Disarm()
	p.SetRefuse(false)
	fo, _, _ := f.db.Folder(f.acct.Name, "INBOX")
	if parts, err := f.db.Partials(fo.ID); err != nil || len(parts) != 1 {
		t.Fatalf("partials after the cut: %+v, %v", parts, err)
	}
	if n, _ := f.db.PairCount(fo.ID); n != 0 {
		t.Fatalf("%d pairs after the cut pass, want none (the test proves nothing)", n)
	}
	if st, err := f.pass(0); err != nil || st.Down.New != 1 {
		t.Fatalf("resuming pass: %v, %v", st, err)
	}
	if got := f.readFile(f.file("INBOX", msgID(big))); !bytes.Equal(got, lf(f.u.Raw(t, "INBOX", uid))) {
		t.Fatalf("the resumed message (%d bytes) differs from the server's", len(got))
	}
	f.noPartials(fo.ID)
	f.samePairIdentities("INBOX")
	f.recoverAndExpect(f.serverIDs())
}

// grepLines returns the lines of b that contain s.
func grepLines(b []byte, s string) string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// helpersStarted counts the download helpers started per folder while the
// test runs.
func helpersStarted(t *testing.T) func() map[string]int {
	var mu sync.Mutex
	n := map[string]int{}
	testHookHelper = func(folder string) {
		mu.Lock()
		n[folder]++
		mu.Unlock()
	}
	t.Cleanup(func() { testHookHelper = nil })
	return func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		return maps.Clone(n)
	}
}

// deliverMany puts n generated messages into a server folder (every third
// one seen).
func (f *fixture) deliverMany(folder string, n int) {
	f.t.Helper()
	msgs := make([][]byte, n)
	for i := range msgs {
		msgs[i] = testenvGen(f, fmt.Sprintf("%s %d", folder, i), 200+f.rnd.IntN(2000))
	}
	f.u.Deliver(f.t, folder, msgs, func(i int) bool { return i%3 == 0 })
}

// A first sync of a big folder and a small one over three connections:
// once the small folder is done, the connections it gave back download
// chunks of the big one (helpers), each publishing its own batches. Every
// message arrives once, with its flags; the pairs are the server's UIDs
// with their identities; the next pass has nothing to do.
func TestFirstSyncSpreadsABigFolderOverFreeConnections(t *testing.T) {
	f := newFixture(t)
	f.acct.MaxConnections = 3
	f.u.CreateFolder(t, "Small")
	f.deliverMany("INBOX", 6*downloadChunk)
	f.deliverMany("Small", 20)
	started := helpersStarted(t)
	st := f.sync()
	if st.Down.New != 6*downloadChunk+20 {
		t.Errorf("first sync: %v, want %d new", st, 6*downloadChunk+20)
	}
	if n := started(); n["INBOX"] == 0 {
		t.Errorf("helpers started: %v, want some for INBOX", n)
	}
	f.compare()
	f.noDuplicates()
	f.samePairIdentities("INBOX")
	f.samePairIdentities("Small")
	if st := f.sync(); st.Down != (Counts{}) || st.Up != (Counts{}) {
		t.Errorf("pass after the first sync: %v", st)
	}
}

// Passes killed (SIGKILL) at random points of a first sync whose big
// folder is downloaded over several connections at once: whatever the
// helpers had published is paired once, nothing is lost or doubled.
func TestCrashDuringFirstSyncWithHelpersLosesNothingDuplicatesNothing(t *testing.T) {
	f := newFixture(t)
	cfg, err := os.ReadFile(f.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.cfgPath, append(cfg, "max_connections = 3\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	f.acct.MaxConnections = 3
	f.u.CreateFolder(t, "Small")
	f.deliverMany("INBOX", 4*downloadChunk)
	f.deliverMany("Small", 10)
	killed := 0
	for round := uint64(0); round < 2; round++ {
		killed += f.killedPasses(round+11, 4, 1500*time.Millisecond) // a helper starts about 0.5 s into a child pass (-race)
	}
	t.Logf("%d passes killed", killed)
	f.sync()
	f.compare()
	f.noDuplicates()
	total := 0
	for _, msgs := range f.localAll() {
		total += len(msgs)
	}
	if want := 4*downloadChunk + 10; total != want {
		t.Errorf("local has %d messages, want %d", total, want)
	}
	f.samePairIdentities("INBOX")
}

// A new-message fetch cut in the middle of a message's response (after its
// UID, before its flags and size) does not describe that message with what
// little arrived: the fetch goes on over a new connection from that
// message, which arrives with its flags (\Seen here) and its size.
func TestNewMessageFetchCutMidResponse(t *testing.T) {
	f, p := proxied(t)
	for i := 0; i < 5; i++ {
		f.u.Append(t, "INBOX", f.msg(fmt.Sprintf("seen %d", i)), imap.FlagSeen)
	}
	p.Arm(faultproxy.Fault{Action: faultproxy.Drop, Dir: faultproxy.Down, Match: []byte("(UID 3 ")})
	st, err := f.pass(0)
	if !p.HasFired() {
		t.Fatalf("the fault never fired: the test proves nothing (%v, %v)", st, err)
	}
	t.Logf("cut pass: %v, %v", st, err)
	f.compare()
	fo, _, _ := f.db.Folder(f.acct.Name, "INBOX")
	pairs, err := f.db.Pairs(fo.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range pairs {
		if want := int64(len(f.u.Raw(t, "INBOX", pr.UID))); pr.Size != want || pr.Flags != "S" {
			t.Errorf("UID %d: pair size %d, flags %q; the server has %d bytes and \\Seen", pr.UID, pr.Size, pr.Flags, want)
		}
	}
}
