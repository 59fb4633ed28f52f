//go:build linux

package wintest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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

// Environment of the package.
const (
	// EnvPrefix names the Wine prefix that scripts/wine-setup.sh made.
	envPrefix = "MAILMIRROR_WINEPREFIX"
	// EnvRequire makes the tests fail instead of skip without Wine.
	envRequire = "MAILMIRROR_REQUIRE_WINE"
	wine64     = "/usr/lib/wine/wine64"
	wineserver = "/usr/lib/wine/wineserver"
)

var (
	exeOnce sync.Once
	exePath string
	exeErr  error
	exeDir  string
)

func TestMain(m *testing.M) {
	prefix := os.Getenv(envPrefix)
	if prefix != "" {
		// One wineserver for the whole run, so that each Windows process
		// does not start one (and Wine's own services) anew: seconds each.
		cmd := exec.Command(wineserver, "-p")
		cmd.Env = wineEnv(prefix)
		_ = cmd.Run() // it forks itself off; without Wine the tests skip
		// Start Wine's own processes (services.exe, explorer.exe, …) now,
		// with no pipes to inherit: started by a test's command they would
		// hold its output open after it exited.
		boot := exec.Command(wine64, "wineboot")
		boot.Env = wineEnv(prefix)
		_ = boot.Run()
	}
	code := testenv.Main(m)
	if prefix != "" {
		// Ends every Windows process the tests started (a service) and
		// the wineserver.
		cmd := exec.Command(wineserver, "-k")
		cmd.Env = wineEnv(prefix)
		_ = cmd.Run()
	}
	if exeDir != "" {
		os.RemoveAll(exeDir)
	}
	os.Exit(code)
}

// requireWine returns the Wine prefix, or skips t (fails it under CI or
// $MAILMIRROR_REQUIRE_WINE) when there is none.
func requireWine(t *testing.T) string {
	t.Helper()
	prefix := os.Getenv(envPrefix)
	why := ""
	switch {
	case prefix == "":
		why = "$" + envPrefix + " is not set (make a prefix with scripts/wine-setup.sh PREFIX, as root the first time)"
	default:
		if _, err := os.Stat(wine64); err != nil {
			why = "no Wine: " + err.Error()
		} else if _, err := os.Stat(filepath.Join(prefix, "drive_c", "windows", "system32", "bcryptprimitives.dll")); err != nil {
			why = "the Wine prefix " + prefix + " was not set up by scripts/wine-setup.sh: " + err.Error()
		}
	}
	if why != "" {
		ci, _ := strconv.ParseBool(os.Getenv("CI"))
		req, _ := strconv.ParseBool(os.Getenv(envRequire))
		if ci || req {
			t.Fatalf("Windows tests under Wine: %s; required because CI or %s is set", why, envRequire)
		}
		t.Skipf("Windows tests under Wine skipped: %s (set %s=1 to fail instead)", why, envRequire)
	}
	return prefix
}

func wineEnv(prefix string) []string {
	return append(os.Environ(), "WINEPREFIX="+prefix, "WINEDEBUG=-all")
}

// winExe builds mailmirror.exe once, into a directory whose name has a
// space.
func winExe(t *testing.T) string {
	t.Helper()
	exeOnce.Do(func() {
		exeDir, exeErr = os.MkdirTemp("", "mailmirror-wintest-")
		if exeErr != nil {
			return
		}
		exePath = filepath.Join(exeDir, "Program Files", "mailmirror.exe")
		cmd := exec.Command("go", "build", "-o", exePath, "github.com/mailmirror/mailmirror")
		cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			exeErr = fmt.Errorf("go build for windows/amd64: %v\n%s", err, out)
		}
	})
	if exeErr != nil {
		t.Fatal(exeErr)
	}
	return exePath
}

// winPath is a Linux path as the Windows program sees it (Wine maps / to
// Z:\).
func winPath(p string) string { return `Z:` + strings.ReplaceAll(p, "/", `\`) }

// win is a Windows program run under Wine for one test.
type win struct {
	t      *testing.T
	prefix string
	exe    string
	env    []string // extra environment
}

func newWin(t *testing.T) *win {
	t.Helper()
	prefix := requireWine(t)
	return &win{t: t, prefix: prefix, exe: winExe(t)}
}

func (w *win) command(ctx context.Context, prog string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, wine64, append([]string{prog}, args...)...)
	cmd.Env = append(wineEnv(w.prefix), w.env...)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// run runs mailmirror.exe with args to its end (at most two minutes) and
// returns its output and exit code.
func (w *win) run(args ...string) (stdout, stderr string, code int) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := w.command(ctx, w.exe, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if errors.Is(err, exec.ErrWaitDelay) && cmd.ProcessState != nil {
		// It exited; a Wine process it started holds the output open.
		err = nil
		code = cmd.ProcessState.ExitCode()
	}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		w.t.Fatalf("mailmirror.exe %q: %v", args, err)
	}
	w.t.Logf("mailmirror.exe %s: exit %d\n%s%s", strings.Join(args, " "), code, o.String(), e.String())
	return o.String(), e.String(), code
}

// mustRun is run that fails the test on a non-zero exit.
func (w *win) mustRun(args ...string) string {
	w.t.Helper()
	out, _, code := w.run(args...)
	if code != 0 {
		w.t.Fatalf("mailmirror.exe %s: exit %d", strings.Join(args, " "), code)
	}
	return out
}

// daemon is a running `mailmirror.exe run`.
type daemon struct {
	cmd     *exec.Cmd
	mu      sync.Mutex
	log     bytes.Buffer
	ready   chan struct{}
	isReady bool
	exited  chan error
}

// start starts mailmirror.exe with args (a daemon, or a sync to be
// killed) and copies its output; the test's end kills it.
func (w *win) start(args ...string) *daemon {
	w.t.Helper()
	d := &daemon{cmd: w.command(context.Background(), w.exe, args...), ready: make(chan struct{}), exited: make(chan error, 1)}
	d.cmd.Stdout = d
	d.cmd.Stderr = d
	if err := d.cmd.Start(); err != nil {
		w.t.Fatal(err)
	}
	// Wait returns at most WaitDelay after the process ended, even when
	// a Wine helper holds on to the output pipe.
	go func() { d.exited <- d.cmd.Wait() }()
	w.t.Cleanup(func() {
		d.kill()
		w.t.Logf("mailmirror.exe %s:\n%s", strings.Join(args, " "), d.output())
	})
	return d
}

// Write collects the process's output and notices its readiness line.
func (d *daemon) Write(b []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.log.Write(b)
	if !d.isReady && strings.Contains(d.log.String(), "msg=ready") {
		d.isReady = true
		close(d.ready)
	}
	return len(b), nil
}

func (d *daemon) output() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.String()
}

func (d *daemon) waitReady(t *testing.T) {
	t.Helper()
	select {
	case <-d.ready:
	case err := <-d.exited:
		d.exited <- err
		t.Fatalf("the daemon exited (%v) before it was ready:\n%s", err, d.output())
	case <-time.After(time.Minute):
		t.Fatalf("the daemon was not ready within a minute:\n%s", d.output())
	}
}

// kill kills the Windows process the way taskkill /F does (Wine ends it
// on SIGKILL of its Unix process) and waits for it.
func (d *daemon) kill() error {
	if d.cmd.ProcessState == nil {
		_ = d.cmd.Process.Signal(syscall.SIGKILL)
	}
	err := <-d.exited
	d.exited <- err
	return err
}

// eventually polls cond every 200 ms for up to within and fails with
// what when it never holds.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(within); ; time.Sleep(200 * time.Millisecond) {
		if cond() {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("not within %s: %s", within, what)
		}
	}
}
