package maildir

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Keep makes the bytes written so far durable (fsync) and closes the file,
// leaving it in tmp/ under its key: a download cut short that a later
// ResumeMessage continues. The Writer is done afterwards.
func (w *Writer) Keep() error {
	if w.file == nil {
		return errors.New("maildir: keep: message already finished")
	}
	if w.err != nil {
		w.Abort()
		return w.err
	}
	err := w.file.Sync()
	if cerr := w.file.Close(); err == nil {
		err = cerr
	}
	w.file = nil
	if err != nil {
		os.Remove(w.tmp)
		return fmt.Errorf("maildir: keep: %w", err)
	}
	return nil
}

// validTmpKey rejects names that are not a plain file name in tmp/.
func validTmpKey(key string) error {
	if key == "" || key == "." || key == ".." || strings.ContainsAny(key, "/\\\x00") || key != filepath.Base(key) {
		return fmt.Errorf("maildir: invalid message key %q", key)
	}
	return nil
}

// ResumeMessage reopens a message kept in tmp/ by Keep, cut to size bytes
// (what is known to be good), to write the rest. It fails when the file is
// gone or shorter than size.
func (f *Folder) ResumeMessage(key string, size int64) (*Writer, error) {
	if err := validTmpKey(key); err != nil {
		return nil, err
	}
	tmp := filepath.Join(f.Path, "tmp", key)
	fh, err := os.OpenFile(tmp, os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("maildir: resume %s: %w", key, err)
	}
	st, err := fh.Stat()
	if err == nil && (!st.Mode().IsRegular() || st.Size() < size) {
		err = fmt.Errorf("%d bytes, want at least %d", st.Size(), size)
	}
	if err == nil {
		err = fh.Truncate(size)
	}
	if err == nil {
		_, err = fh.Seek(size, 0)
	}
	if err != nil {
		fh.Close()
		return nil, fmt.Errorf("maildir: resume %s: %w", key, err)
	}
	return &Writer{folder: f, key: key, tmp: tmp, file: fh, n: size}, nil
}

// RemoveTmp removes a message kept in tmp/ (a partial download given up).
// A file already gone is not an error.
func (f *Folder) RemoveTmp(key string) error {
	if err := validTmpKey(key); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(f.Path, "tmp", key)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("maildir: remove tmp: %w", err)
	}
	return nil
}

// ErrReplaced is returned by Replace when the file to replace is no longer
// where the entry says (renamed or removed meanwhile).
var ErrReplaced = errors.New("maildir: the file to replace was renamed or removed")

// Replace makes the message durable and puts it in place of the entry e
// of the same folder (same name: same key, flags and sub-directory): fsync
// of the file, rename over e's file, fsync of the directory. mtime, when
// not zero, becomes the file's modification time. The old content is
// never lost without the new one being in its place. On any error the
// message is discarded and e's file left as it was.
func (w *Writer) Replace(e Entry, mtime time.Time) error {
	dst := w.folder.FilePath(e)
	if st, err := os.Lstat(dst); err != nil || !st.Mode().IsRegular() {
		w.Abort()
		return ErrReplaced
	}
	if err := w.finish(true, mtime); err != nil {
		w.Abort()
		return err
	}
	if err := os.Rename(w.tmp, dst); err != nil {
		os.Remove(w.tmp)
		return fmt.Errorf("maildir: replace: %w", err)
	}
	return syncDir(filepath.Dir(dst))
}

// ReadHead copies up to n bytes from the start of what was written so far
// to dst (a message resumed with ResumeMessage got its start in an
// earlier process).
func (w *Writer) ReadHead(dst io.Writer, n int64) error {
	f, err := os.Open(w.tmp)
	if err != nil {
		return fmt.Errorf("maildir: read back %s: %w", w.key, err)
	}
	defer f.Close()
	if _, err := io.Copy(dst, io.LimitReader(f, n)); err != nil {
		return fmt.Errorf("maildir: read back %s: %w", w.key, err)
	}
	return nil
}
