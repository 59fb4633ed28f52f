package daemon

import (
	"os"
	"path/filepath"
	"runtime"
	"time"
)

// EventKind says what a watcher saw.
type EventKind int

// Kinds of watcher events.
const (
	// Content: a file appeared, vanished or was renamed in the cur/ or new/
	// of the folder Event.Dir.
	Content EventKind = iota
	// Tree: an entry appeared, vanished or was renamed in the watched
	// directory Event.Dir itself (a folder may have been created or
	// removed).
	Tree
	// Overflow: events were lost; everything must be rescanned.
	Overflow
)

// Event is one change a Watcher reports.
type Event struct {
	Kind EventKind
	Dir  string // folder directory (Content) or watched directory (Tree); "" for Overflow
	// Path is the message file that appeared, vanished or was renamed
	// away (Content events of watchers that know it; "" otherwise).
	Path string
}

// Watcher reports changes under Maildir folders. Implementations: fsnotify
// (Linux, Windows, BSD) and a poller of directory modification times
// (macOS, where fsnotify's kqueue backend would open a descriptor per file).
type Watcher interface {
	// Events delivers changes until Close.
	Events() <-chan Event
	// Add watches dir (for entries created or removed in it) and, when
	// dir is a Maildir folder, its cur/ and new/ (for messages). Adding
	// a directory again is harmless and picks up a cur/ or new/ created
	// since.
	Add(dir string) error
	// Close stops watching and closes Events.
	Close() error
}

// PollInterval is how often the directory poller looks at modification
// times.
const PollInterval = 250 * time.Millisecond

// NewWatcher returns the watcher for this OS: the directory poller on macOS
// (or when poll is true), fsnotify elsewhere. When fsnotify cannot start
// (out of inotify instances), it falls back to the poller.
func NewWatcher(poll bool) (Watcher, error) {
	if poll || runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return NewPollWatcher(PollInterval), nil
	}
	w, err := NewFSWatcher()
	if err != nil {
		return NewPollWatcher(PollInterval), err
	}
	return w, nil
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// messageDirs are the subdirectories of a folder holding messages.
var messageDirs = [...]string{"cur", "new"}

func subdirs(dir string) []string {
	return []string{filepath.Join(dir, messageDirs[0]), filepath.Join(dir, messageDirs[1])}
}
