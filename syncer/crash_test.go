package syncer

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/state"
)

// lendDB closes the fixture's state DB so that a child process can take
// its lock; the function it returns opens it again.
func (f *fixture) lendDB() func() {
	f.t.Helper()
	f.db.Close()
	return func() {
		db, err := state.Open(f.acct.Maildir + "/../state")
		if err != nil {
			f.t.Fatal(err)
		}
		f.db = db
	}
}

// killedPasses runs passes in a subprocess and SIGKILLs each after a
// random, seeded delay, until one completes or the budget is spent. The
// fixture's own DB is closed meanwhile (the child takes the lock).
func (f *fixture) killedPasses(seed uint64, kills int, maxDelay time.Duration) (killed int) {
	f.t.Helper()
	defer f.lendDB()()
	r := rand.New(rand.NewPCG(seed, 7))
	for i := 0; i < kills; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "SYNCER_CHILD_CONFIG="+f.cfgPath, "SYNCER_TEST_PASSWORD="+f.u.Password)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			f.t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		delay := time.Duration(r.Int64N(int64(maxDelay)))
		select {
		case err := <-done:
			if err != nil {
				f.t.Fatalf("child pass failed: %v\n%s", err, stderr.String())
			}
			return killed
		case <-time.After(delay):
			cmd.Process.Signal(syscall.SIGKILL)
			<-done
			killed++
		}
	}
	return killed
}

// noDuplicates fails when a Message-ID is twice in a folder on either side.
func (f *fixture) noDuplicates() {
	f.t.Helper()
	for folder, msgs := range f.localAll() {
		seen := map[string]bool{}
		for _, m := range msgs {
			if seen[m.MessageID] {
				f.t.Errorf("local %s: %s twice", folder, m.MessageID)
			}
			seen[m.MessageID] = true
		}
	}
	for _, folder := range f.u.Folders(f.t) {
		seen := map[string]bool{}
		for _, m := range f.u.Messages(f.t, folder) {
			if seen[m.MessageID] {
				f.t.Errorf("server %s: %s twice", folder, m.MessageID)
			}
			seen[m.MessageID] = true
		}
	}
}

func TestCrashDuringInitialSyncLosesNothingDuplicatesNothing(t *testing.T) {
	f := newFixture(t)
	f.u.CreateFolder(t, "Archive")
	f.u.CreateFolder(t, "Lists/golang")
	want := 0
	for i := 0; i < 120; i++ {
		folder := []string{"INBOX", "Archive", "Lists/golang"}[i%3]
		var flags []imap.Flag
		if i%2 == 0 {
			flags = append(flags, imap.FlagSeen)
		}
		f.u.Append(t, folder, testenvGen(f, fmt.Sprintf("m%d", i), 2000+i*100), flags...)
		want++
	}
	// Local messages to upload, too.
	sent, _ := f.store.Folder("Sent")
	for i := 0; i < 15; i++ {
		w, _ := sent.NewMessage()
		w.Write([]byte(strings.ReplaceAll(string(f.msg(fmt.Sprintf("sent %d", i))), "\r\n", "\n")))
		w.Commit("S", time_(t))
	}
	killed := 0
	for round := uint64(0); round < 4; round++ {
		killed += f.killedPasses(round+1, 6, 400*time.Millisecond)
	}
	t.Logf("%d passes killed", killed)
	f.sync()
	f.compare()
	f.noDuplicates()
	if n := len(f.u.Messages(t, "Sent")); n != 15 {
		t.Errorf("server Sent has %d, want 15", n)
	}
	total := 0
	for _, msgs := range f.localAll() {
		total += len(msgs)
	}
	if total != want+15 {
		t.Errorf("local has %d messages, want %d", total, want+15)
	}
}

func TestCrashDuringChangesLosesNothingDuplicatesNothing(t *testing.T) {
	f := newFixture(t)
	f.u.CreateFolder(t, "Archive")
	var raws [][]byte
	var uids []uint32
	for i := 0; i < 60; i++ {
		raw := testenvGen(f, fmt.Sprintf("c%d", i), 3000)
		raws = append(raws, raw)
		uids = append(uids, f.u.Append(t, "INBOX", raw, imap.FlagSeen))
	}
	f.sync()
	// Local: moves (both kinds), deletes, flags, new messages.
	for i := 0; i < 10; i++ {
		f.renameLocal("INBOX", "Archive", msgID(raws[i]))
	}
	for i := 10; i < 15; i++ {
		f.copyDeleteLocal("INBOX", "Archive", msgID(raws[i]))
	}
	for i := 15; i < 20; i++ {
		os.Remove(f.file("INBOX", msgID(raws[i])))
	}
	inbox, _ := f.store.Folder("INBOX")
	for i := 0; i < 10; i++ {
		w, _ := inbox.NewMessage()
		w.Write([]byte(strings.ReplaceAll(string(f.msg(fmt.Sprintf("new local %d", i))), "\r\n", "\n")))
		w.Commit("", time_(t))
	}
	// Server: moves, expunges, flags, new.
	for i := 20; i < 25; i++ {
		f.u.Move(t, "INBOX", uids[i], "Archive")
	}
	for i := 25; i < 30; i++ {
		f.u.Expunge(t, "INBOX", uids[i])
	}
	for i := 30; i < 40; i++ {
		f.u.SetFlags(t, "INBOX", uids[i], true, imap.FlagFlagged)
	}
	for i := 0; i < 10; i++ {
		f.u.Append(t, "Archive", f.msg(fmt.Sprintf("new server %d", i)))
	}
	killed := 0
	for round := uint64(0); round < 5; round++ {
		killed += f.killedPasses(round+11, 6, 150*time.Millisecond)
	}
	t.Logf("%d passes killed", killed)
	f.sync()
	f.compare()
	f.noDuplicates()
	if n := len(f.u.Messages(t, "INBOX")) + len(f.u.Messages(t, "Archive")); n != 60-5-5+10+10 {
		t.Errorf("server holds %d messages, want %d", n, 60-5-5+10+10)
	}
}
