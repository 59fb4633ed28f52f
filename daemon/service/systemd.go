package service

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"strings"
)

// planSystemd fills p for a systemd unit. kardianos's own unit says
// WantedBy=multi-user.target, which a user manager never reaches, and
// RestartSec=120: this unit is ours.
func planSystemd(p *Plan) {
	p.Name = Name
	unit := Name + ".service"
	// The commands as Install runs them: "systemctl ACTION [--user]
	// [UNIT]"; the manager reloads its units before it enables the new one.
	scope := ""
	if p.Spec.System {
		p.Kind = SystemdSystem
		p.File = path.Join("/etc/systemd/system", unit)
		p.Logs = "journalctl -u " + Name + " -f"
	} else {
		p.Kind = SystemdUser
		p.File = path.Join(p.Spec.Home, ".config/systemd/user", unit)
		p.Dirs = []string{path.Dir(p.File)}
		scope = " --user"
		p.Logs = "journalctl --user -u " + Name + " -f"
		p.Notes = append(p.Notes,
			"A user service runs while you are logged in. To start it at boot and keep it "+
				"running after you log out, enable lingering once: loginctl enable-linger "+p.Spec.User)
	}
	p.Content = systemdUnit(p)
	p.InstallCommands = []string{
		"systemctl daemon-reload" + scope,
		"systemctl enable" + scope + " " + unit,
	}
	p.StartCommand = "systemctl start" + scope + " " + unit
	p.UninstallCommands = []string{
		"systemctl stop" + scope + " " + unit + " (if it runs)",
		"systemctl disable" + scope + " " + unit,
		"rm " + shellQuote(p.File),
		"systemctl daemon-reload" + scope,
	}
}

func systemdUnit(p *Plan) string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	w("# Written by `mailmirror service install`; remove it with `mailmirror service uninstall`.")
	w("[Unit]")
	w("Description=%s", systemdEscape(p.Description))
	w("Documentation=https://github.com/mailmirror/mailmirror")
	if p.Kind == SystemdSystem {
		// A user manager has no network-online.target of its own; the
		// daemon waits for the network itself anyway.
		w("Wants=network-online.target")
		w("After=network-online.target")
	}
	w("")
	w("[Service]")
	w("Type=simple")
	args := []string{systemdArg(p.Spec.Executable)}
	for _, a := range p.Arguments {
		args = append(args, systemdArg(a))
	}
	w("ExecStart=%s", strings.Join(args, " "))
	if p.Kind == SystemdSystem {
		w("User=%s", p.Spec.User)
	}
	w("Restart=on-failure")
	w("RestartSec=%s", RestartDelay)
	w("TimeoutStopSec=%s", managerStopTimeout)
	w("UMask=0077")
	w("")
	w("[Install]")
	if p.Kind == SystemdSystem {
		w("WantedBy=multi-user.target")
	} else {
		w("WantedBy=default.target")
	}
	return b.String()
}

// systemdEscape escapes the characters systemd expands in unit values:
// "%" specifiers and "$" variables.
func systemdEscape(s string) string {
	s = strings.ReplaceAll(s, "%", "%%")
	return strings.ReplaceAll(s, "$", "$$")
}

// systemdArg renders one word of an ExecStart= line: specifiers and
// variables escaped, and double-quoted (with C escapes for " and \) unless
// it holds only characters that need no quoting.
func systemdArg(s string) string {
	s = systemdEscape(s)
	if s != "" && strings.IndexFunc(s, func(r rune) bool { return !plainRune(r) }) < 0 {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		if r == '"' || r == '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

func plainRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
		strings.ContainsRune("/._+,:@=-%$", r)
}

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool { return !plainRune(r) || r == '%' || r == '$' }) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// installSystemd writes the unit (exactly p.Content) and runs
// p.InstallCommands in order. kardianos/service would enable the unit
// before reloading the manager; this is the order systemd documents.
func installSystemd(p *Plan) error {
	if err := os.WriteFile(p.File, []byte(p.Content), FileMode); err != nil {
		return err
	}
	for _, c := range p.InstallCommands {
		args := strings.Fields(c)
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %w: %s", c, err, firstLine(string(out)))
		}
	}
	return nil
}
