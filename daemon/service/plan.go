package service

import (
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	kservice "github.com/kardianos/service"
)

// Kind is the kind of service a Plan installs.
type Kind string

// The kinds of service, one per target OS and scope.
const (
	SystemdUser    Kind = "systemd-user"   // ~/.config/systemd/user/mailmirror.service
	SystemdSystem  Kind = "systemd-system" // /etc/systemd/system/mailmirror.service
	LaunchAgent    Kind = "launchd-agent"  // ~/Library/LaunchAgents/<Label>.plist
	LaunchDaemon   Kind = "launchd-daemon" // /Library/LaunchDaemons/<Label>.plist
	WindowsService Kind = "windows-scm"    // a service in the Windows SCM
)

// String returns a short human description of the kind.
func (k Kind) String() string {
	switch k {
	case SystemdUser:
		return "systemd user service"
	case SystemdSystem:
		return "systemd system service"
	case LaunchAgent:
		return "launchd LaunchAgent (user)"
	case LaunchDaemon:
		return "launchd LaunchDaemon (system)"
	case WindowsService:
		return "Windows service"
	}
	return string(k)
}

// Timing of the installed services.
const (
	// StopTimeout is how long Run waits for the daemon to return after the
	// service manager asked it to stop.
	StopTimeout = 20 * time.Second
	// RestartDelay is how long systemd and launchd wait before restarting
	// a daemon that exited with an error.
	RestartDelay = 5 * time.Second
	// managerStopTimeout is what the unit and plist give the daemon to stop
	// before the manager kills it: more than StopTimeout.
	managerStopTimeout = 30 * time.Second
)

// Spec says what to install. It is plain data filled in by the caller, so
// that a Plan can be computed for any target OS on any OS.
type Spec struct {
	OS         string            // target GOOS: "linux", "darwin" or "windows"
	System     bool              // system-wide service instead of a per-user one (always so on Windows)
	Executable string            // absolute path of the mailmirror executable
	ConfigPath string            // absolute path of the config file
	User       string            // the account the service runs as (system services) or belongs to
	Home       string            // that account's home directory
	Env        map[string]string // extra environment for the service (Windows: profile folders)
}

// RecoveryAction is one Windows SCM recovery action: restart the service
// after Delay.
type RecoveryAction struct {
	Delay time.Duration
}

// WindowsConfig is what install registers in the Windows SCM.
type WindowsConfig struct {
	CommandLine      string            // the service's command line, as the SCM stores it
	StartType        string            // "automatic"
	DelayedAutoStart bool              // start a little after boot, when the network is up
	Account          string            // the account the service runs as
	Env              map[string]string // service environment (registry "Environment")
	Recovery         []RecoveryAction  // on the first, second and later failures
	ResetPeriod      time.Duration     // failure count reset after this long without failure
	NonCrashFailures bool              // also recover when the service stops with an error code
	EventSource      string            // Event Log source name (Windows Logs > Application)
}

// Plan is what install does for one Spec: the file and its exact content,
// the directories it creates and the commands it runs, and where the logs
// go. NewPlan computes it without any I/O.
type Plan struct {
	Spec        Spec
	Kind        Kind
	Name        string   // service name (Windows, systemd) or launchd label
	DisplayName string   // human name
	Description string   // one line
	Arguments   []string // the daemon's arguments after the executable
	File        string   // the file install writes; "" on Windows
	Content     string   // its exact content
	Dirs        []string // directories install creates before writing File
	// InstallCommands are the commands install runs after writing File, in
	// order; each is shown as a shell command line.
	InstallCommands []string
	// StartCommand starts the service ("mailmirror service start").
	StartCommand string
	// UninstallCommands are run by uninstall around removing File.
	UninstallCommands []string
	Logs              string   // where to read the logs
	Notes             []string // things the user should know after install
	// Warnings are set by Install: the settings the service manager
	// refused (Wine's SCM: delayed start, recovery on error exits), one
	// sentence each; Install appends them to Notes too, as "not applied: …".
	Warnings []string
	Windows  *WindowsConfig // Windows only
}

// ErrUnsupportedOS is returned by NewPlan for a target OS with no service
// support.
var ErrUnsupportedOS = errors.New("service: unsupported operating system")

// NewPlan computes the installation plan for spec. It does no I/O, so it
// can render the unit, plist or SCM settings of any target OS.
func NewPlan(spec Spec) (*Plan, error) {
	if err := checkSpec(spec); err != nil {
		return nil, err
	}
	p := &Plan{
		Spec:        spec,
		DisplayName: DisplayName,
		Description: Description,
		Arguments:   []string{"run", "--config", spec.ConfigPath},
	}
	switch spec.OS {
	case "linux":
		planSystemd(p)
	case "darwin":
		planLaunchd(p)
	case "windows":
		planWindows(p)
	}
	return p, nil
}

func checkSpec(spec Spec) error {
	switch spec.OS {
	case "linux", "darwin", "windows":
	default:
		return fmt.Errorf("%w: %q (mailmirror services run on linux, darwin and windows)", ErrUnsupportedOS, spec.OS)
	}
	for _, f := range []struct{ what, v string }{
		{"executable", spec.Executable},
		{"config file", spec.ConfigPath},
		{"home directory", spec.Home},
	} {
		if f.what == "home directory" && spec.OS == "windows" {
			continue // not used: the SCM has no per-user files
		}
		if !isAbs(spec.OS, f.v) {
			return fmt.Errorf("service: %s path %q is not absolute", f.what, f.v)
		}
		if err := checkText(f.v); err != nil {
			return fmt.Errorf("service: %s path %q: %w", f.what, f.v, err)
		}
	}
	if spec.System && spec.OS != "windows" && spec.User == "" {
		return errors.New("service: a system service needs the user to run as")
	}
	if err := checkText(spec.User); err != nil {
		return fmt.Errorf("service: user name %q: %w", spec.User, err)
	}
	if spec.OS != "windows" && strings.ContainsAny(spec.User, " \t\"'\\/") {
		return fmt.Errorf("service: user name %q: invalid character", spec.User)
	}
	for k, v := range spec.Env {
		if k == "" || strings.Contains(k, "=") || checkText(k) != nil || checkText(v) != nil {
			return fmt.Errorf("service: invalid environment variable %q", k)
		}
	}
	return nil
}

// checkText rejects what cannot be written safely into a unit or plist, or
// passed through kardianos's template engine (which the rendered content
// goes through verbatim only when it holds no "{{").
func checkText(s string) error {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return errors.New("control characters are not allowed")
		}
	}
	if strings.Contains(s, "{{") {
		return errors.New(`"{{" is not allowed`)
	}
	return nil
}

func isAbs(goos, p string) bool {
	if goos == "windows" {
		if len(p) >= 3 && p[1] == ':' && (p[2] == '\\' || p[2] == '/') {
			c := p[0] | 0x20
			return c >= 'a' && c <= 'z'
		}
		return strings.HasPrefix(p, `\\`)
	}
	return path.IsAbs(p)
}

// ServiceConfig returns the kardianos/service configuration that install
// passes to the service manager. The unit and plist are pre-rendered: the
// SystemdScript and LaunchdConfig options hold p.Content verbatim, so the
// file written is exactly p.Content. Every option value has the Go type
// kardianos expects (a wrong type would be silently ignored).
func (p *Plan) ServiceConfig() *kservice.Config {
	c := &kservice.Config{
		Name:        p.Name,
		DisplayName: p.DisplayName,
		Description: p.Description,
		Executable:  p.Spec.Executable,
		Arguments:   slices.Clone(p.Arguments),
		Option:      kservice.KeyValue{},
	}
	switch p.Kind {
	case SystemdUser, SystemdSystem:
		c.Option["UserService"] = p.Kind == SystemdUser
		c.Option["SystemdScript"] = p.Content
		if p.Kind == SystemdSystem {
			c.UserName = p.Spec.User
		}
	case LaunchAgent, LaunchDaemon:
		c.Option["UserService"] = p.Kind == LaunchAgent
		c.Option["LaunchdConfig"] = p.Content
		c.Option["RunAtLoad"] = true
		c.Option["KeepAlive"] = true
		if p.Kind == LaunchDaemon {
			c.UserName = p.Spec.User
		}
	case WindowsService:
		w := p.Windows
		c.Option["StartType"] = w.StartType
		// Not through kardianos: where the SCM refuses the delayed-start
		// level (Wine), its CreateService fails the whole install. Install
		// sets it afterwards (setWindowsSettings).
		c.Option["DelayedAutoStart"] = false
		c.Option["OnFailure"] = "restart"
		c.Option["OnFailureDelayDuration"] = w.Recovery[0].Delay.String()
		c.Option["OnFailureResetPeriod"] = int(w.ResetPeriod / time.Second)
		if len(w.Env) > 0 {
			c.EnvVars = maps.Clone(w.Env)
		}
	}
	return c
}
