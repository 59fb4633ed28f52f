package cli

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/internal/testenv/pop3srv"
	"github.com/mailmirror/mailmirror/maildir"
	"github.com/mailmirror/mailmirror/pop3pull"
	"github.com/mailmirror/mailmirror/state"
)

// writePOP3Config writes a config with one POP3 account "pop" on the fake
// server at addr (clear text on loopback), its state and Maildir in dir.
func writePOP3Config(t *testing.T, addr, dir string) string {
	t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	return writeConfig(t, fmt.Sprintf(`state_dir = %q
[[account]]
name = "pop"
protocol = "pop3"
host = %q
port = %s
tls = "none"
username = "user"
password = "pass"
maildir = %q
`, filepath.Join(dir, "state"), host, port, filepath.Join(dir, "Mail")))
}

// Issue 19 item 4: `mailmirror sync` says, one line each, what a POP3 poll
// could not fetch, exits non-zero, and `status` shows the same.
func TestIssue19SyncReportsPOP3Problems(t *testing.T) {
	srv := pop3srv.New(pop3srv.Options{})
	addr, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	for i := range 4 {
		srv.Mailbox.Add([]byte(fmt.Sprintf("Subject: %d\r\nMessage-ID: <%d@x>\r\n\r\nbody\r\n", i, i)))
	}
	bad := srv.Mailbox.Messages()[1].UIDL
	srv.SetFaults(pop3srv.Faults{BreakUIDL: bad})
	cfg := writePOP3Config(t, addr, t.TempDir())

	code, stdout, stderr := runMain(t, "--config", cfg, "sync")
	t.Logf("sync: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	if code == ExitOK {
		t.Errorf("sync exited 0 with a message not fetched")
	}
	if !strings.Contains(stdout, "pop: pop3: 3 new, 0 deleted on the server, 4 on the server, 1 not fetched") {
		t.Errorf("summary does not count the message not fetched:\n%s", stdout)
	}
	want := "pop: message 2 (UIDL " + bad + "): not fetched: "
	if strings.Count(stderr, want) != 1 {
		t.Errorf("stderr does not name message 2 once:\n%s", stderr)
	}
	code, stdout, _ = runMain(t, "--config", cfg, "status")
	if code != ExitOK || !strings.Contains(stdout, "problems:    1 at the last poll") || !strings.Contains(stdout, "message 2 (UIDL "+bad+")") {
		t.Errorf("status: exit %d\n%s", code, stdout)
	}
}

// Issue 19 item 8: a one-shot sync while another holds the state does
// not claim that a daemon runs.
func TestIssue19SecondOneShotSyncSaysWhoHoldsTheState(t *testing.T) {
	dir := t.TempDir()
	cfg := writePOP3Config(t, "127.0.0.1:1", dir)
	held, err := state.Open(filepath.Join(dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	code, _, stderr := runMain(t, "--config", cfg, "sync")
	if code == ExitOK || strings.Contains(stderr, "daemon is running") ||
		!strings.Contains(stderr, "another `mailmirror sync` is running") {
		t.Errorf("second sync: exit %d, stderr:\n%s", code, stderr)
	}
}

// Issue 19 item 8: "check host and port" only for a timeout before the
// login; a timeout in the middle of a session says something else.
func TestIssue19TimeoutHintOnlyBeforeLogin(t *testing.T) {
	// A server that never greets.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	dir := t.TempDir()
	cfg, err := config.Load(writePOP3Config(t, ln.Addr().String(), dir))
	if err != nil {
		t.Fatal(err)
	}
	db, err := state.Open(cfg.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a := cfg.Accounts[0]
	store, err := maildir.Open(a.Maildir, a.Layout)
	if err != nil {
		t.Fatal(err)
	}
	_, err = pop3pull.Poll(context.Background(), a, store, db, &pop3pull.Options{Timeout: 200 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "i/o timeout") {
		t.Fatalf("poll of a server that never greets: %v, want an i/o timeout", err)
	}
	if msg := explain(a, err); !strings.Contains(msg, "check host and port") {
		t.Errorf("explain(%v) = %q, want the host and port hint", err, msg)
	}
	// A timeout after a good login, as the IMAP engine reports one in the
	// middle of a FETCH.
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	_, rerr := c.Read(make([]byte, 1))
	mid := fmt.Errorf("folder INBOX: fetch new messages: %w", rerr)
	if msg := explain(a, mid); !strings.Contains(msg, "i/o timeout") || strings.Contains(msg, "check host and port") {
		t.Errorf("explain(%v) = %q, want no host and port hint", mid, msg)
	}
}

// Issue 19 item 8, through the binary: a truncated state database makes
// sync and status say to move it aside.
func TestIssue19TruncatedStateThroughTheBinary(t *testing.T) {
	bin := testBinary(t)
	srv := pop3srv.New(pop3srv.Options{})
	addr, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	for i := range 200 {
		srv.Mailbox.Add([]byte(fmt.Sprintf("Subject: %d\r\nMessage-ID: <%d@x>\r\n\r\nbody\r\n", i, i)))
	}
	dir := t.TempDir()
	cfg := writePOP3Config(t, addr, dir)
	if out, err := exec.Command(bin, "--config", cfg, "sync").CombinedOutput(); err != nil {
		t.Fatalf("first sync: %v\n%s", err, out)
	}
	db := filepath.Join(dir, "state", state.FileName)
	st, err := os.Stat(db)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(db, st.Size()/2); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"sync", "status"} {
		out, err := exec.Command(bin, "--config", cfg, cmd).CombinedOutput()
		code := exitCode(t, err)
		if !strings.Contains(string(out), "move it aside (mv "+db) || cmd == "sync" && code == ExitOK {
			t.Errorf("%s with a truncated state: exit %d\n%s", cmd, code, out)
		}
	}
}
