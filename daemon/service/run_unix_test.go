//go:build !windows

package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"
)

func TestRunInteractiveStopsOnSIGTERM(t *testing.T) {
	if !Interactive() {
		t.Skip("the test process runs under a service manager")
	}
	errStopped := errors.New("stopped cleanly")
	err := Run(Name, func(ctx context.Context) error {
		// The handler is installed before runFn runs.
		if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
			return fmt.Errorf("kill: %w", err)
		}
		<-ctx.Done()
		return errStopped
	})
	if err != errStopped {
		t.Errorf("Run = %v, want runFn's %v", err, errStopped)
	}
}
