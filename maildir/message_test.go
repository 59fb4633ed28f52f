package maildir

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

func publishedFiles(t *testing.T, f *Folder) []string {
	t.Helper()
	var out []string
	for _, sub := range []string{"new", "cur"} {
		ents, err := os.ReadDir(filepath.Join(f.Path, sub))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			out = append(out, sub+"/"+e.Name())
		}
	}
	return out
}

func tmpFiles(t *testing.T, f *Folder) []string {
	t.Helper()
	ents, _ := os.ReadDir(filepath.Join(f.Path, "tmp"))
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func TestCommitPlacesByFlags(t *testing.T) {
	s, _ := Open(t.TempDir(), LayoutVerbatim)
	f, err := s.Folder("INBOX")
	if err != nil {
		t.Fatal(err)
	}
	date := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct{ flags, sub, suffix string }{
		{"", "new", ""},
		{"F", "new", ":2,F"},
		{"SR", "cur", ":2,RS"},
	}
	for _, c := range cases {
		w, err := f.NewMessage()
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("Subject: x\n\nbody\n"))
		e, err := w.Commit(c.flags, date)
		if err != nil {
			t.Fatal(err)
		}
		want := filepath.Join(f.Path, c.sub, e.Key+c.suffix)
		st, err := os.Stat(want)
		if err != nil {
			t.Fatalf("flags %q: %v", c.flags, err)
		}
		if !st.ModTime().Equal(date) {
			t.Errorf("mtime %v, want %v", st.ModTime(), date)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("mode %v, want 0600", st.Mode().Perm())
		}
	}
	if tmp := tmpFiles(t, f); len(tmp) != 0 {
		t.Errorf("tmp/ not empty: %v", tmp)
	}
	for _, d := range []string{f.Path, filepath.Join(f.Path, "cur")} {
		st, _ := os.Stat(d)
		if st.Mode().Perm() != 0o700 {
			t.Errorf("%s mode %v, want 0700", d, st.Mode().Perm())
		}
	}
}

// A failure injected at any step of a delivery leaves nothing in new/ or
// cur/ and nothing in tmp/.
func TestCommitFailureLeavesNothingPublished(t *testing.T) {
	for _, step := range []string{"sync", "close", "publish", "syncdir"} {
		t.Run(step, func(t *testing.T) {
			s, _ := Open(t.TempDir(), LayoutVerbatim)
			f, _ := s.Folder("INBOX")
			boom := errors.New("injected")
			hook = func(s string) error {
				if s == step {
					return boom
				}
				return nil
			}
			defer func() { hook = nil }()
			w, _ := f.NewMessage()
			w.Write([]byte("Subject: x\n\nbody\n"))
			if _, err := w.Commit("S", time.Time{}); !errors.Is(err, boom) {
				t.Fatalf("Commit: %v, want injected error", err)
			}
			if p := publishedFiles(t, f); len(p) != 0 {
				t.Errorf("published after failure at %s: %v", step, p)
			}
			if tmp := tmpFiles(t, f); len(tmp) != 0 {
				t.Errorf("tmp/ left after failure at %s: %v", step, tmp)
			}
		})
	}
}

func TestBatchFailureLeavesNothingPublished(t *testing.T) {
	for _, step := range []string{"sync", "publish", "syncdir"} {
		t.Run(step, func(t *testing.T) {
			s, _ := Open(t.TempDir(), LayoutVerbatim)
			f, _ := s.Folder("INBOX")
			g, _ := s.Folder("Archive")
			var b Batch
			for i := 0; i < 5; i++ {
				dst := f
				if i%2 == 1 {
					dst = g
				}
				w, _ := dst.NewMessage()
				w.Write([]byte("Subject: x\n\nbody\n"))
				if err := b.Add(w, "", time.Time{}); err != nil {
					t.Fatal(err)
				}
			}
			boom := errors.New("injected")
			n := 0
			hook = func(s string) error {
				// Fail the third publish, or the first of the other steps.
				if s == step {
					n++
					if step != "publish" || n == 3 {
						return boom
					}
				}
				return nil
			}
			defer func() { hook = nil }()
			if _, err := b.Commit(); !errors.Is(err, boom) {
				t.Fatalf("Commit: %v", err)
			}
			for _, fo := range []*Folder{f, g} {
				if p := publishedFiles(t, fo); len(p) != 0 {
					t.Errorf("published after failure: %v", p)
				}
				if tmp := tmpFiles(t, fo); len(tmp) != 0 {
					t.Errorf("tmp left: %v", tmp)
				}
			}
		})
	}
}

func TestBatchCommit(t *testing.T) {
	s, _ := Open(t.TempDir(), LayoutMaildirPP)
	f, _ := s.Folder("INBOX")
	var b Batch
	for i := 0; i < 10; i++ {
		w, _ := f.NewMessage()
		w.Write([]byte("Subject: x\n\nbody\n"))
		flags := ""
		if i%2 == 0 {
			flags = "S"
		}
		if err := b.Add(w, flags, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	if len(publishedFiles(t, f)) != 0 {
		t.Fatal("visible before Commit")
	}
	ents, err := b.Commit()
	if err != nil || len(ents) != 10 {
		t.Fatalf("Commit: %d, %v", len(ents), err)
	}
	scan, _ := f.Scan()
	if len(scan) != 10 {
		t.Errorf("scan found %d", len(scan))
	}
}

func TestSetFlagsMoveRemove(t *testing.T) {
	s, _ := Open(t.TempDir(), LayoutVerbatim)
	f, _ := s.Folder("INBOX")
	g, _ := s.Folder("Archive")
	w, _ := f.NewMessage()
	w.Write([]byte("x"))
	e, _ := w.Commit("", time.Time{})
	if e.Sub != "new" {
		t.Fatalf("sub %q", e.Sub)
	}
	e2, err := f.SetFlags(e, "SFx")
	if err != nil || e2.Sub != "cur" || e2.Name != e.Key+":2,FSx" {
		t.Fatalf("SetFlags: %+v %v", e2, err)
	}
	e3, err := f.MoveTo(e2, g)
	if err != nil {
		t.Fatal(err)
	}
	got, ok, _ := g.Find(e.Key)
	if !ok || got.Flags != "FSx" {
		t.Fatalf("Find after move: %+v %v", got, ok)
	}
	if _, ok, _ := f.Find(e.Key); ok {
		t.Fatal("still in source")
	}
	if err := g.Remove(e3); err != nil {
		t.Fatal(err)
	}
	if err := g.Remove(e3); err != nil {
		t.Fatalf("second remove: %v", err)
	}
}

func TestFlagMapping(t *testing.T) {
	got := FlagsFromIMAP([]imap.Flag{imap.FlagSeen, imap.FlagFlagged, "$Forwarded", imap.FlagAnswered, imap.FlagDeleted, imap.FlagDraft, "$Junk"})
	if got != "DFPRST" {
		t.Errorf("FlagsFromIMAP = %q", got)
	}
	back := FlagsToIMAP("DFPRSTa")
	if len(back) != 6 {
		t.Errorf("FlagsToIMAP = %v", back)
	}
	if m := MergeLetters("Sab", "F"); m != "Fab" {
		t.Errorf("MergeLetters = %q", m)
	}
}

func FuzzParseName(f *testing.F) {
	for _, s := range []string{"123.M1P2.host:2,FS", "key", "k:1,xyz", "k:2,", "k:2,SSF", ":", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		key, flags := ParseName(name)
		if len(key) > len(name) {
			t.Fatalf("key longer than name")
		}
		if NormalizeLetters(flags) != flags {
			t.Fatalf("flags not normalized: %q", flags)
		}
		if key != "" && flags != "" {
			k2, f2 := ParseName(fileName(key, flags, "cur"))
			if k2 != key || f2 != flags {
				t.Fatalf("round trip %q %q -> %q %q", key, flags, k2, f2)
			}
		}
	})
}

// Lookup finds a file by the names this package gives it, in either
// directory, and nothing else: another tool's name, a directory, or no
// file at all is "not found" (the caller lists the folder then).
func TestLookup(t *testing.T) {
	s, _ := Open(t.TempDir(), LayoutVerbatim)
	f, _ := s.Folder("INBOX")
	put := func(flags string) Entry {
		w, _ := f.NewMessage()
		w.Write([]byte("x"))
		e, err := w.Commit(flags, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	for _, flags := range []string{"", "F", "FS", "RS"} {
		e := put(flags)
		got, ok := f.Lookup(e.Key, flags)
		if !ok || got != e {
			t.Errorf("Lookup(%q): %+v %v, want %+v", flags, got, ok, e)
		}
	}
	// Seen in new/ (a tool that renamed without moving), unseen in cur/.
	e := put("")
	moved, err := f.SetFlags(e, "F")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(f.FilePath(moved), filepath.Join(f.Path, "cur", moved.Name)); err != nil {
		t.Fatal(err)
	}
	if got, ok := f.Lookup(e.Key, "F"); !ok || got.Sub != "cur" || got.Name != e.Key+":2,F" {
		t.Errorf("unseen file in cur/: %+v %v", got, ok)
	}
	// Another tool's name: a keyword letter the flags do not carry.
	e = put("S")
	if err := os.Rename(f.FilePath(e), f.FilePath(e)+"a"); err != nil {
		t.Fatal(err)
	}
	if got, ok := f.Lookup(e.Key, "S"); ok {
		t.Errorf("found %+v under another tool's name", got)
	}
	// A directory with the name, and no file at all.
	if err := os.Mkdir(filepath.Join(f.Path, "cur", "dir:2,S"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"dir", "missing"} {
		if got, ok := f.Lookup(key, "S"); ok {
			t.Errorf("Lookup(%q): %+v", key, got)
		}
	}
}
