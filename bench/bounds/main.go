//go:build linux

// Command bounds measures mailmirror's resource bounds against a private
// Dovecot and prints the figures next to the targets of the hardening
// issue:
//
//		go run ./bench/bounds [-messages 100000] [-big 200] [-idle 60s]
//
//	 1. A folder of -messages small messages (0.5-2 KB of text, written
//	    straight into the Dovecot user's Maildir and indexed by Dovecot)
//	    synced by `mailmirror sync` in a child process: its peak RSS
//	    (getrusage ru_maxrss). Target: ≤ 128 MB. A second, nothing-changed
//	    pass is measured too.
//	 2. One message of -big MB (appended over IMAP in a folder of its own,
//	    synced by another account): the child's peak RSS must stay far below
//	    the message's size (it is streamed, never held).
//	 3. `mailmirror run` watching the big folder of (1) after its first
//	    pass: CPU time over -idle with nothing happening (from
//	    /proc/PID/stat). Target: ≤ 1% of one core.
//
// The child is this binary re-executed as the mailmirror command line, so
// that no separate build is needed. It prints figures, it does not fail on
// a missed target (exit status 1 is for a failed measurement).
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mailmirror/mailmirror/bench/corpus"
	"github.com/mailmirror/mailmirror/internal/cli"
)

// Targets of the hardening issue.
const (
	targetRSS      = 128 << 20
	targetIdleCPU  = 0.01 // of one core
	envChild       = "MAILMIRROR_BENCH_BOUNDS_CHILD"
	bigFolder      = "Big"
	smallFolder    = "INBOX"
	readyTimeout   = 30 * time.Minute
	syncTimeLimit  = 60 * time.Minute
	bigLineLength  = 76
	bigChunkLength = 1 << 20
)

func main() {
	if os.Getenv(envChild) == "1" {
		os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	messages := flag.Int("messages", 100000, "small messages in the big folder")
	bigMB := flag.Int("big", 200, "size in MB of the big message (0 skips it)")
	idle := flag.Duration("idle", 60*time.Second, "idle window of the daemon measurement (0 skips it)")
	seed := flag.Uint64("seed", 1, "corpus seed")
	flag.Parse()
	if err := run(*messages, *bigMB, *idle, *seed); err != nil {
		fmt.Fprintf(os.Stderr, "bench/bounds: %v\n", err)
		os.Exit(1)
	}
}

func run(messages, bigMB int, idle time.Duration, seed uint64) error {
	fmt.Printf("bench/bounds: %d messages, big message %d MB, idle %s; %s, %d CPUs\n", messages, bigMB, idle, runtime.Version(), runtime.NumCPU())
	srv, err := corpus.StartServer(nil)
	if err != nil {
		return err
	}
	defer srv.Close()
	spec := corpus.Default(messages, seed)
	spec.Folders = []corpus.FolderShare{{Name: smallFolder, Percent: 100}}
	spec.AttachmentPercent = 0
	spec.TextMin, spec.TextMax = 500, 2000
	c, err := corpus.New(spec)
	if err != nil {
		return err
	}
	st, err := srv.LoadMaildir(c, 4)
	if err != nil {
		return err
	}
	fmt.Printf("corpus: %d messages, %.1f MB, written in %.1fs, indexed by Dovecot in %.1fs\n",
		st.Messages, float64(st.Bytes)/1e6, st.Write.Seconds(), st.Index.Seconds())

	work, err := os.MkdirTemp("", "mm-bounds-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	cfgPath := filepath.Join(work, "config.toml")
	account := func(name, folder string) string {
		return fmt.Sprintf(`
[[account]]
name = %q
protocol = "imap"
host = "127.0.0.1"
port = %d
tls = "none"
username = %q
password = %q
maildir = %q
folders = [%q]
idle_folders = [%q]
poll_interval = "10m"
`, name, srv.Dovecot.IMAPPort, srv.User.Name, srv.User.Password, filepath.Join(work, "Mail", name), folder, folder)
	}
	cfg := fmt.Sprintf("state_dir = %q\n", filepath.Join(work, "state")) + account("small", smallFolder) + account("big", bigFolder)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return err
	}

	// 1. Many small messages.
	for _, pass := range []string{"first sync", "nothing changed"} {
		res, err := child(cfgPath, "sync", "--quiet", "small")
		if err != nil {
			return fmt.Errorf("%s: %w", pass, err)
		}
		got := countFiles(filepath.Join(work, "Mail", "small"))
		verdict(fmt.Sprintf("%d small messages, %s: %.1fs, peak RSS", messages, pass, res.wall.Seconds()), res.rss, targetRSS)
		if got != messages {
			return fmt.Errorf("%s: the Maildir holds %d messages, want %d", pass, got, messages)
		}
	}

	// 2. One big message.
	if bigMB > 0 {
		size, err := appendBig(srv, int64(bigMB)<<20)
		if err != nil {
			return err
		}
		res, err := child(cfgPath, "sync", "--quiet", "big")
		if err != nil {
			return fmt.Errorf("big message: %w", err)
		}
		stored := totalSize(filepath.Join(work, "Mail", "big"))
		fmt.Printf("%d MB message streamed: %.1fs, peak RSS %.1f MB (%.1f%% of the message); stored %d bytes (LF) of %d (CRLF) %s\n",
			bigMB, res.wall.Seconds(), mb(res.rss), 100*float64(res.rss)/float64(size), stored, size,
			okText(res.rss < size/4 && res.rss <= targetRSS))
		if stored == 0 || stored > size {
			return fmt.Errorf("big message: stored %d bytes for %d", stored, size)
		}
	}

	// 3. The daemon watching the folder of (1), idle.
	if idle > 0 {
		if err := idleCost(cfgPath, work, idle, messages); err != nil {
			return err
		}
	}
	return nil
}

type childResult struct {
	wall time.Duration
	rss  int64 // bytes
}

// child runs this binary as the mailmirror command line and returns its
// wall time and peak RSS.
func child(cfgPath string, args ...string) (childResult, error) {
	exe, err := os.Executable()
	if err != nil {
		return childResult{}, err
	}
	cmd := exec.Command(exe, append([]string{"--config", cfgPath}, args...)...)
	cmd.Env = append(os.Environ(), envChild+"=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return childResult{}, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(syncTimeLimit):
		cmd.Process.Kill()
		<-done
		return childResult{}, fmt.Errorf("mailmirror %s did not finish in %s", strings.Join(args, " "), syncTimeLimit)
	}
	res := childResult{wall: time.Since(start)}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		res.rss = ru.Maxrss << 10
	}
	if err != nil {
		return res, fmt.Errorf("mailmirror %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return res, nil
}

// appendBig appends one message of about size bytes (CRLF lines of
// printable text) to the big folder, streamed, and returns its size.
func appendBig(srv *corpus.Server, size int64) (int64, error) {
	cl, err := srv.Dial()
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	if err := cl.Create(bigFolder, nil).Wait(); err != nil {
		return 0, fmt.Errorf("create %s: %w", bigFolder, err)
	}
	header := "From: big@example.org\r\nTo: you@example.org\r\nSubject: a big one\r\nMessage-ID: <big@bounds.test>\r\nDate: Mon, 02 Jun 2025 10:00:00 +0000\r\n\r\n"
	line := bytes.Repeat([]byte("x"), bigLineLength)
	lines := (size - int64(len(header))) / int64(len(line)+2)
	total := int64(len(header)) + lines*int64(len(line)+2)
	cmd := cl.Append(bigFolder, total, nil)
	w := bufio.NewWriterSize(cmd, bigChunkLength)
	w.WriteString(header)
	for i := int64(0); i < lines; i++ {
		w.Write(line)
		w.WriteString("\r\n")
	}
	if err := w.Flush(); err != nil {
		return 0, err
	}
	if err := cmd.Close(); err != nil {
		return 0, err
	}
	if _, err := cmd.Wait(); err != nil {
		return 0, fmt.Errorf("append: %w", err)
	}
	return total, nil
}

// idleCost starts `mailmirror run`, waits for its first pass, then reads
// its CPU time over the idle window.
func idleCost(cfgPath, work string, idle time.Duration, messages int) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(exe, "--config", cfgPath, "run")
	cmd.Env = append(os.Environ(), envChild+"=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		return err
	}
	var mu sync.Mutex
	var logBuf bytes.Buffer
	ready := make(chan struct{})
	exited := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		once := false
		for sc.Scan() {
			mu.Lock()
			logBuf.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if !once && strings.Contains(sc.Text(), "msg=ready") {
				once = true
				close(ready)
			}
		}
		exited <- cmd.Wait()
	}()
	defer func() {
		if cmd.ProcessState == nil {
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				<-exited
			}
		}
	}()
	start := time.Now()
	select {
	case <-ready:
	case err := <-exited:
		mu.Lock()
		defer mu.Unlock()
		return fmt.Errorf("the daemon exited (%v):\n%s", err, logBuf.String())
	case <-time.After(readyTimeout):
		return fmt.Errorf("the daemon was not ready after %s", readyTimeout)
	}
	fmt.Printf("daemon: ready after %.1fs (both accounts up to date)\n", time.Since(start).Seconds())
	// Let IDLE settle.
	time.Sleep(3 * time.Second)
	pid := cmd.Process.Pid
	cpu0, err := cpuTime(pid)
	if err != nil {
		return err
	}
	t0 := time.Now()
	time.Sleep(idle)
	cpu1, err := cpuTime(pid)
	if err != nil {
		return err
	}
	wall := time.Since(t0)
	share := float64(cpu1-cpu0) / float64(wall)
	rss, hwm := memory(pid)
	fmt.Printf("daemon idle over %s watching %d messages: %.2f%% of a core (CPU %s), RSS %.1f MB, peak RSS %.1f MB %s\n",
		wall.Round(time.Second), messages, 100*share, (cpu1 - cpu0).Round(time.Millisecond), mb(rss), mb(hwm), okText(share <= targetIdleCPU))
	return nil
}

// cpuTime reads a process's user+system CPU time from /proc/PID/stat.
func cpuTime(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, err1 := strconv.ParseInt(fields[11], 10, 64)
	st, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	const clkTck = 100 // USER_HZ
	return time.Duration(ut+st) * time.Second / clkTck, nil
}

// memory reads VmRSS and VmHWM from /proc/PID/status, in bytes.
func memory(pid int) (rss, hwm int64) {
	data, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = v << 10
		case "VmHWM:":
			hwm = v << 10
		}
	}
	return rss, hwm
}

func countFiles(root string) int {
	n := 0
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Base(filepath.Dir(p)) != "tmp" {
			n++
		}
		return nil
	})
	return n
}

func totalSize(root string) int64 {
	var n int64
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if st, err := d.Info(); err == nil {
				n += st.Size()
			}
		}
		return nil
	})
	return n
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

func okText(ok bool) string {
	if ok {
		return "[target met]"
	}
	return "[TARGET MISSED]"
}

func verdict(what string, rss, target int64) {
	fmt.Printf("%s %.1f MB (target ≤ %.0f MB) %s\n", what, mb(rss), mb(target), okText(rss <= target))
}
