//go:build !unix

package maildir

import "os"

// processAlive reports whether a process with this ID runs.
func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	p.Release()
	return true
}
