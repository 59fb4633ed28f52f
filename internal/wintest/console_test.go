//go:build linux

package wintest

import (
	"bufio"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mailmirror/mailmirror/internal/testenv"
)

// Ctrl-C in the console the daemon runs in: Wine turns SIGINT on a
// terminal into CTRL_C_EVENT, and the daemon stops gracefully (it logs
// "stopped", exits 0 and closes its state database), where a killed one
// leaves its state database's -wal file.
func TestWineConsoleCtrlC(t *testing.T) {
	w := newWin(t)
	script, err := exec.LookPath("script")
	if err != nil {
		t.Fatalf("script (util-linux) gives the daemon a terminal, hence a Windows console: %v", err)
	}
	u := testenv.Shared(t).NewUser(t)
	fill(t, u, rand.New(rand.NewPCG(6, 20)), "INBOX", 3)
	dev := newDevice(t, u.Name, u.Password, u.Server().IMAPPort, "")
	wal := filepath.Join(dev.dir, "state", "state.db-wal")

	// Killed: the -wal file stays, so its absence below means something.
	d := w.start("--config", dev.winCfg, "run")
	d.waitReady(t)
	d.kill()
	if _, err := os.Stat(wal); err != nil {
		t.Errorf("a killed daemon left no %s (%v): the clean-stop checks prove nothing", wal, err)
	}

	var line strings.Builder
	for _, a := range []string{wine64, w.exe, "--config", dev.winCfg, "run"} {
		line.WriteString(" '" + strings.ReplaceAll(a, "'", `'\''`) + "'")
	}
	cmd := exec.Command(script, "-qefc", "exec"+line.String(), "/dev/null")
	cmd.Env = wineEnv(w.prefix)
	cmd.Stdin = nil
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var log strings.Builder
	ready, stopped := make(chan struct{}), make(chan struct{})
	exited := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		r, s := false, false
		for sc.Scan() {
			mu.Lock()
			log.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if !r && strings.Contains(sc.Text(), "msg=ready") {
				r = true
				close(ready)
			}
			if !s && strings.Contains(sc.Text(), "msg=stopped") {
				s = true
				close(stopped)
			}
		}
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-exited
		}
		mu.Lock()
		t.Logf("daemon on a console:\n%s", log.String())
		mu.Unlock()
	})
	select {
	case <-ready:
	case err := <-exited:
		exited <- err
		t.Fatalf("the daemon exited (%v) before it was ready", err)
	case <-time.After(time.Minute):
		t.Fatal("the daemon was not ready within a minute")
	}
	// SIGINT to the Windows process itself, as the terminal sends it on
	// Ctrl-C to its foreground process.
	b, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/task/" + strconv.Itoa(cmd.Process.Pid) + "/children")
	if err != nil {
		t.Fatal(err)
	}
	pids := strings.Fields(string(b))
	if len(pids) != 1 {
		t.Fatalf("script has children %q, want the daemon", pids)
	}
	pid, _ := strconv.Atoi(pids[0])
	if err := syscall.Kill(pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Errorf("the daemon exited with %v after Ctrl-C", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the daemon did not stop within a minute of Ctrl-C")
	}
	select {
	case <-stopped:
	default:
		t.Errorf("the daemon did not log that it stopped")
	}
	if _, err := os.Stat(wal); !os.IsNotExist(err) {
		t.Errorf("after Ctrl-C the state database is not closed: %s: %v", wal, err)
	}
}
