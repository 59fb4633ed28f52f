package service

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// FileMode is the mode kardianos/service creates the unit or plist with
// (before the umask). They hold no secret, and the service manager must
// read them.
const FileMode = 0o644

// WriteInstall writes to w what install does for p: the file path and its
// exact content between "----- begin" and "----- end" lines, the
// directories it creates and the commands it runs, then where the logs go.
// It does no other I/O.
func (p *Plan) WriteInstall(w io.Writer, start bool) error {
	var b strings.Builder
	fmt.Fprintf(&b, "service:  %s (%s)\n", p.Name, p.Kind)
	fmt.Fprintf(&b, "runs:     %s\n", p.CommandLine())
	for _, d := range p.Dirs {
		fmt.Fprintf(&b, "mkdir:    %s (mode 0700, if missing)\n", d)
	}
	if p.File != "" {
		fmt.Fprintf(&b, "write:    %s (mode %04o)\n", p.File, FileMode)
		fmt.Fprintf(&b, "----- begin %s -----\n", p.File)
		b.WriteString(p.Content)
		fmt.Fprintf(&b, "----- end %s -----\n", p.File)
	}
	if p.Windows != nil {
		writeWindows(&b, p)
	}
	cmds := slices.Clone(p.InstallCommands)
	if start {
		cmds = append(cmds, p.StartCommand)
	}
	for _, c := range cmds {
		fmt.Fprintf(&b, "run:      %s\n", c)
	}
	fmt.Fprintf(&b, "logs:     %s\n", p.Logs)
	for _, n := range p.Notes {
		fmt.Fprintf(&b, "note:     %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteUninstall writes to w what uninstall does for p.
func (p *Plan) WriteUninstall(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "service:  %s (%s)\n", p.Name, p.Kind)
	for _, c := range p.UninstallCommands {
		fmt.Fprintf(&b, "run:      %s\n", c)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeWindows(b *strings.Builder, p *Plan) {
	wc := p.Windows
	fmt.Fprintf(b, "SCM service settings:\n")
	fmt.Fprintf(b, "  name:          %s\n", p.Name)
	fmt.Fprintf(b, "  display name:  %s\n", p.DisplayName)
	fmt.Fprintf(b, "  description:   %s\n", p.Description)
	fmt.Fprintf(b, "  command line:  %s\n", wc.CommandLine)
	start := wc.StartType
	if wc.DelayedAutoStart {
		start += " (delayed start)"
	}
	fmt.Fprintf(b, "  start type:    %s\n", start)
	fmt.Fprintf(b, "  log on as:     %s\n", wc.Account)
	keys := make([]string, 0, len(wc.Env))
	for k := range wc.Env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(b, "  environment:   %s=%s\n", k, wc.Env[k])
	}
	var rec []string
	for _, a := range wc.Recovery {
		rec = append(rec, "restart after "+a.Delay.String())
	}
	fmt.Fprintf(b, "  on failure:    %s; reset the failure count after %s without failure", strings.Join(rec, ", "), wc.ResetPeriod)
	if wc.NonCrashFailures {
		fmt.Fprintf(b, "; also when it stops with an error")
	}
	fmt.Fprintf(b, "\n  event log:     Application, source %s\n", wc.EventSource)
}

// CommandLine returns the command the service runs, quoted for a POSIX
// shell (Linux, macOS) or as the SCM stores it (Windows).
func (p *Plan) CommandLine() string {
	if p.Windows != nil {
		return p.Windows.CommandLine
	}
	words := []string{shellQuote(p.Spec.Executable)}
	for _, a := range p.Arguments {
		words = append(words, shellQuote(a))
	}
	return strings.Join(words, " ")
}
