// Package service integrates mailmirror with the operating system's service
// manager: systemd (user or system units) on Linux, launchd (LaunchAgent or
// LaunchDaemon) on macOS and the Service Control Manager on Windows. It is
// built on github.com/kardianos/service.
//
// The package has two halves:
//
//   - Installing: NewPlan turns a Spec into a Plan, a pure value holding the
//     exact file content (systemd unit, launchd plist) or SCM settings that
//     install would write and the commands it would run, for any target OS,
//     so that it can be shown (--dry-run) and tested anywhere. The Plan's
//     Install, Uninstall, Start, Stop, Restart and Status methods act on the
//     service manager of the running OS.
//   - Running: Run runs the daemon under the service manager (graceful stop
//     within StopTimeout, Event Log on Windows) or, when started from a
//     terminal, until SIGINT or SIGTERM.
package service

import (
	kservice "github.com/kardianos/service"
)

// Name is the service name: the systemd unit is Name + ".service", the
// Windows service and its Event Log source are called Name.
const Name = "mailmirror"

// Label is the launchd job label on macOS; the plist is Label + ".plist".
const Label = "com.github.mailmirror.mailmirror"

// DisplayName is the human-readable service name (Windows services list).
const DisplayName = "mailmirror"

// Description says what the service does, in the unit, plist and SCM.
const Description = "mailmirror: keeps a local Maildir in step with IMAP and POP3 accounts"

// Interactive reports whether the process was started from a terminal (or
// anything other than the OS service manager). In a container it is always
// true. On Windows a process whose parent is services.exe is a service even
// outside session 0: Wine runs services in the user's session, where
// kardianos (and golang.org/x/sys/windows/svc.IsWindowsService) take it
// for a console program and the SCM's start times out.
func Interactive() bool {
	return kservice.Interactive() && !startedBySCM()
}
