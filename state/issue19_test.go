package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Issue 19 item 8: errors about the state say what to do.

// filledDir returns a state directory whose database holds some records,
// closed.
func filledDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var us []UIDL
	for i := 0; i < 3000; i++ {
		us = append(us, UIDL{UIDL: fmt.Sprintf("u%06d-a-uidl-of-some-length", i), Key: "k", FirstSeen: time.Now()})
	}
	if err := db.AddPOP3UIDLs("a", us); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestIssue19TruncatedStateSaysWhatToDo(t *testing.T) {
	dir := filledDir(t)
	p := filepath.Join(dir, FileName)
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, st.Size()/2); err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "move it aside (mv "+p) {
		t.Fatalf("Open of a truncated state.db: %v, want ErrCorrupt saying to move it aside", err)
	}
	// Moved aside, the state starts afresh.
	if err := os.Rename(p, p+".damaged"); err != nil {
		t.Fatal(err)
	}
	db, err := Open(dir)
	if err != nil {
		t.Fatalf("Open after moving it aside: %v", err)
	}
	db.Close()
}

func TestIssue19ReadOnlyShmIsRepaired(t *testing.T) {
	dir := filledDir(t)
	shm := filepath.Join(dir, FileName+"-shm")
	// What a run on a read-only state.db leaves: SQLite copied its mode.
	if err := os.WriteFile(shm, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(shm, 0o444); err != nil {
		t.Fatal(err)
	}
	asOwner(t, dir, func() {
		db, err := Open(dir)
		if err != nil {
			t.Fatalf("Open with a read-only -shm: %v", err)
		}
		defer db.Close()
		if st, err := os.Stat(shm); err != nil || st.Mode().Perm()&0o200 == 0 {
			t.Fatalf("-shm left read-only: %v %v", st.Mode(), err)
		}
		if err := db.AddPOP3UIDLs("a", []UIDL{{UIDL: "new", Key: "k2"}}); err != nil {
			t.Fatalf("write after the repair: %v", err)
		}
		if u, err := db.POP3UIDLs("a"); err != nil || len(u) != 3001 {
			t.Fatalf("records after the repair: %d, %v", len(u), err)
		}
	})
}

func TestIssue19ReadOnlyStateDBIsNamed(t *testing.T) {
	dir := filledDir(t)
	p := filepath.Join(dir, FileName)
	if err := os.Chmod(p, 0o444); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir)
	if !errors.Is(err, ErrNotWritable) || !strings.Contains(err.Error(), "chmod u+w "+p) {
		t.Fatalf("Open of a read-only state.db: %v, want ErrNotWritable with chmod u+w", err)
	}
}

func TestIssue19ReadOnlyStateDirIsNamed(t *testing.T) {
	dir := filledDir(t)
	asOtherUser(t, dir, func() {
		_, err := Open(dir)
		if !errors.Is(err, ErrNotWritable) || !strings.Contains(err.Error(), "the state directory "+dir+" is not writable") {
			t.Errorf("Open of a read-only state directory: %v, want it named", err)
		}
	})
}
