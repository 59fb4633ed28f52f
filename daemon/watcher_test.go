package daemon

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// makeFolder creates a Maildir folder (cur/, new/, tmp/) at dir.
func makeFolder(t *testing.T, dir string) {
	t.Helper()
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
}

// expect waits for an event of kind for dir, skipping others.
func expect(t *testing.T, w Watcher, kind EventKind, dir string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case ev := <-w.Events():
			if ev.Kind == kind && filepath.Clean(ev.Dir) == filepath.Clean(dir) {
				return
			}
			t.Logf("skipping event %+v", ev)
		case <-deadline:
			t.Fatalf("no event of kind %d for %s", kind, dir)
		}
	}
}

// quiet checks that no event arrives within a few polls.
func quiet(t *testing.T, w Watcher, wait time.Duration) {
	t.Helper()
	select {
	case ev := <-w.Events():
		t.Fatalf("unexpected event %+v", ev)
	case <-time.After(wait):
	}
}

func drain(w Watcher, wait time.Duration) {
	for {
		select {
		case <-w.Events():
		case <-time.After(wait):
			return
		}
	}
}

func testWatcher(t *testing.T, w Watcher, settle time.Duration) {
	root := t.TempDir()
	inbox := filepath.Join(root, "INBOX")
	makeFolder(t, inbox)
	// Let second-granularity times age (the poller's recheck).
	time.Sleep(settle)
	if err := w.Add(root); err != nil {
		t.Fatal(err)
	}
	if err := w.Add(inbox); err != nil {
		t.Fatal(err)
	}
	drain(w, settle)

	// A new message in new/.
	msg := filepath.Join(inbox, "new", "1.key")
	if err := os.WriteFile(msg, []byte("Subject: x\n\nbody\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	expect(t, w, Content, inbox)
	drain(w, settle)

	// A flag change: rename into cur/ with ":2,S", then to ":2,FS".
	seen := filepath.Join(inbox, "cur", "1.key:2,S")
	if err := os.Rename(msg, seen); err != nil {
		t.Fatal(err)
	}
	expect(t, w, Content, inbox)
	drain(w, settle)
	if err := os.Rename(seen, filepath.Join(inbox, "cur", "1.key:2,FS")); err != nil {
		t.Fatal(err)
	}
	expect(t, w, Content, inbox)
	drain(w, settle)

	// A write to an existing message is not a change of the folder.
	if err := os.WriteFile(filepath.Join(inbox, "cur", "1.key:2,FS"), []byte("Subject: y\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	quiet(t, w, 3*PollInterval)

	// A new folder below the root shows as a tree event for the root;
	// once added, its messages are seen.
	lists := filepath.Join(root, "Lists")
	if err := os.Mkdir(lists, 0o700); err != nil {
		t.Fatal(err)
	}
	expect(t, w, Tree, root)
	if err := w.Add(lists); err != nil {
		t.Fatal(err)
	}
	drain(w, settle)
	golang := filepath.Join(lists, "golang")
	makeFolder(t, golang)
	expect(t, w, Tree, lists)
	if err := w.Add(golang); err != nil {
		t.Fatal(err)
	}
	drain(w, settle)
	if err := os.WriteFile(filepath.Join(golang, "cur", "2.key:2,S"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	expect(t, w, Content, golang)

	// A deleted message.
	drain(w, settle)
	if err := os.Remove(filepath.Join(inbox, "cur", "1.key:2,FS")); err != nil {
		t.Fatal(err)
	}
	expect(t, w, Content, inbox)

	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-w.Events(); ok {
		t.Error("Events not closed after Close")
	}
}

func TestFSWatcher(t *testing.T) {
	w, err := NewFSWatcher()
	if err != nil {
		t.Skipf("fsnotify: %v", err)
	}
	defer w.Close()
	testWatcher(t, w, 50*time.Millisecond)
}

func TestPollWatcher(t *testing.T) {
	w := NewPollWatcher(PollInterval)
	defer w.Close()
	testWatcher(t, w, 3*PollInterval)
}

// TestPollWatcherCoarseTimes: with whole-second times, a change made in
// the same second as the previous look leaves the time unchanged; the
// poller reports the directory once more when the second is over.
func TestPollWatcherCoarseTimes(t *testing.T) {
	root := t.TempDir()
	inbox := filepath.Join(root, "INBOX")
	makeFolder(t, inbox)
	cur := filepath.Join(inbox, "cur")
	sec := time.Now().Truncate(time.Second)
	if err := os.Chtimes(cur, sec, sec); err != nil {
		t.Fatal(err)
	}
	w := NewPollWatcher(20 * time.Millisecond)
	defer w.Close()
	if err := w.Add(inbox); err != nil {
		t.Fatal(err)
	}
	// The time did not change, yet the directory was recent at Add: one
	// event once the second is over.
	expect(t, w, Content, inbox)
	quiet(t, w, 1500*time.Millisecond)
}

// TestPollWatcherBoundedDescriptors: the poller holds no descriptor per
// message (that is its point on macOS).
func TestPollWatcherBoundedDescriptors(t *testing.T) {
	fds := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skip("no /proc/self/fd")
		}
		return len(ents)
	}
	root := t.TempDir()
	inbox := filepath.Join(root, "INBOX")
	makeFolder(t, inbox)
	for i := 0; i < 500; i++ {
		os.WriteFile(filepath.Join(inbox, "cur", "m"+string(rune('a'+i%26))+time.Now().Format("150405.000000000")), nil, 0o600)
	}
	before := fds()
	w := NewPollWatcher(10 * time.Millisecond)
	defer w.Close()
	w.Add(root)
	w.Add(inbox)
	time.Sleep(50 * time.Millisecond)
	if after := fds(); after > before+2 {
		t.Errorf("descriptors went from %d to %d", before, after)
	}
}
