package maildir

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDeadKey(t *testing.T) {
	mine := NewKey()
	other := strings.Replace(mine, fmt.Sprintf("P%dQ", os.Getpid()), fmt.Sprintf("P%dQ", deadPID(t)), 1)
	for name, want := range map[string]bool{
		mine:  false,
		other: true,
		strings.TrimSuffix(other, hostname) + "elsewhere": false,
		"1796000000.12345_1." + hostname:                  false,
		"":                                                false,
		".M1P2Q3R4." + hostname:                           false,
	} {
		if got := deadKey(name); got != want {
			t.Errorf("deadKey(%q) = %v, want %v", name, got, want)
		}
	}
}

// A fresh file another live process is writing (its key names that
// process) stays: only a process that is gone leaves dead files.
func TestCleanTmpKeepsLiveProcessFiles(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skip("no sleep command:", err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	s, err := Open(t.TempDir(), LayoutVerbatim)
	if err != nil {
		t.Fatal(err)
	}
	f, err := s.Folder("INBOX")
	if err != nil {
		t.Fatal(err)
	}
	mine := NewKey()
	keyOf := func(pid int) string {
		return strings.Replace(mine, fmt.Sprintf("P%dQ", os.Getpid()), fmt.Sprintf("P%dQ", pid), 1)
	}
	liveKey, deadKeyName := keyOf(cmd.Process.Pid), keyOf(deadPID(t))
	for _, k := range []string{liveKey, deadKeyName} {
		if err := os.WriteFile(filepath.Join(f.Path, "tmp", k), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	n, err := f.CleanTmp(nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(f.Path, "tmp", liveKey)); err != nil {
		t.Errorf("the live process's file was removed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(f.Path, "tmp", deadKeyName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the dead process's file is still there (%v)", err)
	}
	if n != 1 {
		t.Errorf("CleanTmp removed %d files, want 1", n)
	}
}

// deadPID is the process ID of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	c := exec.Command("true")
	if err := c.Run(); err != nil {
		t.Skip("no true command:", err)
	}
	return c.ProcessState.Pid()
}
