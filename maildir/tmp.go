package maildir

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// TmpMaxAge is how old a file in tmp/ must be before CleanTmp removes it
// whoever wrote it: the Maildir convention's 36 hours.
const TmpMaxAge = 36 * time.Hour

// CleanTmp removes from the folder's tmp/ the messages a process that is
// gone left unpublished: files named by NewKey on this host by another
// process ID (a killed download), and any file older than TmpMaxAge. Files
// named in keep (partial downloads to resume) stay, and so do fresh files
// of other programs (a delivery in progress). The caller must know that no
// other process of its own is writing into the folder (mailmirror: the
// state lock). It returns how many files it removed.
func (f *Folder) CleanTmp(keep map[string]bool, now time.Time) (int, error) {
	dir := filepath.Join(f.Path, "tmp")
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, nil
		}
		return 0, err
	}
	n := 0
	for _, e := range ents {
		if !e.Type().IsRegular() || keep[e.Name()] {
			continue
		}
		if !deadKey(e.Name()) {
			info, err := e.Info()
			if err != nil || now.Sub(info.ModTime()) <= TmpMaxAge {
				continue
			}
		}
		if err := os.Remove(filepath.Join(dir, e.Name())); err == nil {
			n++
		} else if !errors.Is(err, os.ErrNotExist) {
			return n, err
		}
	}
	return n, nil
}

// deadKey reports whether name is a key NewKey made on this host by
// another process that is no longer running: <seconds>.M<µs>P<pid>Q<n>R<hex>.<host>.
// A live process's file may be a delivery in progress (mailmirror fetch,
// a test, another tool on this package); a reused process ID only keeps a
// dead file until TmpMaxAge.
func deadKey(name string) bool {
	sec, rest, ok := strings.Cut(name, ".M")
	if !ok || sec == "" || strings.Trim(sec, "0123456789") != "" {
		return false
	}
	mid, host, ok := strings.Cut(rest, ".")
	if !ok || host != hostname {
		return false
	}
	_, afterP, ok := strings.Cut(mid, "P")
	if !ok {
		return false
	}
	pid, afterQ, ok := strings.Cut(afterP, "Q")
	if !ok || !strings.Contains(afterQ, "R") {
		return false
	}
	n, err := strconv.Atoi(pid)
	return err == nil && n != os.Getpid() && !processAlive(n)
}
