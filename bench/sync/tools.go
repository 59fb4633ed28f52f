//go:build unix

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/mailmirror/mailmirror/bench/corpus"
	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/state"
	"github.com/mailmirror/mailmirror/syncer"
)

// tool is one program under measurement with a Maildir of its own.
type tool struct {
	name    string
	maildir string // root of its Maildir tree, verbatim layout
	sync    func() (childStats, error)
	version []string // command printing the version: the cost of starting the program
	res     toolResults
}

// toolResults are a tool's figures, as written to the JSON file.
type toolResults struct {
	Version string `json:"version,omitempty"`
	// Startup is the median of 9 runs of the version command: what merely
	// starting the program costs, a floor under every sync.
	Startup      *result   `json:"startup,omitempty"`
	First        *result   `json:"first_sync,omitempty"`
	NoChange     *result   `json:"no_change_median,omitempty"`
	NoChangeRuns []*result `json:"no_change_runs,omitempty"`
	FlagsChanged *result   `json:"flags_changed_1pct,omitempty"`
	NewMessage   *result   `json:"new_message,omitempty"`
	PeakRSSKB    int64     `json:"peak_rss_kb"`     // over every measured child run
	Stored       int       `json:"messages_stored"` // after the last run
	// Differences from the server (Message-ID and flags, folder by
	// folder) after the first sync, the 1%-changed sync and the last one.
	Differences map[string]int `json:"differences_from_server"`
	// RevertedOnServer counts the other client's flag changes this tool
	// undid on the server (pushed the old flags back).
	RevertedOnServer int      `json:"reverted_on_server"`
	Warnings         []string `json:"warnings,omitempty"`
}

// runs lists the measured runs.
func (t *toolResults) runs() []*result {
	var out []*result
	for _, r := range append([]*result{t.First, t.FlagsChanged, t.NewMessage}, t.NoChangeRuns...) {
		if r != nil {
			out = append(out, r)
		}
	}
	return out
}

// warn records and prints a warning about a tool.
func (t *tool) warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	t.res.Warnings = append(t.res.Warnings, msg)
	fmt.Printf("  WARNING: %s: %s\n", t.name, msg)
}

// measureStartup runs the tool's version command 9 times and keeps the
// median.
func (t *tool) measureStartup() error {
	var rs []*result
	for range 9 {
		cs, err := runChild(t.name, exec.Command(t.version[0], t.version[1:]...), false)
		if err != nil {
			return err
		}
		rs = append(rs, &result{Seconds: cs.Wall.Seconds(), RSSKB: cs.RSSKB})
	}
	t.res.Startup = median(rs)
	return nil
}

// goFloorTool builds, as mailmirror is built, a Go program that prints
// one line and exits: what starting any Go binary costs on this machine
// (the runtime, no packages of note), the floor under mailmirror's start.
func goFloorTool(dir string) (*tool, error) {
	src := filepath.Join(dir, "gofloor")
	if err := os.MkdirAll(src, 0o700); err != nil {
		return nil, err
	}
	files := map[string]string{
		"go.mod":  "module gofloor\n\ngo 1.26\n",
		"main.go": "package main\n\nimport \"os\"\n\nfunc main() { os.Stdout.WriteString(\"gofloor\\n\") }\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(src, name), []byte(text), 0o600); err != nil {
			return nil, err
		}
	}
	bin := filepath.Join(src, "gofloor")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-mod=mod")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build (Go floor): %v: %s", err, out)
	}
	return &tool{name: "gofloor", version: []string{bin}}, nil
}

// envPassword names the environment variable holding the password for
// mailmirror (password_env).
const envPassword = "MAILMIRROR_BENCH_PASSWORD"

// newMailmirror builds the binary from the module at repo into dir and
// writes a config for the server's user, with a fresh Maildir and state
// directory under dir, reaching the server on port. It returns the tool
// and the config path.
func newMailmirror(dir, repo string, srv *corpus.Server, port int) (*tool, string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", err
	}
	bin := filepath.Join(dir, "mailmirror")
	// Built as the release archives are (scripts/dist.sh): without cgo, a
	// static binary, which starts several milliseconds sooner than the
	// dynamically linked one a plain `go build` makes.
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		return nil, "", fmt.Errorf("go build: %v: %s", err, out)
	}
	t := &tool{name: "mailmirror", maildir: filepath.Join(dir, "Mail"), version: []string{bin, "version"}}
	if out, err := exec.Command(bin, "version").Output(); err == nil {
		t.res.Version = strings.TrimSpace(string(out))
	}
	cfgPath := filepath.Join(dir, "config.toml")
	cfg := fmt.Sprintf(`# Written by bench/sync.
state_dir = %q

[[account]]
name = "bench"
protocol = "imap"
host = "127.0.0.1"
port = %d
tls = "none"
username = %q
password_env = %q
maildir = %q
idle_folders = []
`, filepath.Join(dir, "state"), port, srv.User.Name, envPassword, t.maildir)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, "", err
	}
	env := append(os.Environ(), envPassword+"="+srv.User.Password)
	t.sync = func() (childStats, error) {
		cmd := exec.Command(bin, "sync", "--quiet", "--config", cfgPath)
		cmd.Env = env
		return runChild("mailmirror", cmd, true)
	}
	return t, cfgPath, nil
}

// syncInProcess runs one pass of the config's first account in this
// process, with a CPU profile written to profile.
// Its wall time runs from loading the config to closing the state, like a
// child's.
func syncInProcess(cfgPath, password, profile string) (childStats, error) {
	var cs childStats
	f, err := os.Create(profile)
	if err != nil {
		return cs, err
	}
	defer f.Close()
	if err := os.Setenv(envPassword, password); err != nil {
		return cs, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		return cs, err
	}
	defer pprof.StopCPUProfile()
	start := time.Now()
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return cs, err
	}
	db, err := state.Open(cfg.StateDir)
	if err != nil {
		return cs, err
	}
	_, err = syncer.SyncAccount(context.Background(), cfg.Accounts[0], db, syncer.Options{})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	cs.Wall = time.Since(start)
	return cs, err
}

// newMbsync writes an ~/.mbsyncrc equivalent to mailmirror's config into a
// temporary HOME under dir: plain IMAP with LOGIN, a Maildir with verbatim
// subfolders, every folder, both ways, expunges both ways; the server on
// port.
func newMbsync(dir string, srv *corpus.Server, port int) (*tool, error) {
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, err
	}
	t := &tool{name: "mbsync", maildir: filepath.Join(dir, "Mail"), version: []string{"mbsync", "--version"}}
	if err := os.MkdirAll(t.maildir, 0o700); err != nil {
		return nil, err
	}
	if out, err := exec.Command("mbsync", "--version").Output(); err == nil {
		t.res.Version = strings.TrimSpace(string(out))
	}
	rc := fmt.Sprintf(`# Written by bench/sync.
IMAPAccount bench
Host 127.0.0.1
Port %d
User %s
Pass "%s"
SSLType None
AuthMechs LOGIN

IMAPStore bench-far
Account bench

MaildirStore bench-near
Path %s/
Inbox %s/INBOX
SubFolders Verbatim

Channel bench
Far :bench-far:
Near :bench-near:
Patterns *
Create Both
Expunge Both
SyncState *
Sync All
`, port, srv.User.Name, srv.User.Password, t.maildir, t.maildir)
	if err := os.WriteFile(filepath.Join(home, ".mbsyncrc"), []byte(rc), 0o600); err != nil {
		return nil, err
	}
	env := append(os.Environ(), "HOME="+home)
	t.sync = func() (childStats, error) {
		cmd := exec.Command("mbsync", "-a", "-q")
		cmd.Env = env
		cmd.Dir = home
		return runChild("mbsync", cmd, true)
	}
	return t, nil
}
