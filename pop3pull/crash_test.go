//go:build unix

package pop3pull

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/internal/testenv/pop3srv"
	"github.com/mailmirror/mailmirror/maildir"
)

// Environment of the crash child (TestPollCrashChild).
const (
	envCrashChild = "POP3PULL_CRASH_CHILD" // "1" in the child
	envCrashAddr  = "POP3PULL_CRASH_ADDR"
	envCrashMail  = "POP3PULL_CRASH_MAILDIR"
	envCrashState = "POP3PULL_CRASH_STATE"
	envCrashLeave = "POP3PULL_CRASH_LEAVE"
	envCrashStep  = "POP3PULL_CRASH_STEP" // kill at the Nth step; 0 = never
)

// TestPollCrashChild is the poll run in a subprocess by
// TestPollSurvivesKillAtEveryStep. It kills itself with SIGKILL at the step
// named by POP3PULL_CRASH_STEP.
func TestPollCrashChild(t *testing.T) {
	if os.Getenv(envCrashChild) != "1" {
		t.Skip("run by TestPollSurvivesKillAtEveryStep")
	}
	step, _ := strconv.Atoi(os.Getenv(envCrashStep))
	var n atomic.Int64
	crashHook = func(string) {
		// Steps run on the receiving and the committing goroutines.
		if n.Add(1) == int64(step) {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
	}
	acct := crashAccount(t, os.Getenv(envCrashAddr), os.Getenv(envCrashMail), os.Getenv(envCrashLeave) == "1")
	d := openDevice(t, acct, os.Getenv(envCrashState))
	d.opts.BatchMessages = 3
	d.poll(t)
	fmt.Printf("steps=%d\n", n.Load())
}

func crashAccount(t testing.TB, addr, maildir string, leave bool) *config.Account {
	acct := newAccount(t, addr, "user", "pass")
	acct.Maildir = maildir
	acct.LeaveOnServer = leave
	return acct
}

// runCrashChild polls in a subprocess that kills itself at step (0: never).
// It reports whether the child was killed.
func runCrashChild(t *testing.T, addr, mail, stateDir string, leave bool, step int) bool {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestPollCrashChild$", "-test.count=1")
	leaveEnv := "0"
	if leave {
		leaveEnv = "1"
	}
	cmd.Env = append(os.Environ(),
		envCrashChild+"=1", envCrashAddr+"="+addr, envCrashMail+"="+mail,
		envCrashState+"="+stateDir, envCrashLeave+"="+leaveEnv, envCrashStep+"="+strconv.Itoa(step),
		// The child dies by SIGKILL before its t.TempDir cleanup runs:
		// its temporary directories go under this test's, removed here.
		"TMPDIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err == nil {
		return false
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
		return true
	}
	t.Fatalf("crash child (step %d): %v\n%s", step, err, out)
	return false
}

// TestPollSurvivesKillAtEveryStep kills a poll (in a subprocess) at every
// step in turn: after each message is written, after the intent is
// recorded, after publication, after the record, after DELE, after QUIT;
// then (every other round) kills the recovering poll once more, and finally
// polls to the end.
// After each crash, every message gone from the server must be stored
// locally; at the end every message is stored exactly once.
func TestPollSurvivesKillAtEveryStep(t *testing.T) {
	if os.Getenv(envCrashChild) == "1" {
		t.Skip("in the crash child")
	}
	for _, leave := range []bool{false, true} {
		t.Run(fmt.Sprintf("leave_on_server=%v", leave), func(t *testing.T) {
			for step := 1; ; step++ {
				if !crashRound(t, leave, step) {
					if step < 10 {
						t.Fatalf("only %d steps: the crash hook is not wired", step-1)
					}
					t.Logf("covered %d crash points", step-1)
					return
				}
				if t.Failed() {
					return
				}
			}
		})
	}
}

// crashRound runs one scenario; it returns false when the first child was
// not killed (step is past the last step).
func crashRound(t *testing.T, leave bool, step int) bool {
	srv, addr := startFake(t, pop3srv.Options{})
	all := addMessages(srv, 7, "crash")
	// One long line and one dot line, so partial files would show.
	big := []byte("Subject: big\r\n\r\n" + string(bytes.Repeat([]byte("x"), 300000)) + "\r\n.\r\n")
	srv.Mailbox.Add(big)
	all = append(all, big)
	dir := t.TempDir()
	mail, stateDir := filepath.Join(dir, "Mail"), filepath.Join(dir, "state")

	if !runCrashChild(t, addr, mail, stateDir, leave, step) {
		srv.Close()
		return false
	}
	checkAfterCrash(t, fmt.Sprintf("step %d", step), srv, mail, all)
	// Every other round, crash the recovering poll too, at a step that
	// varies.
	if step%2 == 1 && runCrashChild(t, addr, mail, stateDir, leave, step%5+1) {
		checkAfterCrash(t, fmt.Sprintf("step %d then %d", step, step%5+1), srv, mail, all)
	}
	d := openDevice(t, crashAccount(t, addr, mail, leave), stateDir)
	d.opts.BatchMessages = 3
	d.poll(t)
	checkSame(t, fmt.Sprintf("step %d: local after recovery", step), d.local(t), wantSet(all...))
	if leave && srv.Mailbox.Len() != len(all) || !leave && srv.Mailbox.Len() != 0 {
		t.Errorf("step %d: server has %d messages after recovery", step, srv.Mailbox.Len())
	}
	d.db.Close()
	srv.Close()
	return true
}

// checkAfterCrash asserts that no local message is stored twice and that
// every message gone from the server is stored locally.
func checkAfterCrash(t *testing.T, what string, srv *pop3srv.Server, mail string, all [][]byte) {
	t.Helper()
	d := &device{acct: &config.Account{Folder: "INBOX"}}
	var err error
	d.store, err = maildir.Open(mail, config.LayoutVerbatim)
	if err != nil {
		t.Fatal(err)
	}
	local := d.local(t)
	seen := map[string]int{}
	for _, m := range local {
		seen[string(m)]++
	}
	for m, n := range seen {
		if n > 1 {
			t.Errorf("%s: a message is stored %d times: %q", what, n, trunc([]byte(m)))
		}
	}
	onServer := map[string]bool{}
	for _, m := range serverSet(srv) {
		onServer[string(m)] = true
	}
	for _, m := range wantSet(all...) {
		if !onServer[string(m)] && seen[string(m)] == 0 {
			t.Errorf("%s: %q was deleted from the server but is not stored", what, trunc(m))
		}
	}
	for m := range seen {
		found := false
		for _, w := range wantSet(all...) {
			if string(w) == m {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: a stored file is not one of the messages (partial?): %q", what, trunc([]byte(m)))
		}
	}
}
