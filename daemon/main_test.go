package daemon_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/daemon"
	"github.com/mailmirror/mailmirror/internal/cli"
	"github.com/mailmirror/mailmirror/internal/testenv"
	"github.com/mailmirror/mailmirror/maildir"
	"github.com/mailmirror/mailmirror/state"
)

// envCLI makes the test binary run the mailmirror command line instead of
// the tests: the subprocess tests start it as `mailmirror`.
const envCLI = "MAILMIRROR_DAEMON_TEST_CLI"

func TestMain(m *testing.M) {
	if os.Getenv(envCLI) == "1" {
		os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(testenv.Main(m))
}

// deadline bounds every wait for something the daemon does: generous, as
// the machine may be busy; tests never assert durations.
const deadline = 60 * time.Second

// eventually polls cond until it holds, or fails the test with what().
func eventually(t testing.TB, what func() string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting: %s", what())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// syncBuffer collects the daemon's log.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fixture is one account on Dovecot synced by an in-process daemon.
type fixture struct {
	t     *testing.T
	u     *testenv.User
	dir   string
	cfg   *config.Config
	acct  *config.Account
	store *maildir.Store
	logs  *syncBuffer
	rnd   *rand.Rand

	d      *daemon.Daemon
	db     *state.DB
	cancel context.CancelFunc
	done   chan error
}

// accountConfig is one [[account]] table for user u on port.
func accountConfig(name string, u *testenv.User, port int, maildirPath, extra string) string {
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
poll_interval = "1h"
%s
`, name, port, u.Name, u.Password, maildirPath, extra)
}

// newFixture prepares an account for u reached on port (Dovecot's, or a
// proxy's); extra lines go into the [[account]] table.
func newFixture(t *testing.T, u *testenv.User, port int, extra string) *fixture {
	t.Helper()
	dir := t.TempDir()
	text := fmt.Sprintf("state_dir = %q\n", filepath.Join(dir, "state")) +
		accountConfig("test", u, port, filepath.Join(dir, "Mail"), extra)
	cfg, err := config.Parse([]byte(text), filepath.Join(dir, "config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	store, err := maildir.Open(cfg.Accounts[0].Maildir, cfg.Accounts[0].Layout)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, u: u, dir: dir, cfg: cfg, acct: cfg.Accounts[0], store: store, logs: &syncBuffer{},
		rnd: rand.New(rand.NewPCG(7, uint64(len(t.Name()))))}
	t.Cleanup(func() {
		f.stop()
		if t.Failed() {
			t.Logf("daemon log:\n%s", f.logs.String())
		}
	})
	return f
}

// testOptions are short intervals for tests.
func testOptions() daemon.Options {
	return daemon.Options{BackoffMin: 50 * time.Millisecond, BackoffMax: time.Second, NetCheck: -1, SeqFillDelay: 50 * time.Millisecond}
}

// start runs the daemon and waits for its readiness.
func (f *fixture) start(opts daemon.Options) {
	f.t.Helper()
	db, err := state.Open(f.cfg.StateDir)
	if err != nil {
		f.t.Fatal(err)
	}
	opts.Logger = slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f.db = db
	f.d = daemon.New(f.cfg, db, opts)
	ctx, cancel := context.WithCancel(context.Background())
	f.cancel = cancel
	f.done = make(chan error, 1)
	go func() { f.done <- f.d.Run(ctx) }()
	select {
	case <-f.d.Ready():
	case err := <-f.done:
		f.t.Fatalf("daemon stopped before it was ready: %v", err)
	case <-time.After(deadline):
		f.t.Fatal("daemon not ready")
	}
}

// stop stops the daemon (a no-op when it is not running).
func (f *fixture) stop() {
	if f.cancel == nil {
		return
	}
	f.cancel()
	if err := <-f.done; err != nil {
		f.t.Errorf("daemon: %v", err)
	}
	f.db.Close()
	f.cancel, f.d, f.db = nil, nil, nil
}

func (f *fixture) msg(subject string) []byte {
	return testenv.GenMessage(f.rnd, &testenv.GenOptions{Subject: subject, BodySize: 300 + f.rnd.IntN(2000)})
}

func (f *fixture) status() daemon.AccountStatus {
	return f.d.Status().Accounts[0]
}

// localMsg is a message file in the Maildir.
type localMsg struct {
	path  string
	key   string
	flags string // Maildir letters
}

// local reads a folder's messages by Message-ID, tolerating files that the
// daemon renames or removes meanwhile.
func (f *fixture) local(folder string) map[string][]localMsg {
	out := map[string][]localMsg{}
	dir, err := f.store.FolderPath(folder)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, sub := range []string{"new", "cur"} {
		ents, _ := os.ReadDir(filepath.Join(dir, sub))
		for _, e := range ents {
			p := filepath.Join(dir, sub, e.Name())
			id := messageIDOfFile(p)
			if id == "" {
				continue
			}
			key, flags := maildir.ParseName(e.Name())
			out[id] = append(out[id], localMsg{path: p, key: key, flags: flags})
		}
	}
	return out
}

func messageIDOfFile(p string) string {
	fh, err := os.Open(p)
	if err != nil {
		return ""
	}
	defer fh.Close()
	m, err := mail.ReadMessage(fh)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(m.Header.Get("Message-Id"))
}

func msgID(raw []byte) string { return testenv.MessageIDOf(raw) }

// serverIDs counts the Message-IDs of a server folder.
func (f *fixture) serverIDs(folder string) map[string]int {
	out := map[string]int{}
	for _, m := range f.u.Messages(f.t, folder) {
		out[m.MessageID]++
	}
	return out
}

// serverFlags returns the flags of a message on the server by Message-ID.
func (f *fixture) serverFlags(folder, id string) []string {
	for _, m := range f.u.Messages(f.t, folder) {
		if m.MessageID == id {
			return m.Flags
		}
	}
	return nil
}

// inSync reports whether the server and the Maildir agree, with the
// differences.
func (f *fixture) inSync() (bool, string) {
	server := map[string][]testenv.Msg{}
	for _, name := range f.u.Folders(f.t) {
		server[name] = f.u.Messages(f.t, name)
	}
	local := map[string][]testenv.Msg{}
	names, err := f.store.Folders()
	if err != nil {
		return false, err.Error()
	}
	for _, n := range names {
		for id, ms := range f.local(n) {
			for _, m := range ms {
				var flags []string
				for _, fl := range maildir.FlagsToIMAP(m.flags) {
					flags = append(flags, string(fl))
				}
				local[n] = append(local[n], testenv.Msg{MessageID: id, Flags: sortStrings(flags), Path: m.path})
			}
		}
		if _, ok := local[n]; !ok {
			local[n] = nil
		}
	}
	d := testenv.DiffAccount(server, local)
	return len(d) == 0, strings.Join(d, "\n")
}

func sortStrings(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

// waitInSync waits until server and Maildir agree.
func (f *fixture) waitInSync() {
	f.t.Helper()
	var diff string
	eventually(f.t, func() string { return "server and Maildir differ:\n" + diff }, func() bool {
		ok, d := f.inSync()
		diff = d
		return ok
	})
}

// writeLocal delivers a message into a local folder the way a mail client
// does: a file in tmp/, renamed into cur/ with flags.
func (f *fixture) writeLocal(folder string, raw []byte, flags string) string {
	f.t.Helper()
	dir, err := f.store.FolderPath(folder)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			f.t.Fatal(err)
		}
	}
	name := fmt.Sprintf("%d.M%dP%d.client", time.Now().Unix(), f.rnd.Int64(), os.Getpid())
	tmp := filepath.Join(dir, "tmp", name)
	if err := os.WriteFile(tmp, bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n")), 0o600); err != nil {
		f.t.Fatal(err)
	}
	dst := filepath.Join(dir, "cur", name+":2,"+flags)
	if err := os.Rename(tmp, dst); err != nil {
		f.t.Fatal(err)
	}
	return dst
}

// setLocalFlags renames a message file to carry flags, as mutt does.
func setLocalFlags(t *testing.T, path, flags string) string {
	t.Helper()
	key, _ := maildir.ParseName(filepath.Base(path))
	dst := filepath.Join(filepath.Dir(filepath.Dir(path)), "cur", key+":2,"+flags)
	if err := os.Rename(path, dst); err != nil {
		t.Fatal(err)
	}
	return dst
}
