package daemon_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailmirror/mailmirror/internal/testenv"
	"github.com/mailmirror/mailmirror/maildir"
)

// proc is `mailmirror` (this test binary in CLI mode) running as a child.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	log    *syncBuffer
	lines  chan string
	exited chan error
}

// mailmirror builds the command line for the test binary in CLI mode.
func mailmirror(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), envCLI+"=1")
	return cmd
}

// startDaemon starts `mailmirror --config cfg run` and waits for msg=ready.
func startDaemon(t *testing.T, cfg string) *proc {
	t.Helper()
	p := &proc{t: t, cmd: mailmirror("--config", cfg, "run"), log: &syncBuffer{}, lines: make(chan string, 1024), exited: make(chan error, 1)}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout = p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			fmt.Fprintln(p.log, sc.Text())
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
		p.exited <- p.cmd.Wait()
	}()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("daemon output:\n%s", p.log.String())
		}
	})
	p.waitLine("msg=ready")
	return p
}

// waitLine waits for a log line containing s.
func (p *proc) waitLine(s string) {
	p.t.Helper()
	timeout := time.After(deadline)
	for {
		select {
		case l := <-p.lines:
			if strings.Contains(l, s) {
				return
			}
		case err := <-p.exited:
			p.exited <- err
			p.t.Fatalf("daemon exited (%v) before logging %q", err, s)
		case <-timeout:
			p.t.Fatalf("no log line with %q", s)
		}
	}
}

// stop sends SIGTERM and requires exit status 0.
func (p *proc) stop() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		if err != nil {
			p.t.Fatalf("daemon exited with %v after SIGTERM", err)
		}
	case <-time.After(deadline):
		p.t.Fatal("daemon did not exit after SIGTERM")
	}
}

func writeConfig(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestRunReloadsOnSIGHUP runs `mailmirror run` as a process: `sync` and
// `status` reach it over the control socket, a second `run` is refused,
// SIGHUP adds an account, a broken config on SIGHUP is refused and the old
// one kept, SIGTERM ends it with status 0.
func TestRunReloadsOnSIGHUP(t *testing.T) {
	d := testenv.Shared(t)
	u1, u2 := d.NewUser(t), d.NewUser(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.toml")
	base := fmt.Sprintf("state_dir = %q\n", filepath.Join(dir, "state")) +
		accountConfig("one", u1, d.IMAPPort, filepath.Join(dir, "one"), "")
	writeConfig(t, cfgPath, base)
	f := newFixture(t, u1, d.IMAPPort, "") // for messages and local reads
	raw1 := f.msg("for one")
	u1.Append(t, "INBOX", raw1)

	p := startDaemon(t, cfgPath)
	f.store = &maildir.Store{Root: filepath.Join(dir, "one"), Layout: maildir.LayoutVerbatim}
	if len(f.local("INBOX")[msgID(raw1)]) != 1 {
		t.Fatal("account one was not synced before msg=ready")
	}

	// mailmirror sync asks the daemon.
	out, err := mailmirror("--config", cfgPath, "sync").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "asking it to sync") || !strings.Contains(string(out), "one: down: ") {
		t.Errorf("sync while the daemon runs: %v\n%s", err, out)
	}
	// mailmirror status shows it.
	out, err = mailmirror("--config", cfgPath, "status").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "daemon: running") || !strings.Contains(string(out), "one (imap)") ||
		!strings.Contains(string(out), "connection:  connected") || !strings.Contains(string(out), "INBOX") {
		t.Errorf("status: %v\n%s", err, out)
	}
	// A second daemon on the same state is refused.
	out, err = mailmirror("--config", cfgPath, "run").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "another mailmirror is running on this state dir") {
		t.Errorf("second run: %v\n%s", err, out)
	}

	// SIGHUP with a second account.
	raw2 := f.msg("for two")
	u2.Append(t, "INBOX", raw2)
	writeConfig(t, cfgPath, base+accountConfig("two", u2, d.IMAPPort, filepath.Join(dir, "two"), ""))
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	p.waitLine("configuration reloaded")
	two := *f
	two.store = &maildir.Store{Root: filepath.Join(dir, "two"), Layout: maildir.LayoutVerbatim}
	eventually(t, func() string { return "account two never synced after SIGHUP" }, func() bool {
		return len(two.local("INBOX")[msgID(raw2)]) == 1
	})

	// A broken config is refused; the daemon keeps running both.
	writeConfig(t, cfgPath, base+"[[account]]\nname = \"broken\"\n")
	p.cmd.Process.Signal(syscall.SIGHUP)
	p.waitLine("keeping the old one")
	raw3 := f.msg("still pushed")
	u1.Append(t, "INBOX", raw3)
	eventually(t, func() string { return "account one stopped syncing after a bad reload" }, func() bool {
		return len(f.local("INBOX")[msgID(raw3)]) == 1
	})

	p.stop()
	if !strings.Contains(p.log.String(), "msg=stopped") {
		t.Errorf("no clean stop in the log")
	}
	// status without a daemon.
	writeConfig(t, cfgPath, base)
	out, err = mailmirror("--config", cfgPath, "status", "--json").CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"running": false`) || !strings.Contains(string(out), `"name": "INBOX"`) {
		t.Errorf("status --json without a daemon: %v\n%s", err, out)
	}
}

// TestRunWithoutAccounts: with no accounts, run logs that there is nothing
// to do, gets ready and waits for a signal.
func TestRunWithoutAccounts(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "config.toml")
	writeConfig(t, cfgPath, fmt.Sprintf("state_dir = %q\n", filepath.Join(dir, "state")))
	p := startDaemon(t, cfgPath)
	if !strings.Contains(p.log.String(), "nothing to do") {
		t.Errorf("log: %s", p.log.String())
	}
	p.stop()
}
