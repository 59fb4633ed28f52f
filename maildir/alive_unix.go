//go:build unix

package maildir

import (
	"errors"
	"syscall"
)

// processAlive reports whether a process with this ID runs (signal 0:
// EPERM means it runs as another user).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
