//go:build !windows

package maildir

import (
	"errors"
	"syscall"
)

// processAlive reports whether a process with this ID exists (signal 0
// delivers nothing; EPERM means it exists under another user).
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
