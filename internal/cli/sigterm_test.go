package cli

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailmirror/mailmirror/internal/testenv/fakeimap"
)

// TestSyncEndsOnSIGTERM: `mailmirror sync` blocked on a server that went
// silent after LOGIN (the default two-minute read timeout) ends within
// seconds of a SIGTERM: the signal's context closes the pass's sockets.
// Before, it ran until the timeouts expired, several times over.
func TestSyncEndsOnSIGTERM(t *testing.T) {
	srv := fakeimap.New()
	srv.Hook = func(s *fakeimap.Session, c *fakeimap.Command) bool { return c.Name != "LOGIN" }
	fakeimap.Start(t, srv)
	dir := t.TempDir()
	cfg := writeConfig(t, fmt.Sprintf(`state_dir = %q
[[account]]
name = "silent"
protocol = "imap"
host = "127.0.0.1"
port = %d
tls = "none"
username = "u"
password = "pw"
maildir = %q
`, filepath.Join(dir, "state"), srv.Port(), filepath.Join(dir, "Mail")))
	cmd := exec.Command(testBinary(t), "--config", cfg, "sync")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	// Wait until the pass is blocked on a command after the login.
	for !sentAfterLogin(srv) {
		select {
		case err := <-done:
			t.Fatalf("sync ended before it was blocked: %v\n%s", err, out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if exitCode(t, err) == 0 {
			t.Errorf("an interrupted sync exited 0:\n%s", out.String())
		}
		t.Logf("after SIGTERM: %v\n%s", err, out.String())
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("mailmirror sync still ran 10 s after SIGTERM:\n%s", out.String())
	}
}

// sentAfterLogin reports whether a client sent a command after LOGIN.
func sentAfterLogin(srv *fakeimap.Server) bool {
	for _, c := range srv.Commands() {
		if !strings.Contains(c, " LOGIN ") {
			return true
		}
	}
	return false
}
