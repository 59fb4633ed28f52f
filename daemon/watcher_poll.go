package daemon

import (
	"os"
	"path/filepath"
	"sync"
	"time"
)

// PollWatcher is a Watcher that compares the modification times of the
// watched directories every interval. It holds no descriptor, so its cost
// is bounded by the number of folders (three stat calls per folder per
// interval), never by the number of messages: it is the watcher used on
// macOS, where fsnotify's kqueue backend opens one descriptor per file.
//
// A rename inside cur/ (a flag change) updates cur/'s modification time on
// every file system mailmirror supports. On file systems with one-second
// timestamps (HFS+), a change made in the same second as the previous look
// would keep the time unchanged, so a directory seen with a whole-second
// time that was then less than a second old is reported once more when that
// second has passed.
type PollWatcher struct {
	interval time.Duration
	events   chan Event
	done     chan struct{}
	wg       sync.WaitGroup

	mu     sync.Mutex
	dirs   map[string]*polled
	closed bool
}

type polled struct {
	folder  string // for cur/ and new/: the folder directory; "" for a watched directory itself
	mtime   time.Time
	recheck bool // a coarse time seen while it was recent: look once more later
}

// NewPollWatcher starts a poller looking every interval.
func NewPollWatcher(interval time.Duration) *PollWatcher {
	p := &PollWatcher{interval: interval, events: make(chan Event, 64), done: make(chan struct{}), dirs: map[string]*polled{}}
	p.wg.Add(1)
	go p.loop()
	return p
}

// Events implements Watcher.
func (p *PollWatcher) Events() <-chan Event { return p.events }

// Add implements Watcher.
func (p *PollWatcher) Add(dir string) error {
	dir = filepath.Clean(dir)
	st, err := os.Stat(dir)
	if err != nil {
		return err
	}
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.dirs[dir]; !ok {
		p.dirs[dir] = newPolled("", st.ModTime(), now)
	}
	for _, sub := range subdirs(dir) {
		if _, ok := p.dirs[sub]; ok {
			continue
		}
		if st, err := os.Stat(sub); err == nil && st.IsDir() {
			p.dirs[sub] = newPolled(dir, st.ModTime(), now)
		}
	}
	return nil
}

func newPolled(folder string, mtime, now time.Time) *polled {
	return &polled{folder: folder, mtime: mtime, recheck: coarseRecent(mtime, now)}
}

// coarseRecent reports a whole-second modification time less than a
// second old: later changes in that second would not change it.
func coarseRecent(mtime, now time.Time) bool {
	return mtime.Nanosecond() == 0 && now.Sub(mtime) < time.Second
}

// Close implements Watcher.
func (p *PollWatcher) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	close(p.done)
	p.wg.Wait()
	close(p.events)
	return nil
}

func (p *PollWatcher) loop() {
	defer p.wg.Done()
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-t.C:
		}
		for _, ev := range p.poll() {
			select {
			case p.events <- ev:
			case <-p.done:
				return
			}
		}
	}
}

// poll looks at every directory once and returns the events, one per
// folder or directory.
func (p *PollWatcher) poll() []Event {
	p.mu.Lock()
	paths := make([]string, 0, len(p.dirs))
	for d := range p.dirs {
		paths = append(paths, d)
	}
	p.mu.Unlock()
	now := time.Now()
	seen := map[Event]bool{}
	var out []Event
	emit := func(ev Event) {
		if !seen[ev] {
			seen[ev] = true
			out = append(out, ev)
		}
	}
	for _, d := range paths {
		st, err := os.Stat(d)
		p.mu.Lock()
		e := p.dirs[d]
		if e == nil {
			p.mu.Unlock()
			continue
		}
		if err != nil || !st.IsDir() {
			delete(p.dirs, d)
			p.mu.Unlock()
			if e.folder != "" {
				emit(Event{Kind: Content, Dir: e.folder})
			} else {
				emit(Event{Kind: Tree, Dir: filepath.Dir(d)})
			}
			continue
		}
		changed := false
		if m := st.ModTime(); !m.Equal(e.mtime) {
			e.mtime = m
			e.recheck = coarseRecent(m, now)
			changed = true
		} else if e.recheck && !coarseRecent(m, now) {
			e.recheck = false
			changed = true
		}
		p.mu.Unlock()
		if !changed {
			continue
		}
		if e.folder != "" {
			emit(Event{Kind: Content, Dir: e.folder})
		} else {
			emit(Event{Kind: Tree, Dir: d})
		}
	}
	return out
}
