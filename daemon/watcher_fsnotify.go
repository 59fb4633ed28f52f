package daemon

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/fsnotify/fsnotify"
)

// FSWatcher is a Watcher on fsnotify (inotify on Linux, ReadDirectoryChangesW
// on Windows). It watches directories only: a folder costs three watches
// (the folder, cur/ and new/) whatever number of messages it holds.
type FSWatcher struct {
	w      *fsnotify.Watcher
	events chan Event
	done   chan struct{}
	wg     sync.WaitGroup

	mu      sync.Mutex
	content map[string]string // watched cur/ or new/ → folder directory
	closed  bool
}

// NewFSWatcher starts an fsnotify watcher.
func NewFSWatcher() (*FSWatcher, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watch the Maildir: %w", err)
	}
	f := &FSWatcher{w: w, events: make(chan Event, 64), done: make(chan struct{}), content: map[string]string{}}
	f.wg.Add(1)
	go f.loop()
	return f, nil
}

// Events implements Watcher.
func (f *FSWatcher) Events() <-chan Event { return f.events }

// Add implements Watcher.
func (f *FSWatcher) Add(dir string) error {
	dir = filepath.Clean(dir)
	if err := f.w.Add(dir); err != nil {
		return fmt.Errorf("watch %s: %w", dir, err)
	}
	for _, sub := range subdirs(dir) {
		if !isDir(sub) {
			continue
		}
		if err := f.w.Add(sub); err != nil {
			return fmt.Errorf("watch %s: %w", sub, err)
		}
		f.mu.Lock()
		f.content[sub] = dir
		f.mu.Unlock()
	}
	return nil
}

// Close implements Watcher.
func (f *FSWatcher) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	f.mu.Unlock()
	close(f.done)
	err := f.w.Close()
	f.wg.Wait()
	close(f.events)
	return err
}

func (f *FSWatcher) loop() {
	defer f.wg.Done()
	for {
		select {
		case <-f.done:
			return
		case e, ok := <-f.w.Events:
			if !ok {
				return
			}
			if ev, ok := f.translate(e); ok {
				f.send(ev)
			}
		case err, ok := <-f.w.Errors:
			if !ok {
				return
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				f.send(Event{Kind: Overflow})
			}
		}
	}
}

func (f *FSWatcher) send(ev Event) {
	select {
	case f.events <- ev:
	case <-f.done:
	}
}

// translate maps an fsnotify event to a folder event.
func (f *FSWatcher) translate(e fsnotify.Event) (Event, bool) {
	if e.Op == fsnotify.Chmod || e.Op == fsnotify.Write {
		return Event{}, false
	}
	parent := filepath.Dir(e.Name)
	f.mu.Lock()
	folder, isContent := f.content[parent]
	if !isContent {
		if _, self := f.content[e.Name]; self && e.Has(fsnotify.Remove|fsnotify.Rename) {
			delete(f.content, e.Name)
		}
	}
	f.mu.Unlock()
	if isContent {
		return Event{Kind: Content, Dir: folder, Path: e.Name}, true
	}
	if e.Has(fsnotify.Create | fsnotify.Remove | fsnotify.Rename) {
		return Event{Kind: Tree, Dir: parent}, true
	}
	return Event{}, false
}
