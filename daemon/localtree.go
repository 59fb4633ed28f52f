package daemon

import (
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/mailmirror/mailmirror/maildir"
)

// localTree is what the watcher of one account covers: every directory
// where a folder may appear and every folder's cur/ and new/.
type localTree struct {
	store   *maildir.Store
	w       Watcher
	folders map[string]string // folder directory → local folder name
	watched map[string]bool   // directories added to w
}

func newLocalTree(store *maildir.Store, w Watcher) *localTree {
	return &localTree{store: store, w: w, folders: map[string]string{}, watched: map[string]bool{}}
}

// rescan lists the folders and directories again, watches what is new and
// reports whether the set of folders changed.
func (t *localTree) rescan() (changed bool, err error) {
	names, err := t.store.Folders()
	if err != nil {
		return false, err
	}
	folders := make(map[string]string, len(names))
	for _, n := range names {
		p, err := t.store.FolderPath(n)
		if err != nil {
			continue
		}
		folders[filepath.Clean(p)] = n
	}
	dirs := []string{t.store.Root}
	if t.store.Layout == maildir.LayoutMaildirPP {
		for p := range folders {
			dirs = append(dirs, p)
		}
	} else {
		// Every directory but cur/, new/, tmp/ and hidden ones: a
		// folder may appear below any of them ("Lists", then
		// "Lists/golang").
		filepath.WalkDir(t.store.Root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() || p == t.store.Root {
				return nil
			}
			b := d.Name()
			if b == "cur" || b == "new" || b == "tmp" || strings.HasPrefix(b, ".") {
				return fs.SkipDir
			}
			dirs = append(dirs, p)
			return nil
		})
	}
	var firstErr error
	for _, d := range dirs {
		d = filepath.Clean(d)
		_, isFolder := folders[d]
		_, wasFolder := t.folders[d]
		if t.watched[d] && isFolder == wasFolder {
			continue
		}
		if err := t.w.Add(d); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		t.watched[d] = true
	}
	// Forget directories that are gone, so that a re-created one is
	// watched again.
	keep := make(map[string]bool, len(dirs))
	for _, d := range dirs {
		keep[filepath.Clean(d)] = true
	}
	for d := range t.watched {
		if !keep[d] {
			delete(t.watched, d)
		}
	}
	if len(folders) != len(t.folders) {
		changed = true
	} else {
		for p, n := range folders {
			if t.folders[p] != n {
				changed = true
				break
			}
		}
	}
	t.folders = folders
	return changed, firstErr
}

// folderName returns the local folder name of a folder directory.
func (t *localTree) folderName(dir string) (string, bool) {
	n, ok := t.folders[filepath.Clean(dir)]
	return n, ok
}
