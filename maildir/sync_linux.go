package maildir

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// syncFiles makes the given files durable. On Linux one syncfs(2) of the
// file system holding them is far cheaper than one fsync per file.
//
// A few files are fsynced one by one instead: syncfs also writes out every
// other process's dirty data on that file system, which can take long on a
// busy machine.
func syncFiles(paths []string) error {
	if len(paths) == 0 {
		return nil
	}
	if len(paths) <= fewFiles {
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
	f, err := os.Open(paths[0])
	if err != nil {
		return fmt.Errorf("maildir: syncfs: %w", err)
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("maildir: syncfs: %w", err)
	}
	return nil
}

func isSyncUnsupported(err error) bool { return false }

// fewFiles is the batch size up to which files are fsynced one by one.
const fewFiles = 16
