package cli

import (
	"bufio"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The demo, run as a user would: it reaches the ready line, receives a
// pushed message, and exits 0 on SIGINT.
func TestDemoRunsPushesAndStopsOnSIGINT(t *testing.T) {
	exe := testBinary(t)
	dir := filepath.Join(t.TempDir(), "demo")
	cmd := exec.Command(exe, "demo", "--dir", dir, "--every", "300ms")
	stderr, _ := cmd.StderrPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var out strings.Builder
	go io.Copy(&out, stdout)
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var log []string
	ready, pushed := false, false
	deadline := time.After(2 * time.Minute)
	for !pushed {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("demo exited early:\n%s\n%s", strings.Join(log, "\n"), out.String())
			}
			log = append(log, l)
			if strings.Contains(l, "msg=ready") {
				ready = true
			}
			if ready && strings.Contains(l, "account=demo ") && strings.Contains(l, "down: 1 new") {
				pushed = true
			}
		case <-deadline:
			t.Fatalf("no ready line and pushed message within 2 minutes (ready=%v):\n%s", ready, strings.Join(log, "\n"))
		}
	}
	cmd.Process.Signal(syscall.SIGINT)
	for range lines {
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("demo did not exit 0 on SIGINT: %v\n%s", err, strings.Join(log, "\n"))
	}
	if !strings.Contains(out.String(), "mutt -f "+filepath.Join(dir, "Mail", "demo", "INBOX")) {
		t.Errorf("demo did not say how to look:\n%s", out.String())
	}
}
