package maildir

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

var hostileNames = []string{
	"..", "../x", "a/../../b", "/etc/passwd", "/abs", `..\..\x`, `C:\Windows`, "a\x00b",
	"tab\there", "nl\nx", "CON", "nul", "Com1.txt", "lpt9", "cur", "new", "tmp", "INBOX/cur",
	".hidden", "trailing.", "trailing ", "%2E%2E", "a%2Fb", "100%", "Lists.golang", "é/ü",
	"\xff\xfe", "a:b", "what?", "star*", "<>|\"", ".", "...", "x/./y", "x/../y",
}

func TestFolderPathConfinedToRoot(t *testing.T) {
	for _, layout := range []string{LayoutVerbatim, LayoutMaildirPP} {
		s, err := Open(t.TempDir(), layout)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]string{}
		for _, name := range hostileNames {
			p, err := s.FolderPath(name)
			if err != nil {
				if !errors.Is(err, ErrBadFolderName) {
					t.Errorf("%s: %q: error %v does not wrap ErrBadFolderName", layout, name, err)
				}
				continue
			}
			rel, err := filepath.Rel(s.Root, p)
			if err != nil || rel == "." || strings.HasPrefix(rel, "..") || filepath.IsAbs(rel) {
				t.Errorf("%s: %q maps to %q, outside root %q", layout, name, p, s.Root)
			}
			for _, part := range strings.Split(rel, string(filepath.Separator)) {
				if part == "cur" || part == "new" || part == "tmp" || part == ".." {
					t.Errorf("%s: %q maps to %q: component %q", layout, name, p, part)
				}
				if strings.ContainsAny(part, "\x00\n\t\\:*?\"<>|") {
					t.Errorf("%s: %q maps to %q with an unsafe byte", layout, name, p)
				}
			}
			if prev, dup := seen[p]; dup {
				t.Errorf("%s: %q and %q collide at %q", layout, prev, name, p)
			}
			seen[p] = name
		}
	}
}

func TestFolderNamesRoundTrip(t *testing.T) {
	for _, layout := range []string{LayoutVerbatim, LayoutMaildirPP} {
		s, err := Open(t.TempDir(), layout)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{}
		for _, name := range hostileNames {
			if _, err := s.Folder(name); err != nil {
				continue
			}
			if strings.EqualFold(name, Inbox) {
				name = Inbox
			}
			want[name] = true
		}
		got, err := s.Folders()
		if err != nil {
			t.Fatal(err)
		}
		gotSet := map[string]bool{}
		for _, g := range got {
			gotSet[g] = true
		}
		for n := range want {
			if !gotSet[n] {
				t.Errorf("%s: folder %q created but not listed back (got %q)", layout, n, got)
			}
		}
		for g := range gotSet {
			if !want[g] && !isParentOf(g, want) {
				t.Errorf("%s: listed folder %q was never created", layout, g)
			}
		}
	}
}

func isParentOf(p string, names map[string]bool) bool {
	for n := range names {
		if strings.HasPrefix(n, p+"/") {
			return true
		}
	}
	return false
}

func TestEmptyComponentRejected(t *testing.T) {
	s, _ := Open(t.TempDir(), LayoutVerbatim)
	for _, name := range []string{"", "a//b", "/"} {
		if _, err := s.FolderPath(name); !errors.Is(err, ErrBadFolderName) {
			t.Errorf("%q: got %v, want ErrBadFolderName", name, err)
		}
	}
}

func TestLongNameRejected(t *testing.T) {
	s, _ := Open(t.TempDir(), LayoutVerbatim)
	if _, err := s.FolderPath(strings.Repeat("x", 300)); !errors.Is(err, ErrBadFolderName) {
		t.Errorf("got %v, want ErrBadFolderName", err)
	}
}

func TestLayouts(t *testing.T) {
	root := t.TempDir()
	s, _ := Open(root, LayoutVerbatim)
	for name, want := range map[string]string{"INBOX": "INBOX", "inbox": "INBOX", "Archive": "Archive", "Lists/golang": "Lists/golang"} {
		p, err := s.FolderPath(name)
		if err != nil || p != filepath.Join(root, filepath.FromSlash(want)) {
			t.Errorf("verbatim %q: got %q, %v", name, p, err)
		}
	}
	pp, _ := Open(root, LayoutMaildirPP)
	for name, want := range map[string]string{"INBOX": "", "Archive": ".Archive", "Lists/golang": ".Lists.golang", "a.b": ".a%2Eb"} {
		p, err := pp.FolderPath(name)
		if err != nil || p != filepath.Join(root, want) {
			t.Errorf("maildir++ %q: got %q, %v", name, p, err)
		}
	}
}

func FuzzFolderPath(f *testing.F) {
	for _, n := range hostileNames {
		f.Add(n)
	}
	root := f.TempDir()
	stores := []*Store{{Root: root, Layout: LayoutVerbatim}, {Root: root, Layout: LayoutMaildirPP}}
	f.Fuzz(func(t *testing.T, name string) {
		for _, s := range stores {
			p, err := s.FolderPath(name)
			if err != nil {
				continue
			}
			rel, err := filepath.Rel(s.Root, p)
			if err != nil || strings.HasPrefix(rel, "..") || filepath.IsAbs(rel) {
				t.Fatalf("%q escapes: %q", name, p)
			}
			if rel == "." && !strings.EqualFold(name, Inbox) {
				t.Fatalf("%q maps to the root", name)
			}
		}
		for _, c := range SplitName(name) {
			for _, dot := range []bool{false, true} {
				e, err := EncodeComponent(c, dot)
				if err != nil {
					continue
				}
				d, err := DecodeComponent(e)
				if err != nil || d != c {
					t.Fatalf("%q: encode %q decode %q, %v", c, e, d, err)
				}
			}
		}
	})
}
