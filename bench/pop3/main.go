//go:build unix

// Command pop3 benchmarks mailmirror's POP3 poller against a private
// Dovecot, and getmail6 on the same mailbox when it is installed.
//
//	go run ./bench/pop3 [-messages 5000] [-seed 1] [-runs 3]
//
// It generates an INBOX (fixed seed: 95% text messages of 2-20 KB, 5% with
// a 100-600 KB attachment), writes it straight into the Dovecot user's
// Maildir, warms Dovecot's index with one POP3 session, then times, each
// in a child process: the first poll into an empty Maildir, a poll with
// nothing new, and their peak RSS (getrusage maxrss). getmail6 runs as an
// unprivileged user (it refuses to deliver as root; the user mmbench is
// created with useradd when missing) into a Maildir of its own, first with
// read_all = true, then with read_all = false for the nothing-new run
// (read_all = true would download everything again), delete = false both
// times. The table gives our time / getmail6's time.
//
// getmail6 6.18 (on Python 3.11 here) waits for its delivery child on a
// threading.Condition that its SIGCHLD handler notifies; but a Python
// signal handler does not run while the main thread is blocked in that
// wait, so a child that exits after the wait began is only noticed when
// the wait times out (the socket timeout, 180 s), and getmail6 then aborts
// the run with "waiting child pid N timed out" without saving what it
// retrieved. The benchmark runs getmail6 through a small Python wrapper
// (getmailFix) whose ForkingBase._wait_for_child reaps the child with
// waitpid when the handler has not: getmail6 does the same work, minus the
// stall.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mailmirror/mailmirror/bench/corpus"
	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/internal/testenv"
	"github.com/mailmirror/mailmirror/pop3pull"
	"github.com/mailmirror/mailmirror/state"
)

// Targets of issue 5.
const (
	targetFirst   = 0.10
	targetNothing = 0.25
	targetRSS     = 48 << 20
)

// Environment of the child process.
const (
	envChild = "MAILMIRROR_BENCH_POP3_CHILD" // "1" in the child
	envPass  = "MAILMIRROR_BENCH_POP3_PASS"  // the user's password
	envProf  = "MAILMIRROR_BENCH_POP3_PROF"  // CPU profile file of the child
)

// childResult is what the child prints on its last line.
type childResult struct {
	Elapsed    time.Duration
	Downloaded int
	Messages   int
	Bytes      int64
}

func main() {
	if os.Getenv(envChild) == "1" {
		os.Exit(child())
	}
	messages := flag.Int("messages", 5000, "messages in the INBOX")
	seed := flag.Uint64("seed", 1, "corpus seed")
	runs := flag.Int("runs", 3, "runs of each of our measurements (the median is shown)")
	getmailRuns := flag.Int("getmail-runs", 1, "runs of getmail6's nothing-new poll")
	noGetmail := flag.Bool("no-getmail", false, "do not run getmail6")
	profile := flag.String("cpuprofile", "", "write CPU profiles of our polls to this file prefix (-first.prof, -nothing.prof)")
	flag.Parse()
	profPrefix = *profile
	if err := run(*messages, *seed, *runs, *getmailRuns, *noGetmail); err != nil {
		fmt.Fprintf(os.Stderr, "bench/pop3: %v\n", err)
		os.Exit(1)
	}
}

// child polls once and prints a childResult as JSON.
func child() int {
	fs := flag.NewFlagSet("child", flag.ExitOnError)
	addr := fs.String("addr", "", "")
	userName := fs.String("user", "", "")
	mail := fs.String("maildir", "", "")
	stateDir := fs.String("state", "", "")
	fs.Parse(os.Args[1:])
	host, port, _ := strings.Cut(*addr, ":")
	p, _ := strconv.Atoi(port)
	acct := &config.Account{
		Name: "bench", Protocol: config.ProtocolPOP3, Host: host, Port: p, TLS: config.TLSNone,
		Username: *userName, Password: config.Secret(os.Getenv(envPass)), Maildir: *mail,
		Layout: config.LayoutVerbatim, LeaveOnServer: true, Folder: "INBOX",
	}
	if p := os.Getenv(envProf); p != "" {
		f, err := os.Create(p)
		if err == nil {
			pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	start := time.Now()
	// As `mailmirror sync` does: the login starts while the state opens.
	early := pop3pull.DialEarly(context.Background(), acct, "", 0)
	db, err := state.Open(*stateDir)
	if err != nil {
		early.Close()
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	res, err := pop3pull.SyncAccountWith(context.Background(), acct, db, &pop3pull.Options{Early: early})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	elapsed := time.Since(start)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	out, _ := json.Marshal(childResult{Elapsed: elapsed, Downloaded: res.Downloaded, Messages: res.Messages, Bytes: res.Bytes})
	fmt.Println(string(out))
	return 0
}

// profPrefix is the -cpuprofile flag.
var profPrefix string

// measurement is one timed run of a child process.
type measurement struct {
	wall   time.Duration // process start to exit
	inProc time.Duration // state open + poll, measured inside (ours only)
	rss    int64         // peak resident set, bytes
	cpu    time.Duration // user + system CPU time (with reaped children)
	res    childResult
}

func run(messages int, seed uint64, runs, getmailRuns int, noGetmail bool) (err error) {
	tb := &corpus.TB{Verbose: true}
	defer tb.Finish(&err)
	fmt.Printf("bench/pop3: %d messages, seed %d, %s, %d CPUs\n", messages, seed, runtime.Version(), runtime.NumCPU())
	d, err := testenv.StartDovecot(nil)
	if err != nil {
		return err
	}
	tb.Cleanup(d.Stop)
	u := d.NewUser(tb)
	genStart := time.Now()
	total, err := writeCorpus(d, u, messages, seed)
	if err != nil {
		return err
	}
	fmt.Printf("corpus: %d messages, %.1f MB, written into Dovecot's Maildir in %.1fs\n",
		messages, float64(total)/1e6, time.Since(genStart).Seconds())
	if n, err := warmUp(u); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	} else if n != messages {
		return fmt.Errorf("warm-up: Dovecot lists %d messages, want %d", n, messages)
	}

	work, err := os.MkdirTemp("", "mailmirror-bench-pop3-")
	if err != nil {
		return err
	}
	tb.Cleanup(func() { os.RemoveAll(work) })

	// getmail6 first, so that neither tool profits from the other's run
	// more than Dovecot's warm index (built above) gives both.
	var gmFirst, gmNothing *measurement
	getmailNote := ""
	if noGetmail {
		getmailNote = "not run (-no-getmail)"
	} else if _, err := exec.LookPath("getmail"); err != nil {
		getmailNote = "not installed"
	} else {
		gm, err := newGetmail(work, u)
		if err != nil {
			return fmt.Errorf("getmail6: %w", err)
		}
		fmt.Println("getmail6: first poll ...")
		if gmFirst, err = gm.run(true); err != nil {
			return err
		}
		if n := countFiles(gm.maildir); n != messages {
			return fmt.Errorf("getmail6 stored %d messages, want %d", n, messages)
		}
		var all []*measurement
		for range getmailRuns {
			m, err := gm.run(false)
			if err != nil {
				return err
			}
			all = append(all, m)
		}
		gmNothing = median(all)
		if n := countFiles(gm.maildir); n != messages {
			return fmt.Errorf("getmail6 holds %d messages after the nothing-new poll, want %d", n, messages)
		}
	}

	var firsts, nothings []*measurement
	for i := range runs {
		dir := filepath.Join(work, fmt.Sprintf("mailmirror-%d", i))
		fmt.Printf("mailmirror: first poll %d/%d ...\n", i+1, runs)
		m, err := runChild(u, dir, "first")
		if err != nil {
			return err
		}
		if m.res.Downloaded != messages {
			return fmt.Errorf("first poll downloaded %d messages, want %d", m.res.Downloaded, messages)
		}
		if n := countFiles(filepath.Join(dir, "Mail", "INBOX")); n != messages {
			return fmt.Errorf("first poll stored %d files, want %d", n, messages)
		}
		firsts = append(firsts, m)
		for range 2 {
			m, err := runChild(u, dir, "nothing")
			if err != nil {
				return err
			}
			if m.res.Downloaded != 0 || m.res.Messages != messages {
				return fmt.Errorf("nothing-new poll: %+v", m.res)
			}
			nothings = append(nothings, m)
		}
		if i > 0 {
			os.RemoveAll(dir) // keep one copy on disk
		}
	}
	first, nothing := median(firsts), median(nothings)
	steps, err := breakdown(u, filepath.Join(work, "mailmirror-0", "state"))
	if err != nil {
		return err
	}

	fmt.Println()
	fmt.Printf("%-28s %12s %12s %10s %14s %8s %8s\n", "POP3, INBOX of "+strconv.Itoa(messages), "mailmirror", "(in-proc)", "peak RSS", "getmail6", "ratio", "target")
	row := func(name string, ours, theirs *measurement, target float64) {
		gm, ratio := getmailNote, "-"
		if theirs != nil {
			gm = fmt.Sprintf("%.3fs", theirs.wall.Seconds())
			r := ours.wall.Seconds() / theirs.wall.Seconds()
			ratio = fmt.Sprintf("%.3f", r)
			if r > target {
				ratio += " !"
			}
		}
		fmt.Printf("%-28s %11.3fs %11.3fs %8.1fMB %14s %8s %8s\n", name, ours.wall.Seconds(), ours.inProc.Seconds(),
			float64(ours.rss)/(1<<20), gm, ratio, fmt.Sprintf("≤ %.2f", target))
	}
	row("first poll", first, gmFirst, targetFirst)
	row("nothing new", nothing, gmNothing, targetNothing)
	maxRSS := slices.MaxFunc(append(firsts, nothings...), func(a, b *measurement) int { return int(a.rss - b.rss) }).rss
	fmt.Printf("\npeak RSS over all our runs: %.1f MB (target ≤ %d MB)", float64(maxRSS)/(1<<20), targetRSS>>20)
	if maxRSS > targetRSS {
		fmt.Print(" !")
	}
	fmt.Println()
	fmt.Printf("mailmirror CPU time (user+sys): first poll %.3fs, nothing new %.3fs\n", first.cpu.Seconds(), nothing.cpu.Seconds())
	if gmFirst != nil {
		fmt.Printf("getmail6 CPU time (user+sys, with its delivery children): first poll %.3fs, nothing new %.3fs (ratios %.3f, %.3f)\n",
			gmFirst.cpu.Seconds(), gmNothing.cpu.Seconds(), first.cpu.Seconds()/gmFirst.cpu.Seconds(), nothing.cpu.Seconds()/gmNothing.cpu.Seconds())
		fmt.Printf("getmail6 peak RSS: first poll %.1f MB, nothing new %.1f MB\n",
			float64(gmFirst.rss)/(1<<20), float64(gmNothing.rss)/(1<<20))
	}
	if l, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Printf("load average at the end: %s", l)
	}
	fmt.Printf("nothing new, step by step (in process, median of 5): %s\n", steps)
	fmt.Printf("first poll: %.0f messages/s, %.1f MB/s; medians of %d first polls and %d nothing-new polls; wall time of the whole process\n",
		float64(messages)/first.wall.Seconds(), float64(first.res.Bytes)/1e6/first.wall.Seconds(), len(firsts), len(nothings))
	return nil
}

func median(ms []*measurement) *measurement {
	s := slices.Clone(ms)
	slices.SortFunc(s, func(a, b *measurement) int { return int(a.wall - b.wall) })
	return s[len(s)/2]
}

// runChild runs one poll of ours in a child process with its Maildir and
// state under dir.
func runChild(u *testenv.User, dir, kind string) (*measurement, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "-addr", u.POP3Addr(), "-user", u.Name,
		"-maildir", filepath.Join(dir, "Mail"), "-state", filepath.Join(dir, "state"))
	cmd.Env = append(os.Environ(), envChild+"=1", envPass+"="+u.Password)
	if profPrefix != "" {
		cmd.Env = append(cmd.Env, envProf+"="+profPrefix+"-"+kind+".prof")
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err = cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return nil, fmt.Errorf("poll: %v: %s", err, stderr.String())
	}

	m := &measurement{wall: wall, rss: maxRSS(cmd.ProcessState), cpu: cpuTime(cmd.ProcessState)}
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &m.res); err != nil {
		return nil, fmt.Errorf("poll output %q: %w", stdout.String(), err)
	}
	m.inProc = m.res.Elapsed
	return m, nil
}

// breakdown times the steps of a nothing-new poll in this process: the
// server's share (connect and greeting, login, UIDL, QUIT) and ours (open
// the state, load the UIDLs).
func breakdown(u *testenv.User, stateDir string) (string, error) {
	names := []string{"state open", "load UIDLs", "connect+greeting", "login", "UIDL", "QUIT"}
	times := make([][]time.Duration, len(names))
	for range 5 {
		var ts []time.Time
		mark := func() { ts = append(ts, time.Now()) }
		mark()
		db, err := state.Open(stateDir)
		if err != nil {
			return "", err
		}
		mark()
		if _, err := db.POP3UIDLs("bench"); err != nil {
			return "", err
		}
		mark()
		db.Close()
		ts[len(ts)-1] = time.Now()
		c, err := pop3pull.Dial(context.Background(), u.POP3Addr(), pop3pull.DialOptions{TLS: config.TLSNone, AllowPlaintextAuth: true})
		if err != nil {
			return "", err
		}
		mark()
		if err := c.Login(u.Name, config.Secret(u.Password)); err != nil {
			return "", err
		}
		mark()
		if _, _, err := c.UIDL(); err != nil {
			return "", err
		}
		mark()
		if err := c.Quit(); err != nil {
			return "", err
		}
		mark()
		for i := range names {
			times[i] = append(times[i], ts[i+1].Sub(ts[i]))
		}
	}
	var parts []string
	for i, n := range names {
		slices.Sort(times[i])
		parts = append(parts, fmt.Sprintf("%s %.1fms", n, float64(times[i][len(times[i])/2].Microseconds())/1000))
	}
	return strings.Join(parts, ", "), nil
}

// maxRSS is a finished process's peak resident set in bytes.
func maxRSS(ps *os.ProcessState) int64 {
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss * 1024 // kilobytes on Linux
	}
	return 0
}

// cpuTime is a finished process's user and system CPU time.
func cpuTime(ps *os.ProcessState) time.Duration {
	return ps.UserTime() + ps.SystemTime()
}

// countFiles counts the messages in a Maildir folder (new/ and cur/).
func countFiles(folder string) int {
	n := 0
	for _, sub := range []string{"new", "cur"} {
		ents, _ := os.ReadDir(filepath.Join(folder, sub))
		n += len(ents)
	}
	return n
}

// writeCorpus generates the INBOX and writes it into the user's Maildir on
// the server (INBOX is the Maildir root with LAYOUT=fs), owned like the
// directory Dovecot gave us. It returns the total size.
func writeCorpus(d *testenv.Dovecot, u *testenv.User, messages int, seed uint64) (int64, error) {
	var uid, gid = -1, -1
	if st, err := os.Stat(d.MailDir); err == nil {
		if s, ok := st.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 {
			uid, gid = int(s.Uid), int(s.Gid)
		}
	}
	root := filepath.Join(d.MailDir, u.Name)
	for _, dir := range []string{root, filepath.Join(root, "cur"), filepath.Join(root, "new"), filepath.Join(root, "tmp")} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return 0, err
		}
		if uid >= 0 {
			if err := os.Chown(dir, uid, gid); err != nil {
				return 0, err
			}
		}
	}
	r := rand.New(rand.NewPCG(seed, 0x504f5033))
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var total int64
	for i := range messages {
		opts := &testenv.GenOptions{BodySize: 2000 + r.IntN(18001)}
		if r.IntN(100) < 5 {
			opts.AttachmentSize = (100 << 10) + r.IntN(500<<10)
			// base64 grows the attachment by a third: keep the whole
			// message in the 100-600 KB range.
			opts.AttachmentSize = opts.AttachmentSize * 3 / 4
		}
		msg := testenv.GenMessage(r, opts)
		// Dovecot stores LF line endings and sends CRLF.
		msg = bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n"))
		mtime := base.Add(time.Duration(i) * time.Minute)
		name := fmt.Sprintf("%d.M%dP%d.bench,S=%d", mtime.Unix(), i, os.Getpid(), len(msg))
		p := filepath.Join(root, "new", name)
		if err := os.WriteFile(p, msg, 0o600); err != nil {
			return 0, err
		}
		if uid >= 0 {
			if err := os.Chown(p, uid, gid); err != nil {
				return 0, err
			}
		}
		os.Chtimes(p, mtime, mtime)
		total += int64(len(msg))
	}
	return total, nil
}

// warmUp logs in once, so that Dovecot builds its index and UID list
// before anything is timed. It returns the number of messages listed.
func warmUp(u *testenv.User) (int, error) {
	ctx := context.Background()
	c, err := pop3pull.Dial(ctx, u.POP3Addr(), pop3pull.DialOptions{TLS: config.TLSNone, AllowPlaintextAuth: true, Timeout: 10 * time.Minute})
	if err != nil {
		return 0, err
	}
	defer c.Abort()
	if err := c.Login(u.Name, config.Secret(u.Password)); err != nil {
		return 0, err
	}
	list, _, err := c.UIDL()
	if err != nil {
		return 0, err
	}
	if _, _, err := c.List(); err != nil {
		return 0, err
	}
	return len(list), c.Quit()
}

// getmail runs getmail6 as an unprivileged user.
type getmail struct {
	dir     string // getmail's directory (rc files, oldmail)
	maildir string // its destination
	owner   *user.User
	addr    string
	u       *testenv.User
}

const benchUser = "mmbench"

func newGetmail(work string, u *testenv.User) (*getmail, error) {
	g := &getmail{dir: filepath.Join(work, "getmail"), addr: u.POP3Addr(), u: u}
	g.maildir = filepath.Join(g.dir, "Maildir")
	if os.Geteuid() == 0 {
		if _, err := user.Lookup(benchUser); err != nil {
			out, err := exec.Command("useradd", "-r", "-M", "-s", "/usr/sbin/nologin", benchUser).CombinedOutput()
			if err != nil {
				return nil, fmt.Errorf("useradd %s: %v: %s", benchUser, err, out)
			}
		}
		o, err := user.Lookup(benchUser)
		if err != nil {
			return nil, err
		}
		g.owner = o
		// The unprivileged user must reach its directory below work.
		if err := os.Chmod(work, 0o711); err != nil {
			return nil, err
		}
	}
	for _, dir := range []string{g.dir, g.maildir, filepath.Join(g.maildir, "cur"), filepath.Join(g.maildir, "new"), filepath.Join(g.maildir, "tmp")} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		if err := g.chown(dir); err != nil {
			return nil, err
		}
	}
	fix := filepath.Join(g.dir, "getmail-fixed.py")
	if err := os.WriteFile(fix, []byte(getmailFix), 0o600); err != nil {
		return nil, err
	}
	if err := g.chown(fix); err != nil {
		return nil, err
	}
	host, port, _ := strings.Cut(g.addr, ":")
	for _, readAll := range []bool{true, false} {
		rc := fmt.Sprintf(`[retriever]
type = SimplePOP3Retriever
server = %s
port = %s
username = %s
password = %s

[destination]
type = Maildir
path = %s/

[options]
verbose = 0
read_all = %v
delete = false
message_log_syslog = false
`, host, port, g.u.Name, g.u.Password, g.maildir, readAll)
		p := filepath.Join(g.dir, rcName(readAll))
		if err := os.WriteFile(p, []byte(rc), 0o600); err != nil {
			return nil, err
		}
		if err := g.chown(p); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// getmailFix runs /usr/bin/getmail with ForkingBase._wait_for_child
// replaced by a version that restores the original SIGCHLD handler and
// reaps the child itself with waitpid unless the handler already did.
const getmailFix = `import os, signal, sys, runpy
import getmailcore.baseclasses as b

def _wait_for_child(self, childpid):
    # From here on the SIGCHLD handler cannot run any more: if it has not
    # reaped the child yet, reap it here.
    signal.signal(signal.SIGCHLD, self._ForkingBase__orig_handler)
    if self._ForkingBase__child_pid == 0:
        pid, st = os.waitpid(childpid, 0)
        self._ForkingBase__child_pid, self._ForkingBase__child_status = pid, st
    if self._ForkingBase__child_pid != childpid:
        raise b.getmailOperationError('got child pid %d, not %d' % (self._ForkingBase__child_pid, childpid))
    st = self._ForkingBase__child_status
    if os.WIFSTOPPED(st) or os.WIFSIGNALED(st) or not os.WIFEXITED(st):
        raise b.getmailOperationError('child pid %d failed' % childpid)
    return os.WEXITSTATUS(st)

b.ForkingBase._wait_for_child = _wait_for_child
sys.argv = ['getmail'] + sys.argv[1:]
runpy.run_path('/usr/bin/getmail', run_name='__main__')
`

func rcName(readAll bool) string {
	if readAll {
		return "getmailrc-first"
	}
	return "getmailrc-new"
}

func (g *getmail) chown(p string) error {
	if g.owner == nil {
		return nil
	}
	uid, _ := strconv.Atoi(g.owner.Uid)
	gid, _ := strconv.Atoi(g.owner.Gid)
	return os.Chown(p, uid, gid)
}

// run runs getmail6 once.
func (g *getmail) run(readAll bool) (*measurement, error) {
	args := []string{"python3", filepath.Join(g.dir, "getmail-fixed.py"), "--getmaildir=" + g.dir, "--rcfile=" + rcName(readAll)}
	if g.owner != nil {
		args = append([]string{"runuser", "-u", benchUser, "--"}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	if err != nil {
		return nil, fmt.Errorf("getmail6: %v: %s", err, out.String())
	}
	return &measurement{wall: wall, rss: maxRSS(cmd.ProcessState), cpu: cpuTime(cmd.ProcessState)}, nil
}
