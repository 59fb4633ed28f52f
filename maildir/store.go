package maildir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	gomaildir "github.com/emersion/go-maildir"
)

// Layouts of a Maildir tree.
const (
	// LayoutVerbatim: <root>/INBOX, <root>/Archive, <root>/Lists/golang.
	LayoutVerbatim = "verbatim"
	// LayoutMaildirPP: INBOX at <root>, <root>/.Archive, <root>/.Lists.golang.
	LayoutMaildirPP = "maildir++"
)

// Inbox is the local name of the inbox folder.
const Inbox = "INBOX"

// Store is one account's Maildir tree.
type Store struct {
	Root   string // absolute root directory
	Layout string // LayoutVerbatim or LayoutMaildirPP
}

// Open returns the store rooted at root, creating the root (0700) when
// missing. An empty layout means LayoutVerbatim.
func Open(root, layout string) (*Store, error) {
	if layout == "" {
		layout = LayoutVerbatim
	}
	if layout != LayoutVerbatim && layout != LayoutMaildirPP {
		return nil, fmt.Errorf("maildir: unknown layout %q", layout)
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("maildir: %w", err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("maildir: %w", err)
	}
	return &Store{Root: abs, Layout: layout}, nil
}

// FolderPath returns the directory of a local folder name ("Lists/golang")
// without creating it. The result is always inside Root.
func (s *Store) FolderPath(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("%w: empty name", ErrBadFolderName)
	}
	parts := SplitName(name)
	if strings.EqualFold(parts[0], Inbox) && len(parts) == 1 {
		if s.Layout == LayoutMaildirPP {
			return s.Root, nil
		}
		return filepath.Join(s.Root, Inbox), nil
	}
	enc := make([]string, len(parts))
	for i, p := range parts {
		e, err := EncodeComponent(p, s.Layout == LayoutMaildirPP)
		if err != nil {
			return "", fmt.Errorf("folder %q: %w", name, err)
		}
		enc[i] = e
	}
	var p string
	if s.Layout == LayoutMaildirPP {
		p = filepath.Join(s.Root, "."+strings.Join(enc, "."))
	} else {
		p = filepath.Join(append([]string{s.Root}, enc...)...)
	}
	// Belt and braces: the encoding makes this impossible.
	if rel, err := filepath.Rel(s.Root, p); err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return "", fmt.Errorf("%w: %q maps outside the root", ErrBadFolderName, name)
	}
	return p, nil
}

// Folder returns a local folder, creating its cur/, new/ and tmp/
// directories (0700) when missing.
func (s *Store) Folder(name string) (*Folder, error) {
	f, err := s.folder(name)
	if err != nil {
		return nil, err
	}
	if err := f.create(); err != nil {
		return nil, err
	}
	return f, nil
}

// ExistingFolder returns a local folder without creating anything; ok is
// false when the folder does not exist on disk.
func (s *Store) ExistingFolder(name string) (f *Folder, ok bool, err error) {
	f, err = s.folder(name)
	if err != nil {
		return nil, false, err
	}
	st, err := os.Stat(filepath.Join(f.Path, "cur"))
	if err != nil || !st.IsDir() {
		return f, false, nil
	}
	return f, true, nil
}

func (s *Store) folder(name string) (*Folder, error) {
	if strings.EqualFold(name, Inbox) {
		name = Inbox
	}
	p, err := s.FolderPath(name)
	if err != nil {
		return nil, err
	}
	return &Folder{Name: name, Path: p}, nil
}

// Folders lists the local folders present on disk (directories holding a
// cur/ subdirectory), sorted by name.
func (s *Store) Folders() ([]string, error) {
	var names []string
	if s.Layout == LayoutMaildirPP {
		if isMaildir(s.Root) {
			names = append(names, Inbox)
		}
		ents, err := os.ReadDir(s.Root)
		if err != nil {
			return nil, fmt.Errorf("maildir: %w", err)
		}
		for _, e := range ents {
			n := e.Name()
			if !e.IsDir() || len(n) < 2 || n[0] != '.' || n == ".." || !isMaildir(filepath.Join(s.Root, n)) {
				continue
			}
			parts := strings.Split(n[1:], ".")
			ok := true
			for i, p := range parts {
				d, err := DecodeComponent(p)
				if err != nil || d == "" {
					ok = false
					break
				}
				parts[i] = d
			}
			if ok {
				names = append(names, strings.Join(parts, "/"))
			}
		}
		sort.Strings(names)
		return names, nil
	}
	err := filepath.WalkDir(s.Root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == s.Root {
				return err
			}
			return nil
		}
		if !d.IsDir() || p == s.Root {
			return nil
		}
		base := d.Name()
		if base == "cur" || base == "new" || base == "tmp" || strings.HasPrefix(base, ".") {
			return fs.SkipDir
		}
		if isMaildir(p) {
			rel, _ := filepath.Rel(s.Root, p)
			parts := strings.Split(filepath.ToSlash(rel), "/")
			for i, c := range parts {
				dc, err := DecodeComponent(c)
				if err != nil {
					return nil
				}
				parts[i] = dc
			}
			names = append(names, strings.Join(parts, "/"))
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("maildir: %w", err)
	}
	sort.Strings(names)
	return names, nil
}

func isMaildir(dir string) bool {
	st, err := os.Stat(filepath.Join(dir, "cur"))
	return err == nil && st.IsDir()
}

// Folder is one Maildir folder (a directory with cur/, new/ and tmp/).
type Folder struct {
	Name string // local folder name, "/"-separated
	Path string // absolute directory
}

func (f *Folder) create() error {
	if err := os.MkdirAll(filepath.Dir(f.Path), 0o700); err != nil {
		return fmt.Errorf("maildir: create folder %q: %w", f.Name, err)
	}
	if err := gomaildir.Dir(f.Path).Init(); err != nil {
		return fmt.Errorf("maildir: create folder %q: %w", f.Name, err)
	}
	return nil
}
