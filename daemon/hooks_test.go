package daemon

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// readRuns parses the hook's log file: one line "NEW|ACCOUNT|FOLDERS" per run.
func readRuns(t *testing.T, path string) (runs, total int, folders map[string]bool) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	folders = map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if line == "" {
			continue
		}
		parts := strings.SplitN(line, "|", 3)
		n, err := strconv.Atoi(parts[0])
		if err != nil || len(parts) != 3 {
			t.Fatalf("bad hook line %q", line)
		}
		runs++
		total += n
		for _, f := range strings.Split(parts[2], ",") {
			folders[f] = true
		}
	}
	return runs, total, folders
}

func TestHookCoalescesABurst(t *testing.T) {
	out := filepath.Join(t.TempDir(), "runs")
	// The folders arrive one per line; the hook joins them with commas.
	cmd := `printf '%s|%s|%s\n' "$MAILMIRROR_NEW" "$MAILMIRROR_ACCOUNT" "$(echo "$MAILMIRROR_FOLDER" | paste -sd, -)" >> ` + out
	var logs syncBuffer
	h := newHookRunner(cmd, "work", slog.New(slog.NewTextHandler(&logs, nil)), 200*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	go h.run(ctx)
	for i := 0; i < 500; i++ {
		folder := "INBOX"
		if i%5 == 0 {
			folder = "Lists/golang"
		}
		h.add(map[string]int{folder: 1})
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		// The run is logged once its command has ended, after the
		// output was written.
		_, total, _ := readRuns(t, out)
		if total == 500 && strings.Contains(logs.String(), "on_new_mail ran") || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-h.done
	runs, total, folders := readRuns(t, out)
	if total != 500 {
		t.Fatalf("hooks reported %d new messages, want 500\n%s", total, logs.String())
	}
	if runs > 3 {
		t.Errorf("%d hook runs for one burst of 500, want a few", runs)
	}
	if !folders["INBOX"] || !folders["Lists/golang"] {
		t.Errorf("folders %v", folders)
	}
	if !strings.Contains(logs.String(), "on_new_mail ran") {
		t.Errorf("log: %s", logs.String())
	}
}

func TestHookFailureIsLogged(t *testing.T) {
	var logs syncBuffer
	h := newHookRunner("echo out; echo oops >&2; exit 3", "work", slog.New(slog.NewTextHandler(&logs, nil)), time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go h.run(ctx)
	h.add(map[string]int{"INBOX": 2})
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs.String(), "on_new_mail failed") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	l := logs.String()
	for _, want := range []string{"on_new_mail failed", "exit status 3", "stdout=out", "stderr=oops"} {
		if !strings.Contains(l, want) {
			t.Errorf("log lacks %q:\n%s", want, l)
		}
	}
	// It keeps working after a failure.
	h.add(map[string]int{"INBOX": 1})
	for strings.Count(logs.String(), "on_new_mail failed") < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := strings.Count(logs.String(), "on_new_mail failed"); n != 2 {
		t.Errorf("%d failed runs logged, want 2", n)
	}
}

func TestHookNeverOverlaps(t *testing.T) {
	dir := t.TempDir()
	lock := filepath.Join(dir, "lock")
	out := filepath.Join(dir, "overlaps")
	// mkdir is atomic: a second concurrent run would fail to take the lock.
	cmd := `mkdir ` + lock + ` 2>/dev/null || echo overlap >> ` + out + `; sleep 0.2; rmdir ` + lock + `; echo "$MAILMIRROR_NEW" >> ` + filepath.Join(dir, "runs")
	var logs syncBuffer
	h := newHookRunner(cmd, "work", slog.New(slog.NewTextHandler(&logs, nil)), time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	go h.run(ctx)
	for i := 0; i < 10; i++ {
		h.add(map[string]int{"INBOX": 1})
		time.Sleep(50 * time.Millisecond)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		data, _ := os.ReadFile(filepath.Join(dir, "runs"))
		n := 0
		for _, l := range strings.Fields(string(data)) {
			v, _ := strconv.Atoi(l)
			n += v
		}
		if n == 10 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-h.done
	if data, err := os.ReadFile(out); err == nil {
		t.Errorf("hook runs overlapped: %s", data)
	}
}
