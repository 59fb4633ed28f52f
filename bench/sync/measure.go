//go:build unix

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/mailmirror/mailmirror/bench/corpus"
)

// result is one measured sync run.
type result struct {
	Seconds   float64 `json:"seconds"`
	RSSKB     int64   `json:"peak_rss_kb"`      // 0 when not measured (in-process run)
	ServerOut int64   `json:"server_out_bytes"` // bytes Dovecot sent
	ServerIn  int64   `json:"server_in_bytes"`  // bytes Dovecot received
	Sessions  int     `json:"sessions"`         // IMAP sessions the run opened
	Bodies    int64   `json:"bodies_fetched"`   // FETCH items returning a body
	InProcess bool    `json:"in_process,omitempty"`
	Error     string  `json:"error,omitempty"`
}

// total is the bytes on the wire both ways.
func (r *result) total() int64 { return r.ServerOut + r.ServerIn }

// settleTimeout bounds the wait for Dovecot to log the sessions of a run
// that has ended.
const settleTimeout = time.Minute

// childStats is what a run reports about itself.
type childStats struct {
	RSSKB int64         `json:"rss_kb"` // peak RSS; 0 when unknown
	Wall  time.Duration `json:"wall"`   // from start to exit; 0 when unknown
	Exit  int           `json:"exit"`   // exit status
}

// measure runs f (one sync) and records its wall time and the server's
// counters for it. Dirty pages of the previous run are flushed first, so
// that a run does not pay for its predecessor's writes.
func measure(srv *corpus.Server, f func() (childStats, error)) (*result, error) {
	syscall.Sync()
	before, err := srv.SettledCounters(0, settleTimeout)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	cs, runErr := f()
	wall := time.Since(start)
	if cs.Wall > 0 {
		wall = cs.Wall
	}
	// Every successful run logs in at least once: wait for that session's
	// lines.
	least := before.IMAPSessions + before.POP3Sessions
	if runErr == nil {
		least++
	}
	after, err := srv.SettledCounters(least, settleTimeout)
	if err != nil {
		return nil, err
	}
	r := &result{
		Seconds:   wall.Seconds(),
		RSSKB:     cs.RSSKB,
		ServerOut: after.Out - before.Out,
		ServerIn:  after.In - before.In,
		Sessions:  after.IMAPSessions - before.IMAPSessions,
		Bodies:    after.BodyCount - before.BodyCount,
	}
	if runErr != nil {
		r.Error = runErr.Error()
	}
	return r, nil
}

// launcherPath is the launcher binary (bench/sync/launcher) that
// buildLauncher built; runChild starts every child through it.
var launcherPath string

// buildLauncher builds bench/sync/launcher from the module at repo into
// dir.
func buildLauncher(dir, repo string) error {
	bin := filepath.Join(dir, "launcher")
	build := exec.Command("go", "build", "-o", bin, "./bench/sync/launcher")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./bench/sync/launcher: %v: %s", err, out)
	}
	launcherPath = bin
	return nil
}

// runChild runs cmd to completion through the launcher and returns its
// statistics. Its output is returned in the error when it fails, else
// printed when show is set and it holds more than known warnings.
func runChild(name string, cmd *exec.Cmd, show bool) (childStats, error) {
	var cs childStats
	pr, pw, err := os.Pipe()
	if err != nil {
		return cs, err
	}
	defer pr.Close()
	l := exec.Command(launcherPath, cmd.Args...)
	l.Args[1] = cmd.Path
	l.Env = cmd.Env
	l.Dir = cmd.Dir
	var out bytes.Buffer
	l.Stdout, l.Stderr = &out, &out
	l.ExtraFiles = []*os.File{pw}
	if err := l.Start(); err != nil {
		pw.Close()
		return cs, err
	}
	pw.Close()
	rep, readErr := io.ReadAll(pr)
	waitErr := l.Wait()
	text := strings.TrimSpace(out.String())
	if waitErr != nil || readErr != nil {
		return cs, fmt.Errorf("%s: launcher: %v %v: %s", name, waitErr, readErr, lastLines(text, 10))
	}
	if err := json.Unmarshal(rep, &cs); err != nil {
		return cs, fmt.Errorf("%s: launcher report %q: %w", name, rep, err)
	}
	if cs.Exit != 0 {
		return cs, fmt.Errorf("%s: exit status %d: %s", name, cs.Exit, lastLines(text, 10))
	}
	var kept []string
	for _, l := range strings.Split(text, "\n") {
		if l != "" && !knownNoise(l) {
			kept = append(kept, l)
		}
	}
	if show && len(kept) > 0 {
		fmt.Fprintf(os.Stderr, "  %s said: %s\n", name, lastLines(strings.Join(kept, "\n"), 5))
	}
	return cs, nil
}

// knownNoise tells output lines that are expected and not worth showing.
func knownNoise(line string) bool {
	// mbsync over plain IMAP on loopback, as configured.
	return strings.Contains(line, "Password is being sent in the clear")
}

// launcherFloor measures the launcher's own share of a child's peak RSS:
// the ru_maxrss of /bin/true started through it. Peaks at or below it are
// not exact.
func launcherFloor() int64 {
	cs, err := runChild("true", exec.Command("true"), false)
	if err != nil {
		return 0
	}
	return cs.RSSKB
}

// lastLines keeps the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("(%d lines before)", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n  ")
}

// median returns the run of median wall time (the upper one of an even
// count).
func median(rs []*result) *result {
	s := slices.Clone(rs)
	slices.SortFunc(s, func(a, b *result) int {
		switch {
		case a.Seconds < b.Seconds:
			return -1
		case a.Seconds > b.Seconds:
			return 1
		}
		return 0
	})
	return s[len(s)/2]
}

// describe is a one-line account of a run.
func (r *result) describe() string {
	rss := "RSS n/a (in-process)"
	if !r.InProcess {
		rss = fmt.Sprintf("peak RSS %.1f MB", float64(r.RSSKB)/1024)
	}
	s := fmt.Sprintf("%.3fs, %s, server sent %s, received %s, %d session(s), %d bodies",
		r.Seconds, rss, human(r.ServerOut), human(r.ServerIn), r.Sessions, r.Bodies)
	if r.Error != "" {
		s += "\n  FAILED: " + r.Error
	}
	return s
}

// human formats a byte count.
func human(n int64) string {
	switch {
	case n >= 10e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 10e3:
		return fmt.Sprintf("%.1f KB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}
