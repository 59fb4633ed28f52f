package maildir

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Entry is one message file found in a folder.
type Entry struct {
	Key   string // unique part of the name, stable across flag changes and moves
	Flags string // flag letters of the ":2," info part, sorted
	Sub   string // "new" or "cur"
	Name  string // file name
}

// ParseName splits a message file name into key and flag letters. Names
// without a ":2," info part have no flags; an experimental or unknown info
// part is ignored (the name is kept as it is until flags are changed).
func ParseName(name string) (key, flags string) {
	i := strings.IndexByte(name, Separator)
	if i < 0 {
		return name, ""
	}
	key, info := name[:i], name[i+1:]
	if strings.HasPrefix(info, "2,") {
		flags = NormalizeLetters(info[2:])
	}
	return key, flags
}

// fileName is the name of a message with the given key and flags in sub.
func fileName(key, flags, sub string) string {
	if sub == "new" && flags == "" {
		return key
	}
	return key + string(Separator) + "2," + flags
}

// subFor returns where a message with these flags lives: new/ when it has
// not been seen, cur/ otherwise.
func subFor(flags string) string {
	if HasLetter(flags, 'S') {
		return "cur"
	}
	return "new"
}

// Scan lists the messages in new/ and cur/. Dot files are skipped.
func (f *Folder) Scan() ([]Entry, error) {
	var out []Entry
	for _, sub := range []string{"new", "cur"} {
		d, err := os.Open(filepath.Join(f.Path, sub))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("maildir: scan %q: %w", f.Name, err)
		}
		for {
			names, err := d.Readdirnames(4096)
			for _, n := range names {
				if n == "" || n[0] == '.' {
					continue
				}
				k, fl := ParseName(n)
				out = append(out, Entry{Key: k, Flags: fl, Sub: sub, Name: n})
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				d.Close()
				return nil, fmt.Errorf("maildir: scan %q: %w", f.Name, err)
			}
		}
		d.Close()
	}
	return out, nil
}

// ScanByKey is Scan as a map from key to entry, for the callers that look
// keys up. A key with a file in both new/ and cur/ (another tool's doing)
// maps to the one in cur/.
func (f *Folder) ScanByKey() (map[string]Entry, error) {
	ents, err := f.Scan()
	if err != nil {
		return nil, err
	}
	out := make(map[string]Entry, len(ents))
	for _, e := range ents {
		out[e.Key] = e
	}
	return out, nil
}

// Find looks a key up in new/ and cur/. ok is false when no file has it.
func (f *Folder) Find(key string) (e Entry, ok bool, err error) {
	ents, err := f.Scan()
	if err != nil {
		return Entry{}, false, err
	}
	for _, e := range ents {
		if e.Key == key {
			return e, true, nil
		}
	}
	return Entry{}, false, nil
}

// Lookup finds a message's file by the names this package gives it: with
// flags, cur/KEY:2,FLAGS or new/ (KEY, or KEY:2,FLAGS) — one stat per
// place instead of a Scan. ok is false when neither exists (the file may
// have another tool's name, or be gone): the caller then scans. Lookup
// cannot see a second file with the same key; only Scan can.
func (f *Folder) Lookup(key, flags string) (e Entry, ok bool) {
	flags = NormalizeLetters(flags)
	for _, sub := range [2]string{subFor(flags), otherSub(subFor(flags))} {
		n := fileName(key, flags, sub)
		if st, err := os.Lstat(filepath.Join(f.Path, sub, n)); err == nil && st.Mode().IsRegular() {
			return Entry{Key: key, Flags: flags, Sub: sub, Name: n}, true
		}
	}
	return Entry{}, false
}

// otherSub is new for cur and cur for new.
func otherSub(sub string) string {
	if sub == "new" {
		return "cur"
	}
	return "new"
}

// FilePath is the path of an entry's file.
func (f *Folder) FilePath(e Entry) string {
	return filepath.Join(f.Path, e.Sub, e.Name)
}

// Open opens an entry's file for reading.
func (f *Folder) Open(e Entry) (*os.File, error) {
	return os.Open(f.FilePath(e))
}

// SetFlags renames an entry's file to carry the flag letters flags; a
// message that gains S moves from new/ to cur/. The rename is not synced:
// call Sync before recording the result anywhere.
func (f *Folder) SetFlags(e Entry, flags string) (Entry, error) {
	flags = NormalizeLetters(flags)
	sub := e.Sub
	if sub == "new" && HasLetter(flags, 'S') {
		sub = "cur"
	}
	n := fileName(e.Key, flags, sub)
	if n == e.Name && sub == e.Sub {
		return e, nil
	}
	if err := os.Rename(f.FilePath(e), filepath.Join(f.Path, sub, n)); err != nil {
		return e, fmt.Errorf("maildir: set flags: %w", err)
	}
	return Entry{Key: e.Key, Flags: flags, Sub: sub, Name: n}, nil
}

// MoveTo moves an entry's file into folder dst, keeping its name (and so
// its key and flags). Not synced: call Sync on both folders.
func (f *Folder) MoveTo(e Entry, dst *Folder) (Entry, error) {
	if err := os.Rename(f.FilePath(e), dst.FilePath(e)); err != nil {
		return e, fmt.Errorf("maildir: move to %q: %w", dst.Name, err)
	}
	return e, nil
}

// Remove deletes an entry's file. A file that is already gone is not an
// error. Not synced: call Sync.
func (f *Folder) Remove(e Entry) error {
	if err := os.Remove(f.FilePath(e)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("maildir: remove: %w", err)
	}
	return nil
}

// Sync makes renames and removals in new/ and cur/ durable (fsync of both
// directories).
func (f *Folder) Sync() error {
	for _, sub := range []string{"new", "cur"} {
		if err := syncDir(filepath.Join(f.Path, sub)); err != nil {
			return err
		}
	}
	return nil
}

var keyCounter atomic.Uint64

var hostname = func() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "localhost"
	}
	h = strings.ReplaceAll(h, "/", `\057`)
	h = strings.ReplaceAll(h, ":", `\072`)
	h = strings.ReplaceAll(h, ";", `\073`)
	return h
}()

// NewKey returns a new unique Maildir key:
// <unix seconds>.M<microseconds>P<pid>Q<counter>R<random>.<host>.
func NewKey() string {
	now := time.Now()
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	return strconv.FormatInt(now.Unix(), 10) + ".M" + strconv.Itoa(now.Nanosecond()/1000) +
		"P" + strconv.Itoa(os.Getpid()) + "Q" + strconv.FormatUint(keyCounter.Add(1), 10) +
		"R" + hex.EncodeToString(rnd[:]) + "." + hostname
}

// hook, when set by tests, runs before each step of a delivery and can make
// it fail there ("sync", "close", "publish", "syncdir").
var hook func(step string) error

func runHook(step string) error {
	if hook != nil {
		return hook(step)
	}
	return nil
}

// Writer is a message being written into a folder's tmp/. Nothing is
// visible in new/ or cur/ until Commit succeeds.
type Writer struct {
	folder *Folder
	key    string
	tmp    string
	file   *os.File
	n      int64
	err    error
}

// NewMessage starts a new message in the folder's tmp/.
func (f *Folder) NewMessage() (*Writer, error) {
	key := NewKey()
	tmp := filepath.Join(f.Path, "tmp", key)
	fh, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("maildir: new message in %q: %w", f.Name, err)
	}
	return &Writer{folder: f, key: key, tmp: tmp, file: fh}, nil
}

// Key is the key the message will have once committed.
func (w *Writer) Key() string { return w.key }

// Size is the number of bytes written so far.
func (w *Writer) Size() int64 { return w.n }

// Write appends to the message. After an error every call fails and Commit
// refuses to publish.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.file.Write(p)
	w.n += int64(n)
	if err != nil {
		w.err = fmt.Errorf("maildir: write: %w", err)
	}
	return n, w.err
}

// Abort discards the message. It is safe to call after Commit (then it
// does nothing) and more than once.
func (w *Writer) Abort() error {
	if w.file == nil {
		return nil
	}
	w.file.Close()
	w.file = nil
	if err := os.Remove(w.tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("maildir: abort: %w", err)
	}
	return nil
}

// finish closes the tmp file, optionally after an fsync, and sets its mtime.
func (w *Writer) finish(fsync bool, mtime time.Time) error {
	if w.err != nil {
		return w.err
	}
	if fsync {
		if err := runHook("sync"); err != nil {
			return err
		}
		if err := w.file.Sync(); err != nil {
			return fmt.Errorf("maildir: fsync: %w", err)
		}
	}
	if err := runHook("close"); err != nil {
		return err
	}
	err := w.file.Close()
	w.file = nil
	if err != nil {
		return fmt.Errorf("maildir: close: %w", err)
	}
	if !mtime.IsZero() {
		_ = os.Chtimes(w.tmp, mtime, mtime)
	}
	return nil
}

// publish renames the finished tmp file into new/ or cur/.
func (w *Writer) publish(flags string) (Entry, error) {
	flags = NormalizeLetters(flags)
	sub := subFor(flags)
	e := Entry{Key: w.key, Flags: flags, Sub: sub, Name: fileName(w.key, flags, sub)}
	if err := runHook("publish"); err != nil {
		return e, err
	}
	if err := os.Rename(w.tmp, w.folder.FilePath(e)); err != nil {
		return e, fmt.Errorf("maildir: publish: %w", err)
	}
	return e, nil
}

// Commit makes the message durable and visible: fsync of the file, rename
// into new/ (not seen) or cur/ (flags hold S) with the flag letters, fsync of
// that directory. mtime, when not zero, becomes the file's modification time
// (INTERNALDATE). On any error the message is not left in new/ or cur/.
func (w *Writer) Commit(flags string, mtime time.Time) (Entry, error) {
	if err := w.finish(true, mtime); err != nil {
		w.Abort()
		return Entry{}, err
	}
	e, err := w.publish(flags)
	if err != nil {
		os.Remove(w.tmp)
		return Entry{}, err
	}
	err = runHook("syncdir")
	if err == nil {
		err = syncDir(filepath.Join(w.folder.Path, e.Sub))
	}
	if err != nil {
		// Not durable: take it back so nobody records or reads it.
		os.Remove(w.folder.FilePath(e))
		return Entry{}, err
	}
	return e, nil
}

// Batch publishes many messages with one file-system sync instead of one
// fsync per file: Add closes each written message (unsynced, still in tmp/),
// Commit syncs the file system once, publishes every message, then syncs
// each directory touched. Messages of several folders may share a batch. A
// Batch is not safe for concurrent use.
type Batch struct {
	items []batchItem
}

type batchItem struct {
	w     *Writer
	flags string
}

// Add closes w and queues it for publication with the given flags and
// mtime. On error w is discarded.
func (b *Batch) Add(w *Writer, flags string, mtime time.Time) error {
	if err := w.finish(false, mtime); err != nil {
		w.Abort()
		return err
	}
	b.items = append(b.items, batchItem{w: w, flags: flags})
	return nil
}

// Len is the number of queued messages.
func (b *Batch) Len() int { return len(b.items) }

// Keys returns the keys of the queued messages, in order.
func (b *Batch) Keys() []string {
	out := make([]string, len(b.items))
	for i, it := range b.items {
		out[i] = it.w.key
	}
	return out
}

// Commit makes every queued message durable and visible and returns their
// entries in the order they were added. On error no queued message is left
// in new/ or cur/ (those already renamed are taken back) and all are
// discarded. The batch is empty afterwards.
func (b *Batch) Commit() ([]Entry, error) { return b.CommitWith(nil) }

// CommitWith is Commit that runs record, when not nil, while the files
// are being synced, and publishes nothing unless both succeeded: a
// write-ahead record made durable by record (a syncer's intent) then
// precedes every rename, and its sync does not wait for the files' nor
// theirs for it. record is not called when Commit fails before the sync.
// On record's failure the batch is discarded as on any other.
func (b *Batch) CommitWith(record func() error) ([]Entry, error) {
	items := b.items
	b.items = nil
	if len(items) == 0 {
		return nil, nil
	}
	fail := func(err error, published []Entry) ([]Entry, error) {
		for i, it := range items {
			if i < len(published) {
				os.Remove(it.w.folder.FilePath(published[i]))
			}
			os.Remove(it.w.tmp)
		}
		return nil, err
	}
	if err := runHook("sync"); err != nil {
		return fail(err, nil)
	}
	paths := make([]string, len(items))
	for i, it := range items {
		paths[i] = it.w.tmp
	}
	recorded := make(chan error, 1)
	if record != nil {
		go func() { recorded <- record() }()
	} else {
		recorded <- nil
	}
	err := syncFiles(paths)
	if err := errors.Join(err, <-recorded); err != nil {
		return fail(err, nil)
	}
	out := make([]Entry, 0, len(items))
	dirs := map[string]bool{}
	for _, it := range items {
		e, err := it.w.publish(it.flags)
		if err != nil {
			return fail(err, out)
		}
		out = append(out, e)
		dirs[filepath.Join(it.w.folder.Path, e.Sub)] = true
	}
	if err := runHook("syncdir"); err != nil {
		return fail(err, out)
	}
	for d := range dirs {
		if err := syncDir(d); err != nil {
			return fail(err, out)
		}
	}
	return out, nil
}

// Abort discards every queued message.
func (b *Batch) Abort() {
	for _, it := range b.items {
		os.Remove(it.w.tmp)
	}
	b.items = nil
}

// syncDir fsyncs a directory so that renames into it survive a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("maildir: sync dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !isSyncUnsupported(err) {
		return fmt.Errorf("maildir: sync dir: %w", err)
	}
	return nil
}
