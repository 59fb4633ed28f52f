//go:build linux

package state

import (
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// nobody is the user ID the tests take as root, for whom permissions do
// not count.
const nobody = 65534

// asOtherUser runs fn with dir read-only for it: as root on this thread
// with the file-system user ID of nobody and dir owned by root, 0755;
// else with dir at 0555.
func asOtherUser(t *testing.T, dir string, fn func()) {
	t.Helper()
	if os.Getuid() != 0 {
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(dir, 0o700)
		fn()
		return
	}
	openUp(t, dir)
	asNobody(fn)
}

// asOwner runs fn as the owner of dir and everything in it: as root, on
// this thread with the file-system user ID of nobody after giving them to
// nobody.
func asOwner(t *testing.T, dir string, fn func()) {
	t.Helper()
	if os.Getuid() != 0 {
		fn()
		return
	}
	openUp(t, dir)
	err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, nobody, nobody)
	})
	if err != nil {
		t.Fatal(err)
	}
	asNobody(fn)
}

// openUp lets others traverse dir and its parents up to the temp dir.
func openUp(t *testing.T, dir string) {
	for d := dir; d != filepath.Dir(d) && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func asNobody(fn func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	unix.Setfsuid(nobody)
	defer unix.Setfsuid(0)
	fn()
}
