//go:build windows

package daemon

import "os"

// terminateSignal asks a hook to stop (Windows has no SIGTERM: kill).
var terminateSignal os.Signal = os.Kill

// notifyReload does nothing: Windows has no SIGHUP (restart the service to
// reload the configuration).
func notifyReload(c chan<- os.Signal) {}

func stopNotify(c chan<- os.Signal) {}
