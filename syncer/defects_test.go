package syncer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/internal/testenv"
	"github.com/mailmirror/mailmirror/internal/testenv/fakeimap"
	"github.com/mailmirror/mailmirror/maildir"
	"github.com/mailmirror/mailmirror/state"
)

// Regression tests for the defects of issue 14 item 5 (a–i), each named
// after the defect it pins down.

// Defect i: parallel must return the context's error when the pass was
// cancelled, and must not run folders once it is: a cancelled pass that
// reported success went on to match and apply folders it never fetched.
func TestDefectParallelReturnsContextError(t *testing.T) {
	s := &Syncer{conns: 1}
	var jobs []*job
	for i := 0; i < 20; i++ {
		jobs = append(jobs, &job{s: s, local: fmt.Sprintf("F%d", i)})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var ran atomic.Int32
	err := s.parallel(ctx, nil, jobs, func(*job, context.Context, *lazyConn) error {
		ran.Add(1)
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("parallel after cancel = %v, want context.Canceled", err)
	}
	if n := ran.Load(); n != 0 {
		t.Errorf("%d folders ran after the pass was cancelled", n)
	}
}

// fakeIDs returns the Message-IDs of a fake server's folder, with the
// flags of each ("<id> \\Seen \\Deleted"), sorted.
func fakeIDs(srv *fakeimap.Server, folder string) []string {
	srv.Lock()
	defer srv.Unlock()
	var out []string
	mb := srv.Mailbox(folder)
	if mb == nil {
		return nil
	}
	for _, m := range mb.Messages {
		flags := slices.Clone(m.Flags)
		slices.Sort(flags)
		out = append(out, strings.TrimSpace(testenv.MessageIDOf(m.Body)+" "+strings.Join(flags, " ")))
	}
	slices.Sort(out)
	return out
}

// plainExpunges returns the EXPUNGE commands (not UID EXPUNGE) a fake
// server received.
func plainExpunges(srv *fakeimap.Server) []string {
	var out []string
	for _, c := range srv.Commands() {
		if f := strings.Fields(c); len(f) >= 3 && strings.EqualFold(f[2], "EXPUNGE") {
			out = append(out, c)
		}
	}
	return out
}

// localFile returns the path of a local message by Message-ID.
func (h *hostile) localFile(folder, id string) string {
	h.t.Helper()
	for _, m := range h.local()[folder] {
		if m.MessageID == id {
			return m.Path
		}
	}
	h.t.Fatalf("no local %s in %s", id, folder)
	return ""
}

// Defect a: delete_mode = "trash" on a server without MOVE and without
// UIDPLUS must not send a plain EXPUNGE (go-imap's Move fallback does),
// which removes every \Deleted message of the folder, other clients' too.
func TestDefectTrashWithoutMoveNeverExpungesOthersMessages(t *testing.T) {
	srv := fakeimap.New()
	srv.Caps = []string{"LIST-STATUS", "ESEARCH"}
	h := newHostile(t, srv)
	h.acct.DeleteMode = "trash"
	keep, gone := h.msg("marked deleted by another client"), h.msg("deleted locally")
	srv.Lock()
	srv.AddMailbox("Trash")
	inbox := srv.Mailbox("INBOX")
	other := inbox.Add(keep, `\Seen`)
	inbox.Add(gone, `\Seen`)
	srv.Unlock()
	h.mustPass()
	srv.Lock()
	other.Flags = append(other.Flags, `\Deleted`)
	inbox.HighestModSeq++
	other.ModSeq = inbox.HighestModSeq
	srv.Unlock()
	if err := os.Remove(h.localFile("INBOX", testenv.MessageIDOf(gone))); err != nil {
		t.Fatal(err)
	}
	if st := h.mustPass(); st.Up.Deleted != 1 {
		t.Errorf("second pass: %v, want 1 deleted up", st)
	}
	if ex := plainExpunges(srv); len(ex) > 0 {
		t.Errorf("plain EXPUNGE sent: %q", ex)
	}
	// The other client's message is still there; the deleted one is in
	// Trash, and marked \Deleted in INBOX (no UIDPLUS: no expunge at all).
	want := []string{testenv.MessageIDOf(gone) + ` \Deleted \Seen`, testenv.MessageIDOf(keep) + ` \Deleted \Seen`}
	slices.Sort(want)
	if got := fakeIDs(srv, "INBOX"); !slices.Equal(got, want) {
		t.Errorf("server INBOX = %q, want %q", got, want)
	}
	if got := fakeIDs(srv, "Trash"); len(got) != 1 || !strings.HasPrefix(got[0], testenv.MessageIDOf(gone)) {
		t.Errorf("server Trash = %q, want the deleted message once", got)
	}
	// Later passes neither bring it back nor copy it again.
	for i := 0; i < 2; i++ {
		if st := h.mustPass(); st.Up.Deleted != 0 || st.Up.Moved != 0 {
			t.Errorf("pass %d did more: %v", i+3, st)
		}
	}
	for _, m := range h.local()["INBOX"] {
		if m.MessageID == testenv.MessageIDOf(gone) {
			t.Errorf("the deleted message came back in INBOX")
		}
	}
	if got := fakeIDs(srv, "Trash"); len(got) != 1 {
		t.Errorf("server Trash = %q after more passes", got)
	}
}

// Defect b: when the local rename that applies merged flags fails because
// the user changed the file meanwhile, the merged flags must not become
// the base: the next pass would take the difference for a local change
// and revert another device's change on the server.
func TestDefectFlagRenameRaceKeepsOldBase(t *testing.T) {
	srv := fakeimap.New()
	h := newHostile(t, srv)
	raw := h.msg("read here, flagged elsewhere")
	srv.Lock()
	inbox := srv.Mailbox("INBOX")
	m := inbox.Add(raw)
	srv.Unlock()
	h.mustPass()
	// Another device flags it; here the user reads it.
	srv.Lock()
	m.Flags = append(m.Flags, `\Flagged`)
	inbox.HighestModSeq++
	m.ModSeq = inbox.HighestModSeq
	srv.Unlock()
	old := h.localFile("INBOX", testenv.MessageIDOf(raw))
	read := strings.Replace(old, string(os.PathSeparator)+"new"+string(os.PathSeparator), string(os.PathSeparator)+"cur"+string(os.PathSeparator), 1) + ":2,S"
	if err := os.Rename(old, read); err != nil {
		t.Fatal(err)
	}
	// While the pass sends \Seen to the server, the user marks it unread
	// again: the pass's own rename then finds no file.
	var raced atomic.Bool
	srv.Lock()
	srv.Hook = func(s *fakeimap.Session, c *fakeimap.Command) bool {
		if c.Name == "UID STORE" && !raced.Load() {
			raced.Store(true)
			os.Rename(read, strings.TrimSuffix(read, "S"))
		}
		return false
	}
	srv.Unlock()
	h.mustPass()
	if !raced.Load() {
		t.Fatal("the pass sent no STORE")
	}
	srv.Lock()
	srv.Hook = nil
	srv.Unlock()
	h.mustPass()
	got := fakeIDs(srv, "INBOX")
	if len(got) != 1 || !strings.Contains(got[0], `\Flagged`) {
		t.Errorf("server INBOX = %q: the other device's \\Flagged was reverted", got)
	}
	local := h.local()["INBOX"]
	if len(local) != 1 || !slices.Contains(local[0].Flags, `\Flagged`) {
		t.Errorf("local INBOX = %+v, want the message flagged", local)
	}
}

// Defect f: a targeted pass (the daemon's PullNew and PushLocal) must
// keep the resumable partial downloads of its folder: here that of a
// placeholder whose `mailmirror fetch` was cut short.
func TestDefectTargetedPassKeepsPartials(t *testing.T) {
	srv := fakeimap.New()
	h := newHostile(t, srv)
	h.acct.MaxSize = 4 << 10
	big := testenvGen(h.rnd, "big, a placeholder", 3<<20)
	small := h.msg("small")
	srv.Lock()
	inbox := srv.Mailbox("INBOX")
	inbox.Add(small)
	bigMsg := inbox.Add(big)
	srv.Unlock()
	if st := h.mustPass(); st.Placeholders != 1 {
		t.Fatalf("first pass: %v, want one placeholder", st)
	}
	folder, ok, err := h.db.Folder(h.acct.Name, "INBOX")
	if err != nil || !ok {
		t.Fatalf("folder: %v %v", ok, err)
	}
	// A fetch of the placeholder cut short left its first MiB in tmp/.
	lf, err := h.store.Folder("INBOX")
	if err != nil {
		t.Fatal(err)
	}
	var key string
	cutShort := func() {
		t.Helper()
		w, err := lf.NewMessage()
		if err != nil {
			t.Fatal(err)
		}
		w.Write(big[:1<<20])
		if err := w.Keep(); err != nil {
			t.Fatal(err)
		}
		key = w.Key()
		part := state.Partial{FolderID: folder.ID, UID: bigMsg.UID, UIDValidity: folder.UIDValidity, File: key, Offset: 1 << 20, LocalSize: 1 << 20, Size: int64(len(big))}
		if err := h.db.PutPartial(part); err != nil {
			t.Fatal(err)
		}
	}
	kept := func(when string) {
		t.Helper()
		if _, ok, err := h.db.Partial(folder.ID, bigMsg.UID); err != nil || !ok {
			t.Errorf("%s: the partial download is forgotten (%v)", when, err)
		}
		if _, err := os.Stat(filepath.Join(lf.Path, "tmp", key)); err != nil {
			t.Errorf("%s: the partial file is gone: %v", when, err)
		}
	}
	ctx := context.Background()
	s := New(h.acct, h.store, h.db, Options{DialOptions: DialOptions{Password: "pw", Timeout: 3 * time.Second}})
	defer s.Close()
	// New mail pushed by IDLE.
	cutShort()
	srv.Lock()
	inbox.Add(h.msg("pushed"))
	srv.Unlock()
	if st, err := s.PullNew(ctx, Pushed{Folder: "INBOX"}); err != nil || st.Down.New != 1 {
		t.Fatalf("PullNew: %v, %v", st, err)
	}
	kept("after PullNew")
	// A flag change seen by the watcher.
	cutShort()
	p := h.localFile("INBOX", testenv.MessageIDOf(small))
	mkey, _ := maildir.ParseName(filepath.Base(p))
	np := filepath.Join(filepath.Dir(filepath.Dir(p)), "cur", mkey+":2,F")
	if err := os.Rename(p, np); err != nil {
		t.Fatal(err)
	}
	if st, err := s.PushLocal(ctx, []LocalChange{{Folder: "INBOX", Path: p}, {Folder: "INBOX", Path: np}}); err != nil || st.Up.Flags != 1 {
		t.Fatalf("PushLocal: %v, %v", st, err)
	}
	kept("after PushLocal")
}

// Defect g: on a server with CONDSTORE but without UIDPLUS (no APPENDUID),
// the IDLE echo of our own APPEND must not be downloaded back as new mail
// (the next full pass then appended the original again).
func TestDefectIdleEchoOfOwnAppend(t *testing.T) {
	srv := fakeimap.New()
	srv.Caps = []string{"CONDSTORE", "LIST-STATUS", "ESEARCH", "MOVE"}
	h := newHostile(t, srv)
	h.mustPass()
	raw := h.msg("saved by the mail client")
	lf, err := h.store.Folder("INBOX")
	if err != nil {
		t.Fatal(err)
	}
	w, err := lf.NewMessage()
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(strings.ReplaceAll(string(raw), "\r\n", "\n")))
	if _, err := w.Commit("S", time.Now()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s := New(h.acct, h.store, h.db, Options{DialOptions: DialOptions{Password: "pw", Timeout: 3 * time.Second}})
	defer s.Close()
	if st, err := s.Sync(ctx); err != nil || st.Up.New != 1 {
		t.Fatalf("pass: %v, %v; want 1 uploaded", st, err)
	}
	// The IDLE connection saw the EXISTS of that APPEND.
	st, err := s.PullNew(ctx, Pushed{Folder: "INBOX"})
	if err != nil && !errors.Is(err, ErrFullPass) {
		t.Fatalf("PullNew: %v", err)
	}
	if st.Down.New != 0 {
		t.Errorf("PullNew downloaded our own APPEND back: %v", st)
	}
	for i := 0; i < 2; i++ {
		if _, err := s.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
	id := testenv.MessageIDOf(raw)
	if got := fakeIDs(srv, "INBOX"); len(got) != 1 || !strings.HasPrefix(got[0], id) {
		t.Errorf("server INBOX = %q, want the message once", got)
	}
	if local := h.local()["INBOX"]; len(local) != 1 || local[0].MessageID != id {
		t.Errorf("local INBOX = %+v, want the message once", local)
	}
}

// Defect e: downloads left unpublished in a folder's tmp/ by a killed pass
// are removed by the next one, but not the resumable partial downloads the
// state records, nor another program's delivery in progress.
func TestDefectOrphanTmpFilesRemoved(t *testing.T) {
	srv := fakeimap.New()
	h := newHostile(t, srv)
	srv.Lock()
	srv.Mailbox("INBOX").Add(h.msg("one"))
	srv.Unlock()
	h.mustPass()
	folder, _, err := h.db.Folder(h.acct.Name, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	lf, err := h.store.Folder("INBOX")
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(lf.Path, "tmp")
	// Keys as an earlier mailmirror process (a pid that has exited) made them.
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	dead := func() string {
		k := maildir.NewKey()
		return strings.Replace(k, fmt.Sprintf("P%dQ", os.Getpid()), fmt.Sprintf("P%dQ", gone.ProcessState.Pid()), 1)
	}
	write := func(name string, age time.Duration) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, []byte("Subject: x\n\nbody\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if age > 0 {
			old := time.Now().Add(-age)
			os.Chtimes(p, old, old)
		}
		return p
	}
	orphans := []string{write(dead(), 0), write(dead(), 0), write("1500000000.M1P2Q3.elsewhere", 40*time.Hour)}
	partial := dead()
	write(partial, 0)
	if err := h.db.PutPartial(state.Partial{FolderID: folder.ID, UID: 99, UIDValidity: folder.UIDValidity, File: partial, Offset: 10, LocalSize: 10, Size: 2 << 20}); err != nil {
		t.Fatal(err)
	}
	foreign := write("1796000000.12345_1.otherhost", 0) // another program delivering now
	mine := write(maildir.NewKey(), 0)                  // this process's own
	h.mustPass()
	for _, p := range orphans {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("orphan %s left in tmp/", filepath.Base(p))
		}
	}
	for _, p := range []string{filepath.Join(tmp, partial), foreign, mine} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s removed: %v", filepath.Base(p), err)
		}
	}
}

// Defect d: a tagged NO on a body FETCH (Gmail: "Some messages could not
// be FETCHed") must keep the messages that arrived, report the one that
// did not, and fetch it once the server delivers it.
func TestDefectFetchNoKeepsWhatArrived(t *testing.T) {
	srv := fakeimap.New()
	h := newHostile(t, srv)
	var raws [][]byte
	srv.Lock()
	inbox := srv.Mailbox("INBOX")
	for i := 0; i < 10; i++ {
		raws = append(raws, h.msg(fmt.Sprintf("message %d", i)))
		inbox.Add(raws[i])
	}
	bad := inbox.Messages[4]
	srv.Unlock()
	var broken atomic.Bool
	broken.Store(true)
	dropped := false // under the server's lock
	srv.OnFetch = func(s *fakeimap.Session, mb *fakeimap.Mailbox, m *fakeimap.Message, resp []byte) []byte {
		if broken.Load() && m == bad && bytes.Contains(resp, []byte("BODY[]")) {
			dropped = true
			return nil
		}
		return resp
	}
	srv.FetchNo = func(s *fakeimap.Session, c *fakeimap.Command) string {
		if dropped {
			dropped = false
			return "Some messages could not be FETCHed (Failure)"
		}
		return ""
	}
	want := func(n int) {
		t.Helper()
		local := h.local()["INBOX"]
		seen := map[string]int{}
		for _, m := range local {
			seen[m.MessageID]++
		}
		for i, raw := range raws {
			id := testenv.MessageIDOf(raw)
			switch {
			case seen[id] > 1:
				t.Errorf("%s (message %d) stored %d times", id, i, seen[id])
			case seen[id] == 0 && (n == len(raws) || i != 4):
				t.Errorf("%s (message %d) missing", id, i)
			}
		}
		if len(local) != n {
			t.Errorf("%d local messages, want %d", len(local), n)
		}
	}
	for pass := 1; pass <= 2; pass++ {
		st, err := h.pass()
		if err != nil {
			t.Fatalf("pass %d failed: %v", pass, err)
		}
		if !slices.ContainsFunc(st.Warnings, func(w string) bool { return strings.Contains(w, fmt.Sprintf("UID %d", bad.UID)) }) {
			t.Errorf("pass %d: no warning names UID %d: %q", pass, bad.UID, st.Warnings)
		}
		want(9)
	}
	broken.Store(false)
	h.mustPass()
	want(10)
}

// Defect h: an error of the local side (here a folder whose tmp/ is not a
// directory, as a full or broken disk would fail a write) is not the
// network's: the pass says so with ErrLocal, and the connection is kept.
func TestDefectLocalErrorsAreNotConnectionErrors(t *testing.T) {
	srv := fakeimap.New()
	h := newHostile(t, srv)
	h.mustPass()
	lf, err := h.store.Folder("INBOX")
	if err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(lf.Path, "tmp")
	if err := os.RemoveAll(tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tmp, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	srv.Lock()
	srv.Mailbox("INBOX").Add(h.msg("cannot be stored"))
	srv.Unlock()
	_, err = h.pass()
	if err == nil || !errors.Is(err, ErrLocal) {
		t.Fatalf("pass = %v, want an error marked ErrLocal", err)
	}
	if isConnError(err) {
		t.Errorf("a local error is taken for a broken connection: %v", err)
	}
	if !strings.Contains(err.Error(), "INBOX") {
		t.Errorf("the error does not name the folder: %v", err)
	}
	os.Remove(tmp)
	os.Mkdir(tmp, 0o700)
	if st := h.mustPass(); st.Down.New != 1 {
		t.Errorf("after the fix: %v", st)
	}
}

// Defect c: with max_age, the old messages left on the server unpaired
// must count when the server's message count is checked: otherwise every
// pass searched and fetched their identities again, and an expunge that
// happened to even the counts out was missed for good.
func TestDefectMaxAgeCountsOldMessages(t *testing.T) {
	srv := fakeimap.New()
	h := newHostile(t, srv)
	h.acct.MaxAge = 30 * 24 * time.Hour
	srv.Lock()
	inbox := srv.Mailbox("INBOX")
	inbox.Add(h.msg("old, left on the server")) // dated 2025
	var recent [][]byte
	var gone *fakeimap.Message
	for i := 0; i < 2; i++ {
		recent = append(recent, h.msg(fmt.Sprintf("recent %d", i)))
		m := inbox.Add(recent[i], `\Seen`)
		m.Date = time.Now().Add(-time.Hour)
		gone = m
	}
	srv.Unlock()
	if st := h.mustPass(); st.Down.New != 2 {
		t.Fatalf("first pass: %v, want the 2 recent messages", st)
	}
	// A local flag change: the folder is looked at again, the server has
	// not changed.
	p := h.localFile("INBOX", testenv.MessageIDOf(recent[0]))
	if err := os.Rename(p, p+"F"); err != nil {
		t.Fatal(err)
	}
	n := len(srv.Commands())
	if st := h.mustPass(); st.Up.Flags != 1 {
		t.Errorf("second pass: %v", st)
	}
	for _, c := range srv.Commands()[n:] {
		if strings.Contains(c, "UID SEARCH") || (strings.Contains(c, "UID FETCH 1 ") || strings.Contains(c, "UID FETCH 1:")) && strings.Contains(c, "HEADER.FIELDS") {
			t.Errorf("second pass looked at the old message again: %s", c)
		}
	}
	// Another client expunges a recent message: 2 messages on the server,
	// as many as the pairs.
	srv.Lock()
	inbox.Messages = slices.DeleteFunc(inbox.Messages, func(m *fakeimap.Message) bool { return m == gone })
	inbox.HighestModSeq++
	srv.Unlock()
	h.mustPass()
	local := h.local()["INBOX"]
	if len(local) != 1 || local[0].MessageID != testenv.MessageIDOf(recent[0]) {
		t.Errorf("local INBOX after the expunge: %d messages, want only %s", len(local), testenv.MessageIDOf(recent[0]))
	}
}

// A message deleted locally that the server meanwhile only marked
// \Deleted (another client, or a pass of ours killed between its STORE and
// its UID EXPUNGE: TestCrashDuringChangesLosesNothingDuplicatesNothing
// found it) is deleted on the server, not downloaded again as a change
// made there: \Deleted says the same as the local delete.
func TestLocalDeleteStandsWhenTheServerOnlyMarkedItDeleted(t *testing.T) {
	f := newFixture(t)
	gone := f.msg("deleted here, \\Deleted there")
	kept := f.msg("flagged there")
	goneUID := f.u.Append(t, "INBOX", gone, imap.FlagSeen)
	keptUID := f.u.Append(t, "INBOX", kept, imap.FlagSeen)
	f.sync()
	for _, raw := range [][]byte{gone, kept} {
		if err := os.Remove(f.file("INBOX", testenv.MessageIDOf(raw))); err != nil {
			t.Fatal(err)
		}
	}
	f.u.SetFlags(t, "INBOX", goneUID, true, imap.FlagDeleted)
	f.u.SetFlags(t, "INBOX", keptUID, true, imap.FlagFlagged) // a real change there: kept
	f.sync()
	msgs := f.u.Messages(t, "INBOX")
	if len(msgs) != 1 || msgs[0].MessageID != testenv.MessageIDOf(kept) {
		t.Fatalf("server INBOX: %+v, want only the flagged message", msgs)
	}
	local := f.local("INBOX")
	if len(local) != 1 || local[0].MessageID != testenv.MessageIDOf(kept) {
		t.Fatalf("local INBOX: %+v, want only the flagged message (downloaded again)", local)
	}
	f.compare()
}
