//go:build unix

package corpus

import (
	"os"
	"syscall"
)

// fileOwner returns the numeric owner of a file, or -1, -1.
func fileOwner(st os.FileInfo) (uid, gid int) {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return int(sys.Uid), int(sys.Gid)
	}
	return -1, -1
}
