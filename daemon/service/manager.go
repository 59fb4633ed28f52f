package service

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	kservice "github.com/kardianos/service"
)

// ErrNotInstalled is returned when the service is not installed.
var ErrNotInstalled = errors.New("service: mailmirror is not installed as a service")

// ErrAlreadyInstalled is returned by Install when the service exists.
var ErrAlreadyInstalled = errors.New("service: mailmirror is already installed as a service")

// UnusableError says that the service manager cannot be used here, why,
// and what to do instead.
type UnusableError struct {
	Reason  string   // what is missing, one sentence
	Instead []string // what the user can do instead
}

// Error returns the reason.
func (e *UnusableError) Error() string { return "service: " + e.Reason }

// Check reports whether the service manager can carry out an action
// ("install", "uninstall", "start", "stop", "restart") of this plan on the
// running machine: the manager is there and reachable, and the process
// has the rights the action needs. It changes nothing; the error is an
// *UnusableError.
func (p *Plan) Check(action string) error {
	if p.Spec.OS != runtime.GOOS {
		return &UnusableError{Reason: fmt.Sprintf("this plan is for %s, and this is %s", p.Spec.OS, runtime.GOOS)}
	}
	run := fmt.Sprintf("run `%s` under your own supervisor (tmux, screen, supervisord, runit, a container's init)",
		"mailmirror run --config "+shellQuote(p.Spec.ConfigPath))
	switch p.Kind {
	case SystemdUser, SystemdSystem:
		if _, err := os.Stat(systemdRunDir); err != nil {
			return &UnusableError{
				Reason:  "systemd is not running on this machine (no /run/systemd/system; a container?), and it is the only service manager mailmirror installs into on Linux",
				Instead: []string{run},
			}
		}
		if p.Kind == SystemdSystem {
			if os.Geteuid() != 0 && action != "status" {
				return &UnusableError{
					Reason:  "a system-wide service needs root to " + action,
					Instead: []string{"run the same command with sudo"},
				}
			}
			return nil
		}
		instead := []string{
			run,
			"or install a system-wide service: sudo mailmirror service install --system --user " + p.Spec.User + " --config " + shellQuote(p.Spec.ConfigPath),
			"or log in with a full session (a desktop login, or ssh with pam_systemd) so that systemd starts your user manager, and try again",
		}
		if os.Getenv("XDG_RUNTIME_DIR") == "" {
			return &UnusableError{
				Reason:  "no systemd user session: $XDG_RUNTIME_DIR is not set (su, sudo and some ssh or container setups do not start one)",
				Instead: instead,
			}
		}
		if out, err := exec.Command("systemctl", "--user", "show-environment").CombinedOutput(); err != nil {
			msg := firstLine(string(out))
			if msg == "" {
				msg = err.Error()
			}
			return &UnusableError{
				Reason:  "no systemd user session: `systemctl --user` fails: " + msg,
				Instead: instead,
			}
		}
	case LaunchAgent, LaunchDaemon:
		if _, err := exec.LookPath("launchctl"); err != nil {
			return &UnusableError{Reason: "launchctl is not in $PATH", Instead: []string{run}}
		}
		if p.Kind == LaunchDaemon && os.Geteuid() != 0 && action != "status" {
			return &UnusableError{
				Reason:  "a LaunchDaemon needs root to " + action,
				Instead: []string{"run the same command with sudo"},
			}
		}
	case WindowsService:
		if !elevated() && action != "status" {
			return &UnusableError{
				Reason: action + " needs an elevated prompt: right-click Command Prompt, PowerShell or Windows Terminal, " +
					"choose \"Run as administrator\", and run the command again",
			}
		}
	}
	return nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

// systemdRunDir exists when systemd is the init system (sd_booted(3)).
// Tests point it elsewhere.
var systemdRunDir = "/run/systemd/system"

// nop is the kardianos Interface of a service that is only controlled.
type nop struct{}

func (nop) Start(kservice.Service) error { return nil }
func (nop) Stop(kservice.Service) error  { return nil }

// manager returns the kardianos service for p. On Linux it is always the
// systemd implementation, whatever kardianos detected (it would fall back
// to System V init scripts): Check tells whether systemd is usable.
func (p *Plan) manager() (kservice.Service, error) {
	if p.Spec.OS != runtime.GOOS {
		return nil, fmt.Errorf("service: this plan is for %s, and this is %s", p.Spec.OS, runtime.GOOS)
	}
	for _, s := range kservice.AvailableSystems() {
		if runtime.GOOS == "linux" && s.String() != "linux-systemd" {
			continue
		}
		svc, err := s.New(nop{}, p.ServiceConfig())
		if err != nil {
			return nil, fmt.Errorf("service: %w", err)
		}
		return svc, nil
	}
	return nil, errors.New("service: no service manager support in this build")
}

// Installed reports whether the service is installed: its file exists
// (systemd, launchd) or the SCM knows it (Windows).
func (p *Plan) Installed() (bool, error) {
	if p.File != "" {
		_, err := os.Stat(p.File)
		if err == nil {
			return true, nil
		}
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, fmt.Errorf("service: %w", err)
	}
	svc, err := p.manager()
	if err != nil {
		return false, err
	}
	_, err = svc.Status()
	if errors.Is(err, kservice.ErrNotInstalled) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("service: status: %w", err)
	}
	return true, nil
}

// Preflight checks what Install needs besides the service manager: the
// executable and the config file exist, and the service is not installed
// yet. It changes nothing.
func (p *Plan) Preflight() error {
	if fi, err := os.Stat(p.Spec.Executable); err != nil {
		return fmt.Errorf("service: executable: %w", err)
	} else if !fi.Mode().IsRegular() {
		return fmt.Errorf("service: executable %s is not a regular file", p.Spec.Executable)
	}
	if _, err := os.Stat(p.Spec.ConfigPath); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("service: config file %s does not exist: write it first, then check it with `mailmirror check --config %s`",
				p.Spec.ConfigPath, shellQuote(p.Spec.ConfigPath))
		}
		return fmt.Errorf("service: config file: %w", err)
	}
	installed, err := p.Installed()
	if err != nil {
		return err
	}
	if installed {
		where := p.File
		if where == "" {
			where = "the Windows services"
		}
		return fmt.Errorf("%w (%s): run `mailmirror service uninstall` first", ErrAlreadyInstalled, where)
	}
	return nil
}

// Install installs the service on the running OS, and starts it when start
// is true. It runs Preflight and Check first, so nothing is written when
// something is missing; when a step fails after that, what was written is
// removed again.
func (p *Plan) Install(start bool) (err error) {
	if err := p.Preflight(); err != nil {
		return err
	}
	if err := p.Check("install"); err != nil {
		return err
	}
	svc, err := p.manager()
	if err != nil {
		return err
	}
	var created []string // directories, to remove on failure
	rollback := true
	defer func() {
		if err == nil || !rollback {
			return
		}
		_ = svc.Uninstall()
		if p.File != "" {
			_ = os.Remove(p.File)
		}
		for i := len(created) - 1; i >= 0; i-- {
			_ = os.Remove(created[i]) // only if empty
		}
	}()
	for _, d := range p.Dirs {
		c, err := mkdirAll(d)
		created = append(created, c...)
		if err != nil {
			return fmt.Errorf("service: %w", err)
		}
		if p.Kind == LaunchDaemon {
			// The job runs as Spec.User and writes its log there.
			if err := chownTo(d, p.Spec.User); err != nil {
				return fmt.Errorf("service: %w", err)
			}
		}
	}
	install := svc.Install
	if p.Kind == SystemdUser || p.Kind == SystemdSystem {
		install = func() error { return installSystemd(p) }
	}
	if err := install(); err != nil {
		return fmt.Errorf("service: install: %w", err)
	}
	if p.Windows != nil {
		warnings, err := setWindowsSettings(p)
		if err != nil {
			return fmt.Errorf("service: SCM settings: %w", err)
		}
		p.Warnings = warnings
		for _, w := range warnings {
			p.Notes = append(p.Notes, "not applied: "+w)
		}
	}
	rollback = false
	if start {
		if err := svc.Start(); err != nil {
			// Installed, but not started: keep it, say so.
			return &StartError{Command: p.StartCommand, Err: err}
		}
	}
	return nil
}

// StartError is returned by Install when the service was installed but
// did not start.
type StartError struct {
	Command string // the start command that failed
	Err     error
}

// Error describes the failure.
func (e *StartError) Error() string {
	return fmt.Sprintf("service: installed, but %s failed: %v", e.Command, e.Err)
}

// Unwrap returns the underlying error.
func (e *StartError) Unwrap() error { return e.Err }

// mkdirAll is os.MkdirAll with mode 0700 that returns the directories it
// created, outermost first.
func mkdirAll(dir string) ([]string, error) {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		}
		missing = append([]string{d}, missing...)
		if filepath.Dir(d) == d {
			break
		}
	}
	var created []string
	for _, d := range missing {
		if err := os.Mkdir(d, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return created, err
		}
		created = append(created, d)
	}
	return created, nil
}

func chownTo(path, name string) error {
	u, err := user.Lookup(name)
	if err != nil {
		return err
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("user %s: uid %q gid %q", name, u.Uid, u.Gid)
	}
	return os.Chown(path, uid, gid)
}

// Uninstall stops the service if it runs and removes it.
func (p *Plan) Uninstall() error {
	if err := p.Check("uninstall"); err != nil {
		return err
	}
	installed, err := p.Installed()
	if err != nil {
		return err
	}
	if !installed {
		return ErrNotInstalled
	}
	svc, err := p.manager()
	if err != nil {
		return err
	}
	if st, err := svc.Status(); err == nil && st == kservice.StatusRunning {
		_ = svc.Stop()
	}
	if err := svc.Uninstall(); err != nil {
		return fmt.Errorf("service: uninstall: %w", err)
	}
	return nil
}

// Start starts the installed service.
func (p *Plan) Start() error { return p.control("start", kservice.Service.Start) }

// Stop stops the service; the daemon shuts down gracefully.
func (p *Plan) Stop() error { return p.control("stop", kservice.Service.Stop) }

// Restart stops and starts the service.
func (p *Plan) Restart() error { return p.control("restart", kservice.Service.Restart) }

func (p *Plan) control(action string, f func(kservice.Service) error) error {
	if err := p.Check(action); err != nil {
		return err
	}
	installed, err := p.Installed()
	if err != nil {
		return err
	}
	if !installed {
		return ErrNotInstalled
	}
	svc, err := p.manager()
	if err != nil {
		return err
	}
	if err := f(svc); err != nil {
		return fmt.Errorf("service: %s: %w (the logs may say why: %s)", action, err, p.Logs)
	}
	return nil
}

// State is the state of the service as status reports it.
type State string

// The states.
const (
	StateNotInstalled State = "not installed"
	StateRunning      State = "running"
	StateStopped      State = "stopped"
	StateFailed       State = "failed"
	StateUnknown      State = "unknown"
)

// Status returns the state of the service on the running machine. When the
// state cannot be queried (no systemd user session) it is StateUnknown or,
// when the file shows it installed, StateUnknown with the reason in err.
func (p *Plan) Status() (State, error) {
	installed, err := p.Installed()
	if err != nil {
		return StateUnknown, err
	}
	if !installed {
		return StateNotInstalled, nil
	}
	if err := p.Check("status"); err != nil {
		return StateUnknown, err
	}
	svc, err := p.manager()
	if err != nil {
		return StateUnknown, err
	}
	st, err := svc.Status()
	switch {
	case err != nil && strings.Contains(err.Error(), "failed state"):
		return StateFailed, nil
	case errors.Is(err, kservice.ErrNotInstalled):
		// The file is there but the manager does not know it (systemd
		// before daemon-reload, a plist not loaded).
		return StateStopped, nil
	case err != nil:
		return StateUnknown, fmt.Errorf("service: status: %w", err)
	case st == kservice.StatusRunning:
		return StateRunning, nil
	case st == kservice.StatusStopped:
		return StateStopped, nil
	}
	return StateUnknown, nil
}
