package testenv

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// reapStale stops the servers of test processes that died without stopping
// them (a test timeout, a kill) and removes their directories. A directory
// is stale when the process named in its owner file is gone; Stop removes
// that file, so kept directories (MAILMIRROR_KEEP_DOVECOT=1) stay.
func reapStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPattern))
	for _, dir := range dirs {
		owner := readPid(filepath.Join(dir, ownerFile))
		if owner == 0 || alive(owner) {
			continue
		}
		if master := readPid(filepath.Join(dir, "run", "master.pid")); master != 0 && isDovecot(master) {
			_ = syscall.Kill(master, syscall.SIGTERM)
			for i := 0; i < 500 && alive(master); i++ {
				time.Sleep(20 * time.Millisecond)
			}
			if alive(master) {
				_ = syscall.Kill(master, syscall.SIGKILL)
			}
		}
		_ = os.RemoveAll(dir)
	}
}

func readPid(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}

// isDovecot guards against a recycled pid.
func isDovecot(pid int) bool {
	cmdline, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	return err == nil && bytes.Contains(cmdline, []byte("dovecot"))
}
