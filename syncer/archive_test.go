package syncer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/internal/testenv"
)

const archiveFolder = "Archive/local"

// killAtArchiveStep makes the process SIGKILL itself at the n-th time the
// archive step named in spec ("moved:3") is reached: the crash tests' child.
func killAtArchiveStep(spec string) {
	step, nth, ok := strings.Cut(spec, ":")
	if !ok {
		return
	}
	n, _ := strconv.Atoi(nth)
	seen := 0
	archiveHook = func(s string) {
		if s != step {
			return
		}
		if seen++; seen >= n {
			self, _ := os.FindProcess(os.Getpid())
			self.Kill() // SIGKILL on Unix
			select {}
		}
	}
}

// withConfig sets the text after the fixture's account in its config file
// (the crash tests' child reads it), replacing what an earlier call added,
// and reloads the account from it.
func (f *fixture) withConfig(text string) {
	f.t.Helper()
	const mark = "\n# added by withConfig\n"
	old, err := os.ReadFile(f.cfgPath)
	if err != nil {
		f.t.Fatal(err)
	}
	base, _, _ := strings.Cut(string(old), mark)
	data := []byte(base + mark + text)
	if err := os.WriteFile(f.cfgPath, data, 0o600); err != nil {
		f.t.Fatal(err)
	}
	cfg, err := config.Parse(data, "test.toml")
	if err != nil {
		f.t.Fatal(err)
	}
	f.acct = cfg.Accounts[0]
}

const inboxPolicy = `[[account.folder_policy]]
match = "INBOX"
archive_after = "365d"
archive_to = "` + archiveFolder + `"
`

// appendAt appends a message with the given server date.
func (f *fixture) appendAt(folder string, raw []byte, date time.Time, flags ...imap.Flag) {
	f.t.Helper()
	c := f.u.Dial(f.t)
	cmd := c.Append(folder, int64(len(raw)), &imap.AppendOptions{Flags: flags, Time: date})
	cmd.Write(raw)
	cmd.Close()
	if _, err := cmd.Wait(); err != nil {
		f.t.Fatal(err)
	}
	c.Logout().Wait()
}

// ids returns the Message-IDs of msgs as a set, failing on a duplicate.
func ids(t *testing.T, where string, msgs []testenv.Msg) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, m := range msgs {
		if out[m.MessageID] {
			t.Errorf("%s: %s twice", where, m.MessageID)
		}
		out[m.MessageID] = true
	}
	return out
}

// compareSynced compares server and Maildir without the local-only
// archive folder, which must not exist on the server.
func (f *fixture) compareSynced() {
	f.t.Helper()
	server := map[string][]testenv.Msg{}
	for _, name := range f.u.Folders(f.t) {
		if strings.HasPrefix(name, "Archive") {
			f.t.Errorf("server has folder %q: the archive folder must stay local", name)
		}
		server[name] = f.u.Messages(f.t, name)
	}
	local := f.localAll()
	delete(local, archiveFolder)
	for _, d := range testenv.DiffAccount(server, local) {
		f.t.Errorf("%s", d)
	}
}

func (f *fixture) archiver() *Syncer {
	return New(f.acct, f.store, f.db, Options{DialOptions: DialOptions{Password: config.Secret(f.u.Password)}})
}

// TestArchiveMovesExactlyTheOldMessages: a pass archives the INBOX
// messages older than archive_after, with their flags, and deletes them
// from the server; newer ones, and folders without the policy, stay; the
// archive folder is never uploaded by later passes.
func TestArchiveMovesExactlyTheOldMessages(t *testing.T) {
	f := newFixture(t)
	f.u.CreateFolder(t, "Lists")
	f.withConfig(inboxPolicy)
	old := time.Now().AddDate(-2, 0, 0)
	var oldIDs, newIDs []string
	for i := 0; i < 5; i++ {
		raw := f.msg(fmt.Sprintf("old %d", i))
		flags := []imap.Flag{imap.FlagSeen}
		if i == 0 {
			flags = append(flags, imap.FlagFlagged)
		}
		f.appendAt("INBOX", raw, old.Add(time.Duration(i)*time.Hour), flags...)
		oldIDs = append(oldIDs, msgID(raw))
	}
	for i := 0; i < 3; i++ {
		raw := f.msg(fmt.Sprintf("new %d", i))
		f.appendAt("INBOX", raw, time.Now().AddDate(0, -11, 0))
		newIDs = append(newIDs, msgID(raw))
	}
	listsOld := f.msg("lists old")
	f.appendAt("Lists", listsOld, old, imap.FlagSeen)

	st := f.sync()
	if st.Archived != 5 {
		t.Errorf("archived %d, want 5 (%s)", st.Archived, st)
	}
	archived := ids(t, "local archive", f.local(archiveFolder))
	for _, id := range oldIDs {
		if !archived[id] {
			t.Errorf("old message %s not in the archive folder", id)
		}
	}
	if len(archived) != 5 {
		t.Errorf("archive folder holds %d messages, want 5", len(archived))
	}
	for _, m := range f.local(archiveFolder) {
		if m.MessageID == oldIDs[0] && !strings.Contains(m.Path, "FS") {
			t.Errorf("the flagged message lost its flags in the archive: %s", m.Path)
		}
	}
	inbox := ids(t, "server INBOX", f.u.Messages(t, "INBOX"))
	if len(inbox) != 3 {
		t.Errorf("server INBOX holds %d, want the 3 new ones", len(inbox))
	}
	for _, id := range newIDs {
		if !inbox[id] {
			t.Errorf("new message %s left the server", id)
		}
	}
	if n := len(f.u.Messages(t, "Lists")); n != 1 {
		t.Errorf("Lists (no policy) holds %d on the server, want 1", n)
	}
	f.compareSynced()

	// Later passes, with a message added to the archive folder by hand,
	// never upload it nor create the folder on the server.
	arch, err := f.store.Folder(archiveFolder)
	if err != nil {
		t.Fatal(err)
	}
	w, _ := arch.NewMessage()
	w.Write([]byte(strings.ReplaceAll(string(f.msg("local only")), "\r\n", "\n")))
	if _, err := w.Commit("S", time.Now()); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		st = f.sync()
		if st.Up.New != 0 || st.Archived != 0 {
			t.Errorf("pass %d: %s", i, st)
		}
	}
	f.compareSynced()
	if n := len(f.local(archiveFolder)); n != 6 {
		t.Errorf("archive folder holds %d, want 6", n)
	}
}

// TestArchiveDryRunChangesNothing: --dry-run lists what would go and
// leaves the Maildir, the state and the server as they were.
func TestArchiveDryRunChangesNothing(t *testing.T) {
	f := newFixture(t)
	old := time.Now().AddDate(-2, 0, 0)
	for i := 0; i < 4; i++ {
		f.appendAt("INBOX", f.msg(fmt.Sprintf("old %d", i)), old, imap.FlagSeen)
	}
	f.appendAt("INBOX", f.msg("new"), time.Now())
	f.sync() // without the policy: everything downloaded
	f.withConfig(inboxPolicy)
	before := f.localAll()
	folder, _, _ := f.db.Folder("test", "INBOX")
	pairsBefore, _ := f.db.Pairs(folder.ID)

	s := f.archiver()
	items, warnings, err := s.Archive(context.Background(), true)
	s.Close()
	if err != nil || len(warnings) > 0 {
		t.Fatalf("dry run: %v %v", err, warnings)
	}
	if len(items) != 4 {
		t.Fatalf("dry run lists %d, want 4", len(items))
	}
	for _, it := range items {
		if it.Folder != "INBOX" || it.ArchiveTo != archiveFolder || !strings.HasPrefix(it.Subject, "old ") ||
			it.MessageID == "" || it.Size <= 0 || !it.Date.Before(time.Now().AddDate(-1, 0, 0)) {
			t.Errorf("dry-run item %+v", it)
		}
	}
	if len(f.u.Messages(t, "INBOX")) != 5 {
		t.Error("the dry run removed messages from the server")
	}
	after := f.localAll()
	if len(after) != len(before) || len(after["INBOX"]) != 5 {
		t.Errorf("the dry run changed the Maildir: %d folders, %d in INBOX", len(after), len(after["INBOX"]))
	}
	if _, err := os.Stat(f.acct.Maildir + "/" + archiveFolder); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the dry run created the archive folder: %v", err)
	}
	pairsAfter, _ := f.db.Pairs(folder.ID)
	if n, _ := f.db.OpCount("test"); n != 0 || len(pairsAfter) != len(pairsBefore) {
		t.Errorf("the dry run changed the state: %d ops, %d pairs (was %d)", n, len(pairsAfter), len(pairsBefore))
	}

	// The real thing, on demand.
	s = f.archiver()
	items, _, err = s.Archive(context.Background(), false)
	s.Close()
	if err != nil || len(items) != 4 {
		t.Fatalf("archive: %d, %v", len(items), err)
	}
	if n := len(f.u.Messages(t, "INBOX")); n != 1 {
		t.Errorf("server INBOX holds %d, want 1", n)
	}
	if n := len(f.local(archiveFolder)); n != 4 {
		t.Errorf("archive holds %d, want 4", n)
	}
	f.sync()
	f.compareSynced()
}

// TestArchiveNeverRemovesMessagesNotDownloaded: a message max_age left on
// the server is never deleted by archiving, however old; one downloaded
// before is archived.
func TestArchiveNeverRemovesMessagesNotDownloaded(t *testing.T) {
	f := newFixture(t)
	old := time.Now().AddDate(-2, 0, 0)
	downloaded := f.msg("downloaded")
	f.appendAt("INBOX", downloaded, old, imap.FlagSeen)
	f.sync()
	notDownloaded := f.msg("never downloaded")
	f.appendAt("INBOX", notDownloaded, old, imap.FlagSeen)
	f.withConfig(`[[account.folder_policy]]
match = "INBOX"
max_age = "30d"
archive_after = "365d"
archive_to = "` + archiveFolder + `"
`)
	for i := 0; i < 2; i++ {
		f.sync()
	}
	server := ids(t, "server INBOX", f.u.Messages(t, "INBOX"))
	if !server[msgID(notDownloaded)] || len(server) != 1 {
		t.Errorf("server INBOX = %v, want only the message never downloaded", server)
	}
	archived := ids(t, "archive", f.local(archiveFolder))
	if !archived[msgID(downloaded)] || len(archived) != 1 {
		t.Errorf("archive = %v, want only the downloaded message", archived)
	}
	if n := len(f.local("INBOX")); n != 0 {
		t.Errorf("local INBOX holds %d, want 0", n)
	}
}

// childPass runs one pass in a subprocess with extra environment and
// reports whether it was killed (by itself, at an archive step).
func (f *fixture) childPass(env ...string) (killed bool) {
	f.t.Helper()
	defer f.lendDB()()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SYNCER_CHILD_CONFIG="+f.cfgPath, "SYNCER_TEST_PASSWORD="+f.u.Password)
	cmd.Env = append(cmd.Env, env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return true
		}
	}
	if err != nil {
		f.t.Fatalf("child pass failed: %v\n%s", err, stderr.String())
	}
	return false
}

// archiveInvariants checks, at any instant, that each message is in
// exactly one local place (its folder or the archive), and that a message
// gone from the server is in the archive.
func (f *fixture) archiveInvariants(all []string, when string) (onServer, archived int) {
	f.t.Helper()
	server := map[string]int{}
	for _, m := range f.u.Messages(f.t, "INBOX") {
		server[m.MessageID]++
	}
	local := map[string]int{}
	arch := map[string]bool{}
	for _, m := range f.local("INBOX") {
		local[m.MessageID]++
	}
	for _, m := range f.local(archiveFolder) {
		local[m.MessageID]++
		arch[m.MessageID] = true
	}
	for _, id := range all {
		switch {
		case local[id] == 0:
			f.t.Errorf("%s: %s is nowhere locally", when, id)
		case local[id] > 1:
			f.t.Errorf("%s: %s is %d times locally", when, id, local[id])
		}
		if server[id] == 0 && !arch[id] {
			f.t.Errorf("%s: %s left the server but is not in the archive", when, id)
		}
		if server[id] > 1 {
			f.t.Errorf("%s: %s is %d times on the server", when, id, server[id])
		}
		if server[id] > 0 {
			onServer++
		}
		if arch[id] {
			archived++
		}
	}
	return onServer, archived
}

// TestCrashDuringArchiveLosesNothing kills passes with SIGKILL at every
// step of archiving (after the intent, in the middle of the moves, after
// the fsyncs, after the state transaction, between \Deleted and EXPUNGE,
// after the EXPUNGE) and then at random instants: afterwards every message
// is either on the server and in INBOX or in the archive folder, never
// neither and never both locally, and nothing left the server that is not
// in the archive.
func TestCrashDuringArchiveLosesNothing(t *testing.T) {
	f := newFixture(t)
	old := time.Now().AddDate(-2, 0, 0)
	var all, newOnes []string
	for i := 0; i < 60; i++ {
		raw := testenvGen(f, fmt.Sprintf("a%d", i), 1500)
		date := old
		if i%4 == 0 {
			date = time.Now().AddDate(0, -1, 0)
			newOnes = append(newOnes, msgID(raw))
		}
		f.appendAt("INBOX", raw, date, imap.FlagSeen)
		all = append(all, msgID(raw))
	}
	f.sync()
	f.withConfig(inboxPolicy)
	more := func(n int) {
		// Downloaded by a pass that does not archive yet. Without the
		// policy the archive folder would be an ordinary folder, and
		// uploaded.
		f.withConfig(strings.Replace(inboxPolicy, "365d", "36500d", 1))
		for i := 0; i < n; i++ {
			raw := testenvGen(f, fmt.Sprintf("more%d-%d", len(all), i), 1500)
			f.appendAt("INBOX", raw, old, imap.FlagSeen)
			all = append(all, msgID(raw))
		}
		f.sync()
		f.withConfig(inboxPolicy)
	}
	for _, step := range []string{"intent:1", "moved:1", "moved:5", "synced:1", "recorded:1", "flagged:1", "expunged:1"} {
		if !f.childPass("SYNCER_CHILD_ARCHIVE_KILL=" + step) {
			t.Errorf("step %s: the pass was not killed", step)
		}
		f.archiveInvariants(all, "after a kill at "+step)
		if f.childPass() {
			t.Fatalf("a pass without a kill point was killed")
		}
		f.archiveInvariants(all, "after the pass following "+step)
		if n, _ := f.db.OpCount("test"); n != 0 {
			t.Errorf("after the pass following %s: %d pending operations", step, n)
		}
		if st := f.sync(); st.Archived != 0 || st.Down.New != 0 {
			t.Errorf("after the pass following %s, one more pass did %s", step, st)
		}
		more(8)
	}
	// And at random instants.
	more(40)
	killed := f.killedPasses(99, 8, 120*time.Millisecond)
	t.Logf("%d passes killed at random", killed)
	f.sync()
	onServer, archived := f.archiveInvariants(all, "at the end")
	if onServer != len(newOnes) || archived != len(all)-len(newOnes) {
		t.Errorf("at the end %d on the server (want %d), %d archived (want %d)", onServer, len(newOnes), archived, len(all)-len(newOnes))
	}
	f.compareSynced()
	f.noDuplicates()
}
