package testenv

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// shared is the package-wide server started by Shared and stopped by Main.
var shared struct {
	mu  sync.Mutex
	d   *Dovecot
	err error // start failure, returned to every later caller
}

// Shared returns the test package's server, starting it on first use. It
// skips or fails t as RequireDovecot does when dovecot is missing, and fails
// t when the server does not start. The package's TestMain must call Main so
// that the server is stopped.
func Shared(t testing.TB) *Dovecot {
	t.Helper()
	RequireDovecot(t)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.d == nil && shared.err == nil {
		shared.d, shared.err = StartDovecot(nil)
	}
	if shared.err != nil {
		t.Fatalf("start the shared Dovecot: %v", shared.err)
	}
	return shared.d
}

// NewDovecot starts a server of the test's own (see StartDovecot), stopped
// when the test ends; a failed test logs the server's warnings and errors.
// It skips or fails t as RequireDovecot does.
func NewDovecot(t testing.TB, opts *DovecotOptions) *Dovecot {
	t.Helper()
	RequireDovecot(t)
	d, err := StartDovecot(opts)
	if err != nil {
		t.Fatalf("start Dovecot: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, l := range logProblems(d.LogPath) {
				t.Logf("dovecot.log: %s", l)
			}
		}
		d.Stop()
	})
	return d
}

// Main runs the tests and then stops the shared server; a failed run prints
// the server's error lines. Call it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	shared.mu.Lock()
	d := shared.d
	shared.d, shared.err = nil, nil
	shared.mu.Unlock()
	if d != nil {
		if code != 0 {
			printLogProblems(d.LogPath)
		}
		d.Stop()
	}
	return code
}

// printLogProblems copies the warnings and errors of a Dovecot log to
// standard error, so that CI output shows server-side causes of failures.
func printLogProblems(path string) {
	lines := logProblems(path)
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(os.Stderr, "testenv: problems in %s:\n", path)
	for _, l := range lines {
		fmt.Fprintln(os.Stderr, "  "+l)
	}
}

// logProblems returns the warning, error, fatal and panic lines of a Dovecot
// log, leaving out the master's note that Stop's SIGTERM killed it.
func logProblems(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, "master: Warning: Killed with signal") {
			continue
		}
		for _, level := range []string{": Warning: ", ": Error: ", ": Fatal: ", ": Panic: "} {
			if strings.Contains(line, level) {
				out = append(out, line)
				break
			}
		}
	}
	return out
}

// RequireDovecot skips t when the dovecot binary is missing, or fails it
// when CI=true or MAILMIRROR_REQUIRE_DOVECOT=1: in CI a test that would skip
// proves nothing.
func RequireDovecot(t testing.TB) {
	t.Helper()
	_, err := findDovecot()
	skip, fail := skipOrFail(os.Getenv("CI"), os.Getenv(EnvRequire), err == nil)
	switch {
	case fail:
		t.Fatalf("%v; required because CI or %s is set", err, EnvRequire)
	case skip:
		t.Skipf("%v; skipping (set %s=1 to fail instead)", err, EnvRequire)
	}
}

// skipOrFail decides what a test does about dovecot from the values of $CI
// and $MAILMIRROR_REQUIRE_DOVECOT and whether dovecot was found: nothing,
// skip, or fail. Both variables count when they parse as a true boolean
// ("1", "true", ...).
func skipOrFail(ciEnv, requireEnv string, haveDovecot bool) (skip, fail bool) {
	if haveDovecot {
		return false, false
	}
	ci, _ := strconv.ParseBool(ciEnv)
	req, _ := strconv.ParseBool(requireEnv)
	if ci || req {
		return false, true
	}
	return true, false
}
