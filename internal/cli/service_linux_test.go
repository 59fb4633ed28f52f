package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/mailmirror/mailmirror/daemon/service"
)

// serviceTestEnv gives the test a home and a zero-account config in a
// directory whose name needs quoting in a unit file.
func serviceTestEnv(t *testing.T) (home, cfg string) {
	tmp := t.TempDir()
	home = filepath.Join(tmp, "home")
	dir := filepath.Join(tmp, "conf dir 100%")
	for _, d := range []string{home, dir} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	cfg = filepath.Join(dir, "config.toml")
	state := filepath.Join(tmp, "state")
	if err := os.WriteFile(cfg, []byte("state_dir = "+strconv.Quote(state)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", home)
	return home, cfg
}

// unitFile returns the unit content between the dry run's begin and end
// markers.
func unitFile(t *testing.T, dryRun string) string {
	t.Helper()
	_, rest, ok := strings.Cut(dryRun, "----- begin ")
	_, rest, ok2 := strings.Cut(rest, " -----\n")
	content, _, ok3 := strings.Cut(rest, "----- end ")
	if !ok || !ok2 || !ok3 {
		t.Fatalf("no unit file in the dry run output:\n%s", dryRun)
	}
	return content
}

func TestServiceInstallDryRun(t *testing.T) {
	home, cfg := serviceTestEnv(t)
	code, stdout, stderr := runCLI("service", "install", "--dry-run", "--config", cfg)
	if code != ExitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(home, ".config/systemd/user/mailmirror.service")
	if !strings.Contains(stdout, "write:    "+file+" (mode 0644)\n") {
		t.Errorf("dry run does not name %s:\n%s", file, stdout)
	}
	plan, err := service.NewPlan(service.Spec{OS: "linux", Executable: exe, ConfigPath: cfg, User: "x", Home: home})
	if err != nil {
		t.Fatal(err)
	}
	if got := unitFile(t, stdout); got != plan.Content {
		t.Errorf("unit in the dry run:\n%s\nwant:\n%s", got, plan.Content)
	}
	for _, want := range []string{
		"WantedBy=default.target\n", "Restart=on-failure\n", "RestartSec=5s\n",
		"run:      systemctl daemon-reload --user\n" +
			"run:      systemctl enable --user mailmirror.service\n" +
			"run:      systemctl start --user mailmirror.service\n",
		"logs:     journalctl --user -u mailmirror -f\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("dry run lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stdout, "loginctl enable-linger") && !strings.Contains(stdout, "lingering is enabled") {
		t.Errorf("dry run says nothing about lingering:\n%s", stdout)
	}
	if entries, _ := os.ReadDir(home); len(entries) != 0 {
		t.Errorf("dry run wrote into the home directory: %v", entries)
	}

	code, stdout, stderr = runCLI("service", "install", "--dry-run", "--system", "--user", "root", "--config", cfg)
	if code != ExitOK {
		t.Fatalf("--system: exit %d; stderr:\n%s", code, stderr)
	}
	unit := unitFile(t, stdout)
	for _, want := range []string{"User=root\n", "WantedBy=multi-user.target\n"} {
		if !strings.Contains(unit, want) {
			t.Errorf("system unit lacks %q:\n%s", want, unit)
		}
	}
	if !strings.Contains(stdout, "write:    /etc/systemd/system/mailmirror.service") {
		t.Errorf("system dry run:\n%s", stdout)
	}
}

func TestServiceInstallWithoutUserSession(t *testing.T) {
	home, cfg := serviceTestEnv(t)
	t.Setenv("XDG_RUNTIME_DIR", "")
	code, stdout, stderr := runCLI("service", "install", "--config", cfg)
	if code != ExitFailure {
		t.Fatalf("exit %d, want %d; stdout:\n%s\nstderr:\n%s", code, ExitFailure, stdout, stderr)
	}
	// Which check fails first depends on the machine: no systemd at all,
	// or no user session.
	if !strings.Contains(stderr, "no systemd user session") && !strings.Contains(stderr, "systemd is not running") {
		t.Errorf("stderr does not say what is missing:\n%s", stderr)
	}
	want := "mailmirror run --config '" + cfg + "'"
	if !strings.Contains(stderr, "what to do instead:") || !strings.Contains(stderr, want) {
		t.Errorf("stderr does not say what to do instead (%s):\n%s", want, stderr)
	}
	if strings.Contains(stderr, "goroutine") || strings.Contains(stderr, "panic") {
		t.Errorf("stack trace:\n%s", stderr)
	}
	if entries, _ := os.ReadDir(home); len(entries) != 0 {
		t.Errorf("refused install wrote into the home directory: %v", entries)
	}

	code, stdout, stderr = runCLI("service", "status")
	if code != ExitOK || !strings.Contains(stdout, "state:    not installed, and install would be refused") {
		t.Errorf("status: exit %d\n%s%s", code, stdout, stderr)
	}
}

// TestServiceStatusSaysWhyInstallIsRefused: where install would be
// refused (no systemd user session here), status says why and what to do
// instead, not just "not installed" with an install command that fails.
func TestServiceStatusSaysWhyInstallIsRefused(t *testing.T) {
	_, cfg := serviceTestEnv(t)
	t.Setenv("XDG_RUNTIME_DIR", "")
	code, stdout, stderr := runCLI("service", "status", "--config", cfg)
	if code != ExitOK {
		t.Fatalf("exit %d; stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "state:    not installed, and install would be refused: ") {
		t.Errorf("status does not say install would be refused:\n%s", stdout)
	}
	if !strings.Contains(stdout, "no systemd user session") && !strings.Contains(stdout, "systemd is not running") {
		t.Errorf("status does not say why:\n%s", stdout)
	}
	if strings.Contains(stdout, "install it with") {
		t.Errorf("status suggests an install that would be refused:\n%s", stdout)
	}
	if !strings.Contains(stdout, "instead:  ") || !strings.Contains(stdout, "mailmirror run --config '"+cfg+"'") {
		t.Errorf("status does not say what to do instead:\n%s", stdout)
	}
}

func TestServiceInstallMissingConfig(t *testing.T) {
	home, cfg := serviceTestEnv(t)
	os.Remove(cfg)
	code, _, stderr := runCLI("service", "install", "--config", cfg)
	if code != ExitFailure || !strings.Contains(stderr, "does not exist") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
	if entries, _ := os.ReadDir(home); len(entries) != 0 {
		t.Errorf("refused install wrote into the home directory: %v", entries)
	}
}

// TestServiceExecStartRuns builds mailmirror, takes the command from the
// ExecStart= line of the dry-run unit, runs it, waits for the daemon's
// msg=ready line, stops it with SIGTERM and expects exit status 0.
func TestServiceExecStartRuns(t *testing.T) {
	home, cfg := serviceTestEnv(t)
	exe := testBinary(t)
	dry := exec.Command(exe, "service", "install", "--dry-run", "--config", cfg)
	dry.Env = append(os.Environ(), "HOME="+home)
	out, err := dry.Output()
	if err != nil {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	var execStart string
	for _, l := range strings.Split(unitFile(t, string(out)), "\n") {
		if v, ok := strings.CutPrefix(l, "ExecStart="); ok {
			execStart = v
		}
	}
	argv, err := parseExecStart(execStart)
	if err != nil {
		t.Fatalf("ExecStart=%s: %v", execStart, err)
	}
	if want := []string{exe, "run", "--config", cfg}; !slices.Equal(argv, want) {
		t.Fatalf("ExecStart=%s\nparses as %q, want %q", execStart, argv, want)
	}

	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "HOME="+home)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = cmd.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := false
	t.Cleanup(func() {
		if !exited {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	var log strings.Builder
	ready := make(chan bool, 1)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(stderr)
		found := false
		for sc.Scan() {
			fmt.Fprintln(&log, sc.Text())
			if !found && (strings.Contains(sc.Text(), "msg=ready") || strings.Contains(sc.Text(), `"msg":"ready"`)) {
				found = true
				ready <- true
			}
		}
		io.Copy(io.Discard, stderr)
		if !found {
			ready <- false
		}
	}()
	if !<-ready {
		<-drained
		err := cmd.Wait()
		exited = true
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == ExitUsage && strings.Contains(log.String(), "not implemented yet") {
			if os.Getenv("CI") == "" {
				t.Skipf("`mailmirror run` is not implemented yet (exit 2): %s", strings.TrimSpace(log.String()))
			}
			t.Fatalf("`mailmirror run` is not implemented yet, and CI is set: %s", log.String())
		}
		t.Fatalf("daemon exited (%v) without a msg=ready line; output:\n%s", err, log.String())
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-drained
	err = cmd.Wait()
	exited = true
	t.Logf("daemon output:\n%s", log.String())
	if err != nil {
		t.Fatalf("daemon did not exit cleanly after SIGTERM: %v", err)
	}
}

// parseExecStart splits an ExecStart= value into words the way systemd
// does for what systemd.service(5) allows: double-quoted words with C
// escapes, plain words, "%%" for "%" and "$$" for "$".
func parseExecStart(s string) ([]string, error) {
	var words []string
	for i := 0; i < len(s); {
		if s[i] == ' ' {
			i++
			continue
		}
		var w strings.Builder
		if s[i] == '"' {
			i++
			for {
				if i >= len(s) {
					return nil, errors.New("unterminated quote")
				}
				c := s[i]
				if c == '"' {
					i++
					break
				}
				if c == '\\' && i+1 < len(s) {
					i++
					switch s[i] {
					case '"', '\\', '\'':
						c = s[i]
					case 'n':
						c = '\n'
					case 't':
						c = '\t'
					default:
						return nil, fmt.Errorf("unsupported escape \\%c", s[i])
					}
				}
				w.WriteByte(c)
				i++
			}
			if i < len(s) && s[i] != ' ' {
				return nil, errors.New("text right after a closing quote")
			}
		} else {
			for i < len(s) && s[i] != ' ' {
				if s[i] == '"' || s[i] == '\\' {
					return nil, fmt.Errorf("unquoted %c", s[i])
				}
				w.WriteByte(s[i])
				i++
			}
		}
		word := strings.NewReplacer("%%", "%", "$$", "$").Replace(w.String())
		if strings.ContainsAny(strings.ReplaceAll(strings.ReplaceAll(w.String(), "%%", ""), "$$", ""), "%$") {
			return nil, fmt.Errorf("unescaped specifier or variable in %q", w.String())
		}
		words = append(words, word)
	}
	return words, nil
}
