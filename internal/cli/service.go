package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/mailmirror/mailmirror/daemon/service"
)

func init() {
	register("service", "install and control the OS service (systemd, launchd, Windows)", serviceCmd)
	registerSubs("service", "install", "uninstall", "start", "stop", "restart", "status")
}

const serviceSynopsis = `service ACTION [flags]

Actions:
  install    install the service and start it
  uninstall  stop and remove the service
  start      start the installed service
  stop       stop it (the daemon shuts down gracefully)
  restart    stop and start it
  status     installed? running? where are the logs?

The service runs "mailmirror run --config <absolute config path>" with this
executable. By default it is a user service: a systemd user unit on Linux, a
LaunchAgent on macOS. Windows services are always system-wide.

Flags:`

func serviceCmd(e *Env) int {
	fs := e.Flags("service", serviceSynopsis)
	system := fs.Bool("system", false, "system-wide service (Linux systemd system unit, macOS LaunchDaemon); needs root")
	userName := fs.String("user", "", "with --system: the user the service runs as (default: the invoking user, $SUDO_USER under sudo)")
	dryRun := fs.Bool("dry-run", false, "print what install or uninstall would write and run, and change nothing")
	noStart := fs.Bool("no-start", false, "install without starting the service")
	if ok, code := e.Parse(fs); !ok {
		return code
	}
	if len(e.Args) != 1 {
		fs.Usage()
		return ExitUsage
	}
	action := e.Args[0]
	switch action {
	case "install", "uninstall", "start", "stop", "restart", "status":
	default:
		fmt.Fprintf(e.Stderr, "mailmirror service: unknown action %q\n", action)
		fs.Usage()
		return ExitUsage
	}
	if *userName != "" && !*system {
		fmt.Fprintf(e.Stderr, "mailmirror service: --user needs --system (a user service runs as you)\n")
		return ExitUsage
	}
	if *dryRun && action != "install" && action != "uninstall" {
		fmt.Fprintf(e.Stderr, "mailmirror service: --dry-run works with install and uninstall\n")
		return ExitUsage
	}
	fail := func(err error) int {
		prefix := "mailmirror service " + action + ": "
		var unusable *service.UnusableError
		if errors.As(err, &unusable) {
			prefix = "mailmirror service: " // the reason names the action
		}
		reportServiceError(e.Stderr, prefix, err)
		return ExitFailure
	}
	spec, err := serviceSpec(e, *system, *userName)
	if err != nil {
		return fail(err)
	}
	plan, err := service.NewPlan(spec)
	if err != nil {
		return fail(err)
	}
	if action == "install" {
		plan.Notes = lingerNotes(plan)
		if strings.Contains(spec.Executable, "go-build") {
			plan.Notes = append(plan.Notes, "this executable is a temporary `go run` build: install mailmirror (go install, or a release) and run the installed one")
		}
	}

	switch action {
	case "install":
		if *dryRun {
			fmt.Fprintf(e.Stdout, "dry run: nothing is changed\n")
			if err := plan.WriteInstall(e.Stdout, !*noStart); err != nil {
				return fail(err)
			}
			for _, check := range []error{plan.Preflight(), plan.Check("install")} {
				if check != nil {
					reportServiceError(e.Stderr, "note: install would stop here: ", check)
					break
				}
			}
			return ExitOK
		}
		err := plan.Install(!*noStart)
		var startErr *service.StartError
		if err != nil && !errors.As(err, &startErr) {
			return fail(err)
		}
		where := plan.File
		if where == "" {
			where = "the Windows services (services.msc)"
		}
		fmt.Fprintf(e.Stdout, "installed %s: %s\n", plan.Kind, where)
		fmt.Fprintf(e.Stdout, "runs:     %s\n", plan.CommandLine())
		if startErr != nil {
			reportServiceError(e.Stderr, "mailmirror service install: ", startErr)
		} else if !*noStart {
			fmt.Fprintf(e.Stdout, "started\n")
		}
		fmt.Fprintf(e.Stdout, "logs:     %s\n", plan.Logs)
		for _, n := range plan.Notes {
			fmt.Fprintf(e.Stdout, "note:     %s\n", n)
		}
		if startErr != nil {
			return ExitFailure
		}
	case "uninstall":
		if *dryRun {
			fmt.Fprintf(e.Stdout, "dry run: nothing is changed\n")
			if err := plan.WriteUninstall(e.Stdout); err != nil {
				return fail(err)
			}
			return ExitOK
		}
		if err := plan.Uninstall(); err != nil {
			return fail(err)
		}
		fmt.Fprintf(e.Stdout, "uninstalled %s %s\n", plan.Kind, plan.File)
	case "start", "stop", "restart":
		f := map[string]func() error{"start": plan.Start, "stop": plan.Stop, "restart": plan.Restart}[action]
		if err := f(); err != nil {
			return fail(err)
		}
		past := map[string]string{"start": "started", "stop": "stopped", "restart": "restarted"}[action]
		fmt.Fprintf(e.Stdout, "%s %s\n", past, plan.Name)
	case "status":
		return serviceStatus(e, plan, spec)
	}
	return ExitOK
}

func serviceStatus(e *Env, plan *service.Plan, spec service.Spec) int {
	state, err := plan.Status()
	var unusable *service.UnusableError
	switch {
	case errors.As(err, &unusable):
		state = service.State(string(service.StateUnknown) + " (" + unusable.Reason + ")")
	case err != nil:
		reportServiceError(e.Stderr, "mailmirror service status: ", err)
		return ExitFailure
	}
	fmt.Fprintf(e.Stdout, "service:  %s (%s)\n", plan.Name, plan.Kind)
	if plan.File != "" {
		fmt.Fprintf(e.Stdout, "file:     %s\n", plan.File)
	}
	if state == service.StateNotInstalled {
		if errors.As(plan.Check("install"), &unusable) {
			fmt.Fprintf(e.Stdout, "state:    not installed, and install would be refused: %s\n", unusable.Reason)
			for _, s := range unusable.Instead {
				fmt.Fprintf(e.Stdout, "instead:  %s\n", s)
			}
		} else {
			fmt.Fprintf(e.Stdout, "state:    not installed (install it with: mailmirror service install%s)\n",
				map[bool]string{true: " --system"}[spec.System && spec.OS != "windows"])
		}
		if spec.OS != "windows" {
			// Say so when the other scope has it.
			other := spec
			other.System = !spec.System
			if other.System && other.User == "" {
				other.User = "root"
			}
			if op, err := service.NewPlan(other); err == nil {
				if ok, _ := op.Installed(); ok {
					flag := map[bool]string{true: " --system"}[other.System]
					fmt.Fprintf(e.Stdout, "note:     a %s is installed: mailmirror service status%s\n", op.Kind, flag)
				}
			}
		}
		return ExitOK
	}
	fmt.Fprintf(e.Stdout, "state:    %s\n", state)
	fmt.Fprintf(e.Stdout, "runs:     %s\n", plan.CommandLine())
	fmt.Fprintf(e.Stdout, "logs:     %s\n", plan.Logs)
	return ExitOK
}

// serviceSpec describes the service for this executable, config and user.
func serviceSpec(e *Env, system bool, userName string) (service.Spec, error) {
	spec := service.Spec{OS: runtime.GOOS, System: system || runtime.GOOS == "windows"}
	exe, err := os.Executable()
	if err != nil {
		return spec, fmt.Errorf("cannot find this executable's path: %w", err)
	}
	if spec.Executable, err = filepath.Abs(exe); err != nil {
		return spec, err
	}
	cur, err := user.Current()
	if err != nil {
		return spec, fmt.Errorf("who am I: %w", err)
	}
	spec.User = cur.Username
	switch {
	case runtime.GOOS == "windows":
		if userName != "" {
			return spec, errors.New(`--user is not supported on Windows: the service runs as LocalSystem; set "Log On" in services.msc to run it as another account`)
		}
		spec.Env = map[string]string{}
		for _, k := range []string{"USERPROFILE", "APPDATA", "LOCALAPPDATA"} {
			if v := os.Getenv(k); v != "" {
				spec.Env[k] = v
			}
		}
	case system:
		spec.User = userName
		if spec.User == "" {
			spec.User = cur.Username
			if sudo := os.Getenv("SUDO_USER"); sudo != "" && os.Geteuid() == 0 {
				spec.User = sudo
			}
		}
		u, err := user.Lookup(spec.User)
		if err != nil {
			return spec, fmt.Errorf("user %q: %w", spec.User, err)
		}
		spec.Home = u.HomeDir
	default:
		if spec.Home, err = os.UserHomeDir(); err != nil {
			return spec, err
		}
	}
	cfg := e.ConfigPath
	if cfg == "" {
		cfg = DefaultConfigPath()
		if system && spec.User != cur.Username && os.Getenv("MAILMIRROR_CONFIG") == "" {
			// Under sudo the default is the service user's config, not root's.
			cfg = userConfigPath(spec.Home)
		}
	}
	if spec.ConfigPath, err = filepath.Abs(cfg); err != nil {
		return spec, err
	}
	return spec, nil
}

// userConfigPath is DefaultConfigPath for the user whose home is home.
func userConfigPath(home string) string {
	if runtime.GOOS == "darwin" {
		return filepath.Join(home, "Library", "Application Support", "mailmirror", "config.toml")
	}
	return filepath.Join(home, ".config", "mailmirror", "config.toml")
}

// lingerNotes drops the note about loginctl enable-linger when lingering
// is on already.
func lingerNotes(p *service.Plan) []string {
	if p.Kind != service.SystemdUser {
		return p.Notes
	}
	if _, err := os.Stat(filepath.Join("/var/lib/systemd/linger", p.Spec.User)); err != nil {
		return p.Notes
	}
	var notes []string
	for _, n := range p.Notes {
		if !strings.Contains(n, "enable-linger") {
			notes = append(notes, n)
		}
	}
	return append(notes, "lingering is enabled for "+p.Spec.User+": the service starts at boot")
}

// reportServiceError prints err for the user after prefix: the reason and
// what to do instead when the service manager is unusable, else one line.
func reportServiceError(w io.Writer, prefix string, err error) {
	var unusable *service.UnusableError
	if !errors.As(err, &unusable) {
		fmt.Fprintf(w, "%s%s\n", prefix, strings.TrimPrefix(err.Error(), "service: "))
		return
	}
	fmt.Fprintf(w, "%s%s\n", prefix, unusable.Reason)
	if len(unusable.Instead) > 0 {
		fmt.Fprintf(w, "what to do instead:\n")
		for _, s := range unusable.Instead {
			fmt.Fprintf(w, "  - %s\n", s)
		}
	}
}
