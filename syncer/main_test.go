package syncer

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/internal/testenv"
	"github.com/mailmirror/mailmirror/maildir"
	"github.com/mailmirror/mailmirror/state"
)

func TestMain(m *testing.M) {
	if cfg := os.Getenv("SYNCER_CHILD_CONFIG"); cfg != "" {
		os.Exit(childSync(cfg))
	}
	os.Exit(testenv.Main(m))
}

// childSync runs one pass of the first account of a config file: the
// subprocess of the crash tests.
func childSync(path string) int {
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	db, err := state.Open(cfg.StateDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer db.Close()
	killAtArchiveStep(os.Getenv("SYNCER_CHILD_ARCHIVE_KILL"))
	killAtTagStep(os.Getenv("SYNCER_CHILD_TAGS_KILL"))
	killAfterMoveInto(os.Getenv("SYNCER_CHILD_MOVE_KILL"))
	if _, err := SyncAccount(context.Background(), cfg.Accounts[0], db, Options{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// fixture is one account on the shared Dovecot with its own Maildir and
// state directory: one "device".
type fixture struct {
	t       *testing.T
	u       *testenv.User
	acct    *config.Account
	dir     string
	cfgPath string
	store   *maildir.Store
	db      *state.DB
	rnd     *rand.Rand
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	testenv.RequireDovecot(t)
	d := testenv.Shared(t)
	u := d.NewUser(t)
	return newDevice(t, u)
}

// newDevice is another device on the same account.
func newDevice(t *testing.T, u *testenv.User) *fixture {
	t.Helper()
	dir := t.TempDir()
	cfgText := fmt.Sprintf(`state_dir = %q
[[account]]
name = "test"
protocol = "imap"
host = "127.0.0.1"
port = %d
tls = "none"
username = %q
password_env = "SYNCER_TEST_PASSWORD"
maildir = %q
`, filepath.Join(dir, "state"), u.Server().IMAPPort, u.Name, filepath.Join(dir, "Mail"))
	cfgPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	acct, store, db := openTestAccount(t, cfgText, "test.toml")
	return &fixture{t: t, u: u, acct: acct, dir: dir, cfgPath: cfgPath, store: store, db: db, rnd: rand.New(rand.NewPCG(1, uint64(len(t.Name()))))}
}

func (f *fixture) sync() Stats {
	f.t.Helper()
	st, err := f.trySync()
	if err != nil {
		f.t.Fatalf("sync: %v", err)
	}
	return st
}

func (f *fixture) trySync() (Stats, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := New(f.acct, f.store, f.db, Options{DialOptions: DialOptions{Password: config.Secret(f.u.Password)}})
	defer s.Close()
	return s.Sync(ctx)
}

func (f *fixture) msg(subject string) []byte {
	return testenv.GenMessage(f.rnd, &testenv.GenOptions{Subject: subject, BodySize: 500 + f.rnd.IntN(3000)})
}

func (f *fixture) compare() {
	f.t.Helper()
	if !testenv.CompareAccount(f.t, f.u, f.acct.Maildir, f.acct.Layout) {
		f.t.FailNow()
	}
}

func (f *fixture) local(folder string) []testenv.Msg {
	return testenv.ReadMaildir(f.t, f.acct.Maildir, f.acct.Layout)[folder]
}

// file returns the path of the local file of a message by Message-ID.
func (f *fixture) file(folder, msgid string) string {
	f.t.Helper()
	for _, m := range f.local(folder) {
		if m.MessageID == msgid {
			return m.Path
		}
	}
	f.t.Fatalf("no local file for %s in %s", msgid, folder)
	return ""
}

func msgID(raw []byte) string { return testenv.MessageIDOf(raw) }

func testenvGen(f *fixture, subject string, size int) []byte {
	return testenv.GenMessage(f.rnd, &testenv.GenOptions{Subject: subject, BodySize: size})
}

func (f *fixture) localAll() map[string][]testenv.Msg {
	return testenv.ReadMaildir(f.t, f.acct.Maildir, f.acct.Layout)
}
