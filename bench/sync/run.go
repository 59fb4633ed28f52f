//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/mailmirror/mailmirror/bench/corpus"
	"github.com/mailmirror/mailmirror/internal/testenv"
)

// report is everything written to the JSON file.
type report struct {
	Date           time.Time      `json:"date"`
	Machine        string         `json:"machine"`
	CPUs           int            `json:"cpus"`
	LoadAverage    string         `json:"load_average_at_start"`
	LoadAverageEnd string         `json:"load_average_at_end"`
	Go             string         `json:"go"`
	Commit         string         `json:"commit"` // git describe --always --dirty of the tree measured
	Dovecot        string         `json:"dovecot"`
	Messages       int            `json:"messages"`
	Seed           uint64         `json:"seed"`
	CorpusBytes    int64          `json:"corpus_bytes"`
	Folders        map[string]int `json:"folders"`
	Load           string         `json:"load_method"`
	LoadSeconds    float64        `json:"load_seconds"`
	// LoginSeconds is the median time of an in-process IMAP connect,
	// greeting, LOGIN and LOGOUT: a floor under every sync of either tool.
	LoginSeconds float64 `json:"imap_login_logout_seconds"`
	// RawFloorSeconds is the raw first-sync floor (floor.go): fetch,
	// write, one syncfs per batch, in this process.
	RawFloorSeconds float64 `json:"raw_floor_seconds,omitempty"`
	RawFloorRatio   float64 `json:"first_sync_over_raw_floor,omitempty"`
	// RawFloorRounds: the floor and a first sync measured so many times
	// (-floor-rounds); the two figures above are the medians.
	RawFloorRounds int `json:"raw_floor_rounds,omitempty"`
	// TrueSeconds is the median time of /bin/true started like the tools:
	// the floor under every start and exit.
	TrueSeconds float64 `json:"true_seconds"`
	// GoFloorSeconds is the median time of a Go program that prints one
	// line, built and started like mailmirror: the start of any Go binary.
	GoFloorSeconds float64 `json:"go_floor_seconds"`
	FlagChanges    int     `json:"flag_changes"`
	Profile        string  `json:"cpu_profile,omitempty"`
	// LauncherFloorKB is the peak RSS of /bin/true run like the tools:
	// figures at or below it are not exact.
	LauncherFloorKB int64                   `json:"launcher_rss_floor_kb"`
	Tools           map[string]*toolResults `json:"tools"`
	Ratios          map[string]float64      `json:"ratios,omitempty"`
	Targets         map[string]float64      `json:"targets"`
	Missed          []string                `json:"missed_targets,omitempty"`
	// Link, with -link: each tool's first sync through the bad link.
	LinkSpec *link                  `json:"link,omitempty"`
	Link     map[string]*linkResult `json:"link_first_sync,omitempty"`
	// Compress, with -compress: bytes and times with and without
	// COMPRESS=DEFLATE (compress.go).
	Compress *compressReport `json:"compress,omitempty"`
}

func run(o *options) error {
	if o.keep {
		os.Setenv(testenv.EnvKeep, "1")
	}
	repo, err := moduleRoot()
	if err != nil {
		return err
	}
	rep := &report{
		Date: time.Now().UTC().Truncate(time.Second), Machine: machine(), CPUs: runtime.NumCPU(),
		LoadAverage: loadAverage(), Go: runtime.Version(), Dovecot: commandOutput("dovecot", "--version"),
		Commit:   commandOutput("git", "-C", repo, "describe", "--always", "--dirty"),
		Messages: o.messages, Seed: o.seed, Load: o.load, Profile: o.profile,
		Tools: map[string]*toolResults{}, Targets: targets,
	}
	fmt.Printf("bench/sync: %d messages, seed %d; mailmirror %s; %s, %d CPUs, load average %s; %s; Dovecot %s\n",
		o.messages, o.seed, rep.Commit, rep.Machine, rep.CPUs, rep.LoadAverage, rep.Go, rep.Dovecot)

	c, err := corpus.New(corpus.Default(o.messages, o.seed))
	if err != nil {
		return err
	}
	rep.Folders = c.Counts()
	srv, err := corpus.StartServer(serverOptions(o))
	if err != nil {
		return err
	}
	defer srv.Close()
	if o.keep {
		fmt.Printf("Dovecot directory (kept): %s\n", srv.Dovecot.Dir)
	}

	var st corpus.LoadStats
	if o.load == "append" {
		st, err = srv.LoadAppend(c, 4)
	} else {
		st, err = srv.LoadMaildir(c, runtime.NumCPU())
	}
	if err != nil {
		return fmt.Errorf("load the corpus: %w", err)
	}
	rep.CorpusBytes, rep.LoadSeconds = st.Bytes, st.Total().Seconds()
	fmt.Printf("corpus: %d messages, %.1f MB, folders %v\n", st.Messages, float64(st.Bytes)/1e6, rep.Folders)
	fmt.Printf("loaded by %s in %.1fs (generate and write %.1fs, Dovecot's first SELECT of each folder %.1fs)\n",
		o.load, st.Total().Seconds(), st.Write.Seconds(), st.Index.Seconds())
	warmStart := time.Now()
	if err := srv.Warm(c); err != nil {
		return err
	}
	fmt.Printf("server warmed (every message fetched once) in %.1fs\n", time.Since(warmStart).Seconds())
	logins, err := loginLatency(srv)
	if err != nil {
		return err
	}
	rep.LoginSeconds = median(logins).Seconds
	fmt.Printf("IMAP connect + greeting + LOGIN + LOGOUT on this server: %.3fs (median of 5, in-process)\n", rep.LoginSeconds)

	work, err := os.MkdirTemp("", "mailmirror-bench-sync-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Printf("Maildirs (kept): %s\n", work)
	} else {
		defer os.RemoveAll(work)
	}
	buildStart := time.Now()
	if err := buildLauncher(work, repo); err != nil {
		return err
	}
	mm, cfgPath, err := newMailmirror(filepath.Join(work, "mailmirror"), repo, srv, srv.Dovecot.IMAPPort)
	if err != nil {
		return err
	}
	fmt.Printf("mailmirror built in %.1fs (%s); config %s\n", time.Since(buildStart).Seconds(), mm.res.Version, cfgPath)
	tools := []*tool{mm}
	switch _, lookErr := exec.LookPath("mbsync"); {
	case o.noMbsync:
		fmt.Println("mbsync: not run (-no-mbsync)")
	case lookErr != nil:
		fmt.Println("mbsync: not installed (Debian: apt-get install isync)")
	default:
		mb, err := newMbsync(filepath.Join(work, "mbsync"), srv, srv.Dovecot.IMAPPort)
		if err != nil {
			return err
		}
		fmt.Printf("mbsync: %s\n", mb.res.Version)
		tools = append(tools, mb)
	}
	for _, t := range tools {
		rep.Tools[t.name] = &t.res
		if err := t.measureStartup(); err != nil {
			return err
		}
	}
	trueTool := &tool{name: "true", version: []string{"true"}}
	if err := trueTool.measureStartup(); err != nil {
		return err
	}
	rep.TrueSeconds = trueTool.res.Startup.Seconds
	goFloor, err := goFloorTool(work)
	if err != nil {
		return err
	}
	if err := goFloor.measureStartup(); err != nil {
		return err
	}
	rep.GoFloorSeconds = goFloor.res.Startup.Seconds
	rep.LauncherFloorKB = launcherFloor()
	fmt.Printf("children run through a launcher; its own RSS floor: %.1f MB (peaks at or below it are not exact)\n", float64(rep.LauncherFloorKB)/1024)

	// Runs of one tool are at least restGap apart: mbsync waits a second
	// when its Maildir changed within the current second (it cannot tell
	// later changes in the same second apart), which back-to-back runs
	// would otherwise measure, and which syncs minutes apart never see.
	lastEnd := map[*tool]time.Time{}
	step := func(label string, t *tool, f func() (childStats, error)) (*result, error) {
		if wait := restGap - time.Since(lastEnd[t]); wait > 0 {
			time.Sleep(wait)
		}
		r, err := measure(srv, f)
		lastEnd[t] = time.Now()
		if err != nil {
			return nil, err
		}
		fmt.Printf("%-10s %-26s %s\n", t.name, label+":", r.describe())
		return r, nil
	}

	if o.compress {
		if rep.Compress, err = runCompress(o, work, repo, srv, len(tools) > 1); err != nil {
			return err
		}
		rep.LoadAverageEnd = loadAverage()
		fmt.Printf("load average at the end: %s\n", rep.LoadAverageEnd)
		return writeJSON(outPath(repo, o.out), rep)
	}
	if o.link != "" {
		l, err := parseLink(o.link)
		if err != nil {
			return err
		}
		rep.LinkSpec = &l
		if rep.Link, err = runLink(l, work, repo, srv, tools); err != nil {
			return err
		}
		rep.LoadAverageEnd = loadAverage()
		fmt.Printf("load average at the end: %s\n", rep.LoadAverageEnd)
		return writeJSON(outPath(repo, o.out), rep)
	}

	// 1. First full sync.
	for _, t := range tools {
		f := t.sync
		if t == mm && o.profile != "" {
			prof, err := filepath.Abs(o.profile)
			if err != nil {
				return err
			}
			f = func() (childStats, error) { return syncInProcess(cfgPath, srv.User.Password, prof) }
		}
		r, err := step("first full sync", t, f)
		if err != nil {
			return err
		}
		r.InProcess = t == mm && o.profile != ""
		t.res.First = r
	}
	if err := verify(srv, tools, "first sync"); err != nil {
		return err
	}
	if o.profile != "" {
		fmt.Printf("CPU profile of mailmirror's first sync: %s (go tool pprof -top %s)\n", o.profile, o.profile)
	}
	if err := measureFloor(rep, srv, work, repo, mm); err != nil {
		return err
	}

	// 2. Nothing changed.
	for i := range o.runs {
		for _, t := range tools {
			r, err := step(fmt.Sprintf("no change %d/%d", i+1, o.runs), t, t.sync)
			if err != nil {
				return err
			}
			t.res.NoChangeRuns = append(t.res.NoChangeRuns, r)
		}
	}
	for _, t := range tools {
		t.res.NoChange = median(t.res.NoChangeRuns)
	}
	// The login floor again, between the runs it is subtracted from: the
	// median of both series is the floor of the own-work ratios.
	more, err := loginLatency(srv)
	if err != nil {
		return err
	}
	rep.LoginSeconds = median(append(logins, more...)).Seconds
	fmt.Printf("IMAP connect + greeting + LOGIN + LOGOUT, again: %.3fs (median of 10 over the run: %.3fs)\n", median(more).Seconds, rep.LoginSeconds)

	// 3. 1% of the messages had a flag changed by another client.
	rep.FlagChanges = max(1, c.Len()/100)
	changes, err := srv.ChangeFlags(c.Folders(), rep.FlagChanges, o.seed)
	if err != nil {
		return err
	}
	fmt.Printf("another client changed one flag on each of %d messages (%s)\n", len(changes), summarizeChanges(changes))
	// After each run: did it undo some of the other client's changes on
	// the server (by pushing back the old flags)?
	checkReverted := func(t *tool, after string) error {
		rev, err := srv.Reverted(changes)
		if err != nil {
			return err
		}
		if len(rev) > 0 && len(rev) > t.res.RevertedOnServer {
			t.warn("%d of the other client's %d flag changes are undone on the server after its %s, e.g. %+v",
				len(rev), len(changes), after, rev[0])
			t.res.RevertedOnServer = len(rev)
			changes = slices.DeleteFunc(changes, func(ch corpus.FlagChange) bool { return slices.Contains(rev, ch) })
		}
		return nil
	}
	for _, t := range tools {
		if t.res.FlagsChanged, err = step("1% flags changed", t, t.sync); err != nil {
			return err
		}
		if err := checkReverted(t, "1%-changed sync"); err != nil {
			return err
		}
	}
	// Checked now: a later pass could push a lost change back to the
	// server, and the Maildir would then equal the server again.
	if err := verify(srv, tools, "1% flags changed"); err != nil {
		return err
	}

	// 4. One new message.
	newMsg := c.Message(c.Len())
	if _, err := srv.Append(newMsg); err != nil {
		return err
	}
	fmt.Printf("one new message (%d bytes) appended to %s\n", len(newMsg.Data), newMsg.Folder)
	for _, t := range tools {
		if t.res.NewMessage, err = step("one new message", t, t.sync); err != nil {
			return err
		}
		if err := checkReverted(t, "new-message sync"); err != nil {
			return err
		}
	}

	if err := verify(srv, tools, "last sync"); err != nil {
		return err
	}
	for _, t := range tools {
		for _, r := range t.res.runs() {
			t.res.PeakRSSKB = max(t.res.PeakRSSKB, r.RSSKB)
		}
	}

	rep.LoadAverageEnd = loadAverage()
	fmt.Printf("\nload average at the end: %s (the machine may be shared: compare ratios from one run)\n\n", rep.LoadAverageEnd)
	printTable(rep, mm, otherTool(tools, mm))
	return writeJSON(outPath(repo, o.out), rep)
}

// loginLatency times 5 bare IMAP sessions (connect, greeting, LOGIN,
// LOGOUT, in this process): what any sync of either tool must wait for.
func loginLatency(srv *corpus.Server) ([]*result, error) {
	var rs []*result
	for range 5 {
		start := time.Now()
		c, err := srv.Dial()
		if err != nil {
			return nil, err
		}
		err = c.Logout().Wait()
		c.Close()
		if err != nil {
			return nil, err
		}
		rs = append(rs, &result{Seconds: time.Since(start).Seconds()})
	}
	return rs, nil
}

// restGap is the least time between two runs of one tool.
const restGap = 1100 * time.Millisecond

func otherTool(tools []*tool, not *tool) *tool {
	for _, t := range tools {
		if t != not {
			return t
		}
	}
	return nil
}

func summarizeChanges(changes []corpus.FlagChange) string {
	counts := map[string]int{}
	for _, ch := range changes {
		op := "-"
		if ch.Added {
			op = "+"
		}
		counts[op+string(ch.Flag)]++
	}
	var parts []string
	for _, k := range []string{`+\Seen`, `-\Seen`, `+\Flagged`, `-\Flagged`} {
		if counts[k] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", k, counts[k]))
		}
	}
	return strings.Join(parts, ", ")
}

// verify compares each tool's Maildir with the server, folder by folder
// and message by message (Message-ID and flags), after the step named
// label, and records the number of differences.
func verify(srv *corpus.Server, tools []*tool, label string) error {
	server, err := srv.Snapshot()
	if err != nil {
		return err
	}
	for _, t := range tools {
		local, err := corpus.ReadMaildir(t.maildir, "verbatim")
		if err != nil {
			return err
		}
		t.res.Stored = 0
		for _, msgs := range local {
			t.res.Stored += len(msgs)
		}
		diffs := testenv.DiffAccount(server, local)
		if t.res.Differences == nil {
			t.res.Differences = map[string]int{}
		}
		t.res.Differences[label] = len(diffs)
		if len(diffs) > 0 {
			t.warn("after the %s: %d differences from the server, first: %s", label, len(diffs), strings.Join(diffs[:min(5, len(diffs))], "; "))
		} else {
			fmt.Printf("%-10s after the %s the Maildir equals the server: %d messages, flags included\n", t.name, label, t.res.Stored)
		}
	}
	return nil
}

// moduleRoot is the directory of the main module's go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run from inside the mailmirror module")
	}
	return filepath.Dir(mod), nil
}

func machine() string {
	m := runtime.GOOS + "/" + runtime.GOARCH
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m += ", " + strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func commandOutput(name string, args ...string) string {
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(out))
}

// outPath is where -out points: an absolute path as it is, a relative one
// under the module root.
func outPath(repo, out string) string {
	if filepath.IsAbs(out) {
		return out
	}
	return filepath.Join(repo, out)
}
