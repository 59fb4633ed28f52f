package testenv

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Maildir layouts ReadMaildir understands (the values of the config's
// layout key).
const (
	// LayoutVerbatim: one directory per folder, nested: ROOT/INBOX,
	// ROOT/Lists/golang.
	LayoutVerbatim = "verbatim"
	// LayoutMaildirPP: INBOX is ROOT itself, ROOT/.Lists.golang is
	// "Lists/golang".
	LayoutMaildirPP = "maildir++"
)

// ReadMaildir reads a local Maildir tree without the code under test: it
// returns, per folder name ("INBOX", "Lists/golang"), the messages in new/
// and cur/ (tmp/ is ignored), sorted by Message-ID and path. Folder name
// components are decoded from %XX escapes. Flags come from the file name's
// info part (":2,", ";2," on Windows); a file without one has no flags. A
// folder is a directory with a cur/ or new/ subdirectory. In the verbatim
// layout a Maildir at ROOT itself, where nothing should be, is reported as
// folder ".". A missing root yields an empty map. A file that vanishes
// while the tree is read (a live daemon renamed it, as it may while a
// test's user works in the Maildir) makes it read the tree again, up to
// five times.
func ReadMaildir(t testing.TB, root, layout string) map[string][]Msg {
	t.Helper()
	out, err := readMaildir(root, layout)
	for try := 1; try < 5 && errors.Is(err, fs.ErrNotExist); try++ {
		out, err = readMaildir(root, layout)
	}
	if err != nil {
		t.Fatalf("read Maildir %s: %v", root, err)
	}
	return out
}

func readMaildir(root, layout string) (map[string][]Msg, error) {
	out := make(map[string][]Msg)
	if _, err := os.Stat(root); errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	folders := make(map[string]string) // name → directory
	switch layout {
	case LayoutVerbatim, "":
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() {
				return nil
			}
			base := d.Name()
			if p != root && (base == "cur" || base == "new" || base == "tmp" || strings.HasPrefix(base, ".")) {
				return fs.SkipDir
			}
			if !isMaildirDir(p) {
				return nil
			}
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			name, err := decodeName(strings.Split(filepath.ToSlash(rel), "/"))
			if err != nil {
				return err
			}
			folders[name] = p
			return nil
		})
		if err != nil {
			return nil, err
		}
	case LayoutMaildirPP:
		if isMaildirDir(root) {
			folders["INBOX"] = root
		}
		ents, err := os.ReadDir(root)
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			n := e.Name()
			if !e.IsDir() || len(n) < 2 || n[0] != '.' || n == ".." {
				continue
			}
			p := filepath.Join(root, n)
			if !isMaildirDir(p) {
				continue
			}
			name, err := decodeName(strings.Split(n[1:], "."))
			if err != nil {
				return nil, err
			}
			folders[name] = p
		}
	default:
		return nil, fmt.Errorf("unknown layout %q", layout)
	}
	for name, dir := range folders {
		msgs, err := readMaildirFolder(dir)
		if err != nil {
			return nil, fmt.Errorf("folder %q: %w", name, err)
		}
		out[name] = msgs
	}
	return out, nil
}

func isMaildirDir(dir string) bool {
	for _, sub := range []string{"cur", "new"} {
		if st, err := os.Stat(filepath.Join(dir, sub)); err == nil && st.IsDir() {
			return true
		}
	}
	return false
}

// decodeName joins folder-name components after undoing %XX escapes.
func decodeName(parts []string) (string, error) {
	for i, p := range parts {
		var b strings.Builder
		for j := 0; j < len(p); j++ {
			if p[j] != '%' {
				b.WriteByte(p[j])
				continue
			}
			if j+2 >= len(p) {
				return "", fmt.Errorf("truncated escape in %q", p)
			}
			v, err := strconv.ParseUint(p[j+1:j+3], 16, 8)
			if err != nil {
				return "", fmt.Errorf("bad escape in %q", p)
			}
			b.WriteByte(byte(v))
			j += 2
		}
		parts[i] = b.String()
	}
	return strings.Join(parts, "/"), nil
}

// infoSep separates a Maildir file's unique part from its info, as
// go-maildir writes it.
var infoSep = func() string {
	if runtime.GOOS == "windows" {
		return ";2,"
	}
	return ":2,"
}()

// readMaildirFolder reads the messages of new/ and cur/ in one folder.
func readMaildirFolder(dir string) ([]Msg, error) {
	var msgs []Msg
	for _, sub := range []string{"new", "cur"} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			m, err := readMaildirFile(filepath.Join(dir, sub, e.Name()))
			if err != nil {
				return nil, err
			}
			msgs = append(msgs, m)
		}
	}
	slices.SortFunc(msgs, func(a, b Msg) int {
		return cmp.Or(cmp.Compare(a.MessageID, b.MessageID), cmp.Compare(a.Path, b.Path))
	})
	return msgs, nil
}

func readMaildirFile(path string) (Msg, error) {
	f, err := os.Open(path)
	if err != nil {
		return Msg{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Msg{}, err
	}
	h, _ := readHeader(f)
	m := Msg{
		MessageID: strings.TrimSpace(h.Get("Message-Id")),
		Size:      st.Size(),
		Date:      st.ModTime(),
		Path:      path,
	}
	if i := strings.LastIndex(filepath.Base(path), infoSep); i >= 0 {
		m.Flags = flagsFromLetters(filepath.Base(path)[i+len(infoSep):])
	}
	return m, nil
}
