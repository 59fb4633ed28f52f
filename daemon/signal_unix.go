//go:build !windows

package daemon

import (
	"os"
	"os/signal"
	"syscall"
)

// terminateSignal asks a hook to stop.
var terminateSignal os.Signal = syscall.SIGTERM

// notifyReload delivers SIGHUP on c.
func notifyReload(c chan<- os.Signal) { signal.Notify(c, syscall.SIGHUP) }

func stopNotify(c chan<- os.Signal) { signal.Stop(c) }
