//go:build !linux

package maildir

import (
	"errors"
	"fmt"
	"os"
)

// syncFiles makes the given files durable with one fsync each (there is no
// portable file-system-wide sync outside Linux).
func syncFiles(paths []string) error {
	for _, p := range paths {
		f, err := os.OpenFile(p, os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("maildir: fsync: %w", err)
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return fmt.Errorf("maildir: fsync: %w", err)
		}
	}
	return nil
}

// isSyncUnsupported reports errors of directory fsync on systems that do
// not support it (Windows cannot fsync a directory handle).
func isSyncUnsupported(err error) bool {
	return errors.Is(err, os.ErrInvalid) || errors.Is(err, os.ErrPermission)
}
