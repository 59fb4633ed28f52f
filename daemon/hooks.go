package daemon

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Environment variables a hook receives.
const (
	EnvAccount = "MAILMIRROR_ACCOUNT" // account name
	EnvFolder  = "MAILMIRROR_FOLDER"  // folders that received mail, one per line
	EnvNew     = "MAILMIRROR_NEW"     // number of new messages since the last run
)

// hookOutputMax bounds the output of a hook kept for the log.
const hookOutputMax = 16 << 10

// hookRunner runs an account's on_new_mail command after new mail was
// stored: never two at once, and runs start at least minGap apart; new
// mail arriving meanwhile is added up and reported by the next run.
type hookRunner struct {
	command string
	account string
	log     *slog.Logger
	minGap  time.Duration

	mu      sync.Mutex
	pending map[string]int // folder → new messages not reported yet
	kick    chan struct{}
	done    chan struct{}
}

func newHookRunner(command, account string, log *slog.Logger, minGap time.Duration) *hookRunner {
	return &hookRunner{command: command, account: account, log: log, minGap: minGap,
		pending: map[string]int{}, kick: make(chan struct{}, 1), done: make(chan struct{})}
}

// add records new messages per folder and wakes the runner.
func (h *hookRunner) add(newByFolder map[string]int) {
	h.mu.Lock()
	n := 0
	for f, c := range newByFolder {
		if c > 0 {
			h.pending[f] += c
			n += c
		}
	}
	h.mu.Unlock()
	if n > 0 {
		select {
		case h.kick <- struct{}{}:
		default:
		}
	}
}

// run runs the hook until ctx ends; a running hook is stopped then.
func (h *hookRunner) run(ctx context.Context) {
	defer close(h.done)
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-h.kick:
		}
		if wait := h.minGap - time.Since(last); !last.IsZero() && wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		h.mu.Lock()
		pending := h.pending
		h.pending = map[string]int{}
		h.mu.Unlock()
		if len(pending) == 0 {
			continue
		}
		last = time.Now()
		h.exec(ctx, pending)
	}
}

// hookCommand is the on_new_mail command for new messages per folder,
// with its environment, and the folders and total it reports.
func hookCommand(ctx context.Context, command, account string, pending map[string]int) (*exec.Cmd, []string, int) {
	folders := make([]string, 0, len(pending))
	total := 0
	for f, n := range pending {
		folders = append(folders, f)
		total += n
	}
	sort.Strings(folders)
	cmd := shellCommand(ctx, command)
	cmd.Env = append(os.Environ(),
		EnvAccount+"="+account,
		EnvFolder+"="+strings.Join(folders, "\n"),
		EnvNew+"="+strconv.Itoa(total))
	cmd.Stdin = nil
	return cmd, folders, total
}

// RunHook runs an account's on_new_mail command once, in the foreground,
// as the daemon does after a pass that stored new mail (same environment:
// MAILMIRROR_ACCOUNT, MAILMIRROR_FOLDER, MAILMIRROR_NEW), with its output
// going to stdout and stderr. mailmirror sync calls it. It does nothing
// when newByFolder counts no message.
func RunHook(ctx context.Context, command, account string, newByFolder map[string]int, stdout, stderr io.Writer) error {
	pending := map[string]int{}
	for f, n := range newByFolder {
		if n > 0 {
			pending[f] = n
		}
	}
	if command == "" || len(pending) == 0 {
		return nil
	}
	cmd, _, _ := hookCommand(ctx, command, account, pending)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	return cmd.Run()
}

func (h *hookRunner) exec(ctx context.Context, pending map[string]int) {
	cmd, folders, total := hookCommand(ctx, h.command, h.account, pending)
	var stdout, stderr limitedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	attrs := []any{"folders", strings.Join(folders, ","), "new", total, "took", time.Since(start).Round(time.Millisecond)}
	if s := strings.TrimSpace(stdout.String()); s != "" {
		attrs = append(attrs, "stdout", s)
	}
	if s := strings.TrimSpace(stderr.String()); s != "" {
		attrs = append(attrs, "stderr", s)
	}
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		h.log.Warn("on_new_mail failed", append(attrs, "err", err)...)
		return
	}
	h.log.Info("on_new_mail ran", attrs...)
}

// shellCommand runs command through the system shell: sh -c, or cmd /C on
// Windows. A cancelled ctx asks it to stop (SIGTERM, then SIGKILL 2 s
// later).
func shellCommand(ctx context.Context, command string) *exec.Cmd {
	var cmd *exec.Cmd
	if runtime.GOOS == "windows" {
		cmd = exec.CommandContext(ctx, "cmd", "/C", command)
	} else {
		cmd = exec.CommandContext(ctx, "sh", "-c", command)
		cmd.Cancel = func() error { return cmd.Process.Signal(terminateSignal) }
	}
	cmd.WaitDelay = 2 * time.Second
	return cmd
}

// limitedBuffer keeps the first hookOutputMax bytes written to it.
type limitedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	cut bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	room := hookOutputMax - b.buf.Len()
	if room <= 0 {
		b.cut = true
		return len(p), nil
	}
	if len(p) > room {
		b.buf.Write(p[:room])
		b.cut = true
		return len(p), nil
	}
	b.buf.Write(p)
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cut {
		return b.buf.String() + " [output cut]"
	}
	return b.buf.String()
}
