//go:build !linux

package state

import (
	"os"
	"testing"
)

// asOtherUser runs fn with dir read-only (0555).
func asOtherUser(t *testing.T, dir string, fn func()) {
	t.Helper()
	if os.Getuid() == 0 {
		t.Skip("root ignores permissions")
	}
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o700)
	fn()
}

// asOwner runs fn as the owner of dir.
func asOwner(t *testing.T, dir string, fn func()) {
	t.Helper()
	if os.Getuid() == 0 {
		t.Skip("root ignores permissions")
	}
	fn()
}
