package service

import (
	"maps"
	"slices"
	"strings"
	"time"
)

// windowsRecovery is what the SCM does when the daemon fails: restart it
// after 5 s, then 10 s, then every minute; the count resets after a day
// without failure.
var windowsRecovery = []RecoveryAction{{5 * time.Second}, {10 * time.Second}, {time.Minute}}

const windowsResetPeriod = 24 * time.Hour

// planWindows fills p for a Windows service. Windows services are always
// system-wide and run as LocalSystem; Spec.Env points the profile folders
// (USERPROFILE, APPDATA, LOCALAPPDATA) at the installing user's, so that
// the daemon finds the same files as in that user's terminal.
func planWindows(p *Plan) {
	p.Kind = WindowsService
	p.Name = Name
	cmd := []string{windowsArg(p.Spec.Executable)}
	for _, a := range p.Arguments {
		cmd = append(cmd, windowsArg(a))
	}
	p.Windows = &WindowsConfig{
		CommandLine:      strings.Join(cmd, " "),
		StartType:        "automatic",
		DelayedAutoStart: true,
		Account:          "LocalSystem",
		Env:              maps.Clone(p.Spec.Env),
		Recovery:         slices.Clone(windowsRecovery),
		ResetPeriod:      windowsResetPeriod,
		NonCrashFailures: true,
		EventSource:      Name,
	}
	p.InstallCommands = []string{
		"create service " + Name + " (Services > " + p.DisplayName + ")",
		"set its recovery actions",
		"register Event Log source " + Name,
	}
	p.StartCommand = "sc.exe start " + Name
	p.UninstallCommands = []string{
		"sc.exe stop " + Name + " (if it runs)",
		"sc.exe delete " + Name,
		"remove Event Log source " + Name,
	}
	p.Logs = "Event Viewer > Windows Logs > Application, source " + Name
	p.Notes = append(p.Notes,
		"The service runs as LocalSystem with your profile folders; use absolute paths in the config "+
			"file, or set \"Log On\" to your account in services.msc.")
}

// windowsArg quotes a command-line argument the way Go's
// syscall.EscapeArg does (and golang.org/x/sys/windows/svc/mgr with it), so
// the command line shown is the one the SCM stores.
func windowsArg(s string) string {
	if s == "" {
		return `""`
	}
	if !strings.ContainsAny(s, "\"\\ \t") {
		return s
	}
	hasSpace := strings.ContainsAny(s, " \t")
	if !strings.ContainsAny(s, `"\`) {
		return `"` + s + `"`
	}
	var b strings.Builder
	if hasSpace {
		b.WriteByte('"')
	}
	slashes := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		default:
			slashes = 0
		case '\\':
			slashes++
		case '"':
			for ; slashes > 0; slashes-- {
				b.WriteByte('\\')
			}
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	if hasSpace {
		for ; slashes > 0; slashes-- {
			b.WriteByte('\\')
		}
		b.WriteByte('"')
	}
	return b.String()
}
