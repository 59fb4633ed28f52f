package cli

import (
	"bufio"
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailmirror/mailmirror/internal/testenv"
	"github.com/mailmirror/mailmirror/maildir"
)

// Helpers of the daemon hardening tests (crash chaos, multi-device
// convergence): a world of one IMAP account changed at random from the
// server side (another client) and from the local side of any device,
// remembering every Message-ID it created and every one it deleted on
// purpose.

var worldFolders = []string{"INBOX", "Archive", "Lists/golang"}

type world struct {
	t       *testing.T
	d       *testenv.Dovecot
	u       *testenv.User
	c       *imapclient.Client // the third client
	rnd     *rand.Rand
	mu      sync.Mutex
	created map[string]bool
	deleted map[string]bool
	n       int
	ops     []string // what was done, for the log of a failed test
}

func newWorld(t *testing.T, seed uint64) *world {
	t.Helper()
	d := testenv.NewDovecot(t, nil)
	u := d.NewUser(t)
	w := &world{t: t, d: d, u: u, rnd: rand.New(rand.NewPCG(seed, 99)), created: map[string]bool{}, deleted: map[string]bool{}}
	for _, f := range worldFolders[1:] {
		u.CreateFolder(t, f)
	}
	w.c = u.Dial(t)
	return w
}

func (w *world) logf(format string, args ...any) {
	w.mu.Lock()
	w.ops = append(w.ops, fmt.Sprintf(format, args...))
	w.mu.Unlock()
}

// newMessage returns a fresh message (CRLF) and its Message-ID.
func (w *world) newMessage(origin string) ([]byte, string) {
	w.mu.Lock()
	w.n++
	id := fmt.Sprintf("<w%d.%s@world.test>", w.n, origin)
	w.created[id] = true
	w.mu.Unlock()
	raw := testenv.GenMessage(w.rnd, &testenv.GenOptions{MessageID: id, Subject: "world " + origin, BodySize: 200 + w.rnd.IntN(4000)})
	return raw, id
}

func (w *world) markDeleted(id string) {
	w.mu.Lock()
	w.deleted[id] = true
	w.mu.Unlock()
}

var worldFlags = []imap.Flag{imap.FlagSeen, imap.FlagFlagged, imap.FlagAnswered}

// serverOp makes one random change from the third client. Errors from
// messages another client changed meanwhile are ignored.
func (w *world) serverOp() {
	c := w.c
	folder := worldFolders[w.rnd.IntN(len(worldFolders))]
	op := w.rnd.IntN(10)
	if op < 3 {
		raw, id := w.newMessage("server")
		cmd := c.Append(folder, int64(len(raw)), &imap.AppendOptions{Flags: w.someFlags()})
		cmd.Write(raw)
		cmd.Close()
		if _, err := cmd.Wait(); err != nil {
			w.t.Fatalf("append: %v", err)
		}
		w.logf("server: new %s in %s", id, folder)
		return
	}
	if _, err := c.Select(folder, nil).Wait(); err != nil {
		w.t.Fatalf("select %s: %v", folder, err)
	}
	hdr := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Message-ID"}, Peek: true}
	msgs, err := c.Fetch(imap.UIDSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{hdr}}).Collect()
	if err != nil || len(msgs) == 0 {
		return
	}
	m := msgs[w.rnd.IntN(len(msgs))]
	id := headerID(m.FindBodySection(hdr))
	set := imap.UIDSetNum(m.UID)
	switch {
	case op < 6:
		f := worldFlags[w.rnd.IntN(len(worldFlags))]
		o := imap.StoreFlagsAdd
		if w.rnd.IntN(2) == 0 {
			o = imap.StoreFlagsDel
		}
		c.Store(set, &imap.StoreFlags{Op: o, Silent: true, Flags: []imap.Flag{f}}, nil).Close()
		w.logf("server: %v %s on %s in %s", o, f, id, folder)
	case op < 8:
		dst := worldFolders[w.rnd.IntN(len(worldFolders))]
		if dst == folder {
			return
		}
		c.Move(set, dst).Wait()
		w.logf("server: move %s %s → %s", id, folder, dst)
	default:
		w.markDeleted(id)
		c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close()
		c.UIDExpunge(set).Close()
		w.logf("server: delete %s in %s", id, folder)
	}
}

func (w *world) someFlags() []imap.Flag {
	var out []imap.Flag
	for _, f := range worldFlags {
		if w.rnd.IntN(3) == 0 {
			out = append(out, f)
		}
	}
	return out
}

func headerID(b []byte) string {
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "Message-ID") {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// localOp makes one random change in a device's Maildir, as a mail client
// would. Files that vanish meanwhile (the daemon moved them) are skipped.
func (w *world) localOp(root, device string) {
	store := &maildir.Store{Root: root, Layout: maildir.LayoutVerbatim}
	folder := worldFolders[w.rnd.IntN(len(worldFolders))]
	op := w.rnd.IntN(10)
	if op < 3 {
		f, err := store.Folder(folder)
		if err != nil {
			w.t.Fatal(err)
		}
		raw, id := w.newMessage(device)
		wr, err := f.NewMessage()
		if err != nil {
			w.t.Fatal(err)
		}
		wr.Write(bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n")))
		flags := ""
		if w.rnd.IntN(2) == 0 {
			flags = "S"
		}
		if _, err := wr.Commit(flags, time.Time{}); err != nil {
			w.t.Fatal(err)
		}
		w.logf("%s: new %s in %s", device, id, folder)
		return
	}
	msgs := testenv.ReadMaildir(w.t, root, maildir.LayoutVerbatim)[folder]
	if len(msgs) == 0 {
		return
	}
	m := msgs[w.rnd.IntN(len(msgs))]
	name := filepath.Base(m.Path)
	key, flags := maildir.ParseName(name)
	switch {
	case op < 6:
		letters := "FRS"
		l := letters[w.rnd.IntN(len(letters))]
		nf := flags
		if strings.IndexByte(flags, l) >= 0 {
			nf = strings.ReplaceAll(flags, string(l), "")
		} else {
			nf = maildir.NormalizeLetters(flags + string(l))
		}
		dst := filepath.Join(filepath.Dir(filepath.Dir(m.Path)), "cur", key+":2,"+nf)
		if os.Rename(m.Path, dst) == nil {
			w.logf("%s: flags %q → %q on %s in %s", device, flags, nf, m.MessageID, folder)
		}
	case op < 8:
		dstFolder := worldFolders[w.rnd.IntN(len(worldFolders))]
		if dstFolder == folder {
			return
		}
		df, err := store.Folder(dstFolder)
		if err != nil {
			w.t.Fatal(err)
		}
		sub := filepath.Base(filepath.Dir(m.Path))
		if os.Rename(m.Path, filepath.Join(df.Path, sub, name)) == nil {
			w.logf("%s: move %s %s → %s", device, m.MessageID, folder, dstFolder)
		}
	default:
		if os.Remove(m.Path) == nil {
			w.markDeleted(m.MessageID)
			w.logf("%s: delete %s in %s", device, m.MessageID, folder)
		}
	}
}

// serverView reads the server with the test's own connection.
func (w *world) serverView() map[string][]testenv.Msg {
	out := map[string][]testenv.Msg{}
	for _, f := range w.u.Folders(w.t) {
		out[f] = w.u.Messages(w.t, f)
	}
	return out
}

// checkInvariants reports messages lost (created, never deleted on
// purpose, missing on a side) and Message-IDs present twice on a side.
func (w *world) checkInvariants(side string, view map[string][]testenv.Msg) {
	w.t.Helper()
	count := map[string][]string{}
	for folder, msgs := range view {
		for _, m := range msgs {
			count[m.MessageID] = append(count[m.MessageID], folder)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for id, folders := range count {
		if len(folders) > 1 {
			w.t.Errorf("%s: %s is there %d times (%v)", side, id, len(folders), folders)
		}
		if !w.created[id] {
			w.t.Errorf("%s: %s was never created", side, id)
		}
	}
	for id := range w.created {
		if !w.deleted[id] && len(count[id]) == 0 {
			w.t.Errorf("%s: %s is lost (created, never deleted on purpose)", side, id)
		}
	}
}

func (w *world) dumpOps() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.t.Logf("%d changes:\n%s", len(w.ops), strings.Join(w.ops, "\n"))
}

// device is one `mailmirror run` configuration on the world's account.
type device struct {
	name, dir, cfg, root string
}

func (w *world) newDevice(name, poll string) *device {
	w.t.Helper()
	return w.newDeviceOn(name, poll, w.d.IMAPPort)
}

// newDeviceOn is newDevice reaching the server on port (a proxy's).
func (w *world) newDeviceOn(name, poll string, port int) *device {
	w.t.Helper()
	dir := w.t.TempDir()
	d := &device{name: name, dir: dir, cfg: filepath.Join(dir, "config.toml"), root: filepath.Join(dir, "Mail")}
	text := fmt.Sprintf(`state_dir = %q
log_level = "debug"
[[account]]
name = %q
protocol = "imap"
host = "127.0.0.1"
port = %d
tls = "none"
username = %q
password = %q
maildir = %q
poll_interval = %q
`, filepath.Join(dir, "state"), name, port, w.u.Name, w.u.Password, d.root, poll)
	if err := os.WriteFile(d.cfg, []byte(text), 0o600); err != nil {
		w.t.Fatal(err)
	}
	return d
}

// writerFunc is an io.Writer.
type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// daemonProc is a running `mailmirror run`.
type daemonProc struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	log    bytes.Buffer
	ready  chan struct{}
	exited chan error
}

func startRun(t *testing.T, d *device) *daemonProc {
	t.Helper()
	// With umask 000: nothing the daemon writes may rely on the umask.
	cmd := exec.Command("sh", "-c", `umask 000; exec "$0" "$@"`, testBinary(t), "--config", d.cfg, "run")
	p := &daemonProc{cmd: cmd, ready: make(chan struct{}), exited: make(chan error, 1)}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout = writerFunc(func(b []byte) (int, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.log.Write(b)
	})
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		once := false
		for sc.Scan() {
			p.mu.Lock()
			p.log.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if !once && strings.Contains(sc.Text(), "msg=ready") {
				once = true
				close(p.ready)
			}
		}
		p.exited <- p.cmd.Wait()
	}()
	t.Cleanup(func() { p.kill() })
	return p
}

func (p *daemonProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

func (p *daemonProc) waitReady(t *testing.T, within time.Duration) {
	t.Helper()
	select {
	case <-p.ready:
	case err := <-p.exited:
		p.exited <- err
		t.Fatalf("the daemon exited (%v) before it was ready:\n%s", err, p.output())
	case <-time.After(within):
		t.Fatalf("the daemon was not ready within %s:\n%s", within, p.output())
	}
}

// kill ends the process with SIGKILL (if it still runs) and waits.
func (p *daemonProc) kill() {
	if p.cmd.ProcessState != nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	err := <-p.exited
	p.exited <- err
}

// stop ends the process with SIGTERM and returns its exit error.
func (p *daemonProc) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.exited:
		p.exited <- err
		if err != nil {
			t.Errorf("the daemon exited with %v after SIGTERM", err)
		}
	case <-time.After(time.Minute):
		t.Errorf("the daemon did not stop within a minute of SIGTERM")
		p.kill()
	}
}

// converge waits until every view agrees with the server (no difference
// twice in a row, checked every 300 ms) and returns how long it took; after
// within it reports the differences as errors.
func (w *world) converge(within time.Duration, roots ...string) time.Duration {
	w.t.Helper()
	start := time.Now()
	stable := 0
	var diffs []string
	for time.Since(start) < within {
		server := w.serverView()
		diffs = nil
		for _, r := range roots {
			for _, d := range testenv.DiffAccount(server, testenv.ReadMaildir(w.t, r, maildir.LayoutVerbatim)) {
				diffs = append(diffs, filepath.Base(filepath.Dir(r))+": "+d)
			}
		}
		if len(diffs) == 0 {
			if stable++; stable == 2 {
				return time.Since(start)
			}
		} else {
			stable = 0
		}
		time.Sleep(300 * time.Millisecond)
	}
	slices.Sort(diffs)
	for _, d := range diffs {
		w.t.Errorf("not converged: %s", d)
	}
	w.t.Errorf("the views did not converge within %s", within)
	return within
}
