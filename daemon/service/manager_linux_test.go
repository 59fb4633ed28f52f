package service

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fakeSystemctl is a systemctl that logs its arguments, fails when they
// contain $FAKE_SYSTEMCTL_FAIL, and answers is-active with
// $FAKE_SYSTEMCTL_STATE.
const fakeSystemctl = `#!/bin/sh
echo "$*" >> "$FAKE_SYSTEMCTL_LOG"
if [ -n "$FAKE_SYSTEMCTL_FAIL" ]; then
	case " $* " in *" $FAKE_SYSTEMCTL_FAIL "*) echo "fake failure of $FAKE_SYSTEMCTL_FAIL" >&2; exit 1;; esac
fi
case "$1" in
is-active) echo "${FAKE_SYSTEMCTL_STATE:-inactive}"; [ "$FAKE_SYSTEMCTL_STATE" = active ] && exit 0; exit 3;;
list-unit-files) echo "mailmirror.service enabled";;
esac
exit 0
`

type fakeSystemd struct {
	t    *testing.T
	log  string
	plan *Plan
}

// newFakeSystemd installs a fake systemctl first in $PATH, a fake user
// session and home, and returns a user-service plan for them.
func newFakeSystemd(t *testing.T) *fakeSystemd {
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "bin")
	if err := os.Mkdir(bin, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "systemctl"), []byte(fakeSystemctl), 0o700); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(tmp, "home")
	exe := filepath.Join(tmp, "mailmirror")
	cfg := filepath.Join(tmp, "config.toml")
	for _, f := range []string{exe, cfg} {
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	f := &fakeSystemd{t: t, log: filepath.Join(tmp, "systemctl.log")}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("HOME", home)
	t.Setenv("XDG_RUNTIME_DIR", tmp)
	t.Setenv("FAKE_SYSTEMCTL_LOG", f.log)
	t.Setenv("FAKE_SYSTEMCTL_FAIL", "")
	t.Setenv("FAKE_SYSTEMCTL_STATE", "")
	old := systemdRunDir
	systemdRunDir = tmp
	t.Cleanup(func() { systemdRunDir = old })
	f.plan = mustPlan(t, Spec{OS: "linux", Executable: exe, ConfigPath: cfg, User: "alice", Home: home})
	return f
}

// calls returns the systemctl command lines run since the last call,
// without the session probe.
func (f *fakeSystemd) calls() []string {
	data, err := os.ReadFile(f.log)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		f.t.Fatal(err)
	}
	os.Remove(f.log)
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if l != "" && l != "--user show-environment" {
			out = append(out, "systemctl "+l)
		}
	}
	return out
}

func TestInstallWritesWhatDryRunShows(t *testing.T) {
	f := newFakeSystemd(t)
	p := f.plan
	if err := p.Install(true); err != nil {
		t.Fatalf("Install: %v", err)
	}
	got, err := os.ReadFile(p.File)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != p.Content {
		t.Errorf("installed unit:\n%s\ndry-run content:\n%s", got, p.Content)
	}
	want := append(slices.Clone(p.InstallCommands), p.StartCommand)
	if calls := f.calls(); !slices.Equal(calls, want) {
		t.Errorf("commands run:\n%q\ndry-run commands:\n%q", calls, want)
	}
	fi, err := os.Stat(filepath.Dir(p.File))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("unit directory: %v, mode %v", err, fi.Mode())
	}

	if err := p.Install(true); !errors.Is(err, ErrAlreadyInstalled) {
		t.Errorf("second Install: %v, want ErrAlreadyInstalled", err)
	}
	if calls := f.calls(); len(calls) != 0 {
		t.Errorf("second Install ran %q", calls)
	}

	t.Setenv("FAKE_SYSTEMCTL_STATE", "active")
	if st, err := p.Status(); st != StateRunning || err != nil {
		t.Errorf("Status = %s, %v; want running", st, err)
	}
	t.Setenv("FAKE_SYSTEMCTL_STATE", "inactive")
	if st, err := p.Status(); st != StateStopped || err != nil {
		t.Errorf("Status = %s, %v; want stopped", st, err)
	}
	t.Setenv("FAKE_SYSTEMCTL_STATE", "failed")
	if st, err := p.Status(); st != StateFailed || err != nil {
		t.Errorf("Status = %s, %v; want failed", st, err)
	}
	f.calls()

	if err := p.Restart(); err != nil {
		t.Errorf("Restart: %v", err)
	}
	if calls := f.calls(); !slices.Equal(calls, []string{"systemctl restart --user mailmirror.service"}) {
		t.Errorf("Restart ran %q", calls)
	}

	t.Setenv("FAKE_SYSTEMCTL_STATE", "active")
	if err := p.Uninstall(); err != nil {
		t.Fatalf("Uninstall: %v", err)
	}
	if _, err := os.Stat(p.File); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("unit still there after Uninstall: %v", err)
	}
	wantUn := []string{
		"systemctl is-active mailmirror.service --user",
		"systemctl stop --user mailmirror.service",
		"systemctl disable --user mailmirror.service",
		"systemctl daemon-reload --user",
	}
	if calls := f.calls(); !slices.Equal(calls, wantUn) {
		t.Errorf("Uninstall ran:\n%q\nwant:\n%q", calls, wantUn)
	}
	if st, err := p.Status(); st != StateNotInstalled || err != nil {
		t.Errorf("Status after Uninstall = %s, %v", st, err)
	}
	if err := p.Uninstall(); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("second Uninstall: %v, want ErrNotInstalled", err)
	}
	if err := p.Start(); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("Start when not installed: %v, want ErrNotInstalled", err)
	}
}

func TestInstallRollsBackOnFailure(t *testing.T) {
	f := newFakeSystemd(t)
	p := f.plan
	t.Setenv("FAKE_SYSTEMCTL_FAIL", "daemon-reload")
	err := p.Install(true)
	if err == nil {
		t.Fatal("Install succeeded with a failing daemon-reload")
	}
	home := p.Spec.Home
	if _, err := os.Stat(filepath.Join(home, ".config")); !errors.Is(err, fs.ErrNotExist) {
		entries, _ := filepath.Glob(filepath.Join(home, ".config", "*", "*", "*"))
		t.Errorf("half-installed files left after a failed install: %v %q", err, entries)
	}
}

func TestInstallKeepsServiceWhenStartFails(t *testing.T) {
	f := newFakeSystemd(t)
	p := f.plan
	t.Setenv("FAKE_SYSTEMCTL_FAIL", "start")
	err := p.Install(true)
	var se *StartError
	if !errors.As(err, &se) {
		t.Fatalf("Install: %v, want a StartError", err)
	}
	if se.Command != "systemctl start --user mailmirror.service" {
		t.Errorf("StartError.Command = %q", se.Command)
	}
	if ok, err := p.Installed(); !ok || err != nil {
		t.Errorf("Installed = %v, %v after a failed start; want installed", ok, err)
	}
}

func TestInstallRefusesWithoutUserSession(t *testing.T) {
	f := newFakeSystemd(t)
	p := f.plan

	t.Setenv("XDG_RUNTIME_DIR", "")
	err := p.Install(true)
	var ue *UnusableError
	if !errors.As(err, &ue) || !strings.Contains(ue.Reason, "XDG_RUNTIME_DIR") {
		t.Fatalf("Install without XDG_RUNTIME_DIR: %v", err)
	}
	if len(ue.Instead) == 0 || !strings.Contains(ue.Instead[0], "mailmirror run --config "+p.Spec.ConfigPath) {
		t.Errorf("advice %q", ue.Instead)
	}

	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	t.Setenv("FAKE_SYSTEMCTL_FAIL", "show-environment")
	err = p.Install(true)
	if !errors.As(err, &ue) || !strings.Contains(ue.Reason, "fake failure of show-environment") {
		t.Fatalf("Install with a failing systemctl --user: %v", err)
	}

	systemdRunDir = filepath.Join(t.TempDir(), "absent")
	err = p.Install(true)
	if !errors.As(err, &ue) || !strings.Contains(ue.Reason, "systemd is not running") {
		t.Fatalf("Install without systemd: %v", err)
	}

	if _, err := os.Stat(filepath.Join(p.Spec.Home, ".config")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("refused installs wrote files: %v", err)
	}
	if calls := f.calls(); len(calls) != 0 {
		t.Errorf("refused installs ran %q", calls)
	}
}

func TestInstallRefusesMissingConfig(t *testing.T) {
	f := newFakeSystemd(t)
	p := f.plan
	os.Remove(p.Spec.ConfigPath)
	err := p.Install(true)
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("Install without a config file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(p.Spec.Home, ".config")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("refused install wrote files: %v", err)
	}
}
