package daemon_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/daemon"
	"github.com/mailmirror/mailmirror/internal/testenv"
)

// TestStatusAndSyncOverTheControlSocket: status shows the account
// connected with its IDLE connection and per-folder counts; a sync request
// runs a pass and answers with its summary; without the daemon the socket
// is gone and the offline status still shows what the state knows.
func TestStatusAndSyncOverTheControlSocket(t *testing.T) {
	u := testenv.Shared(t).NewUser(t)
	u.CreateFolder(t, "Archive")
	f := newFixture(t, u, u.Server().IMAPPort, "")
	for i := 0; i < 3; i++ {
		u.Append(t, "INBOX", f.msg("inbox"))
	}
	u.Append(t, "Archive", f.msg("archive"), imap.FlagSeen)
	f.start(testOptions())
	ctx := context.Background()

	sock := filepath.Join(f.cfg.StateDir, daemon.SocketName)
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("control socket %s: %v, mode %v", sock, err, fi.Mode())
	}
	var st *daemon.Status
	eventually(t, func() string { return "status never showed IDLE connected" }, func() bool {
		var err error
		st, err = daemon.RequestStatus(ctx, f.cfg.StateDir)
		if err != nil {
			t.Fatal(err)
		}
		return len(st.Accounts) == 1 && len(st.Accounts[0].Idle) == 1 && st.Accounts[0].Idle[0].Connected
	})
	a := st.Accounts[0]
	if !st.Running || !st.Ready || st.PID != os.Getpid() || a.Name != "test" || !a.Connected || a.State != daemon.StateConnected ||
		a.LastPass.IsZero() || a.Messages != 4 || a.PendingOps != 0 {
		t.Errorf("status: %+v\naccount: %+v", st, a)
	}
	counts := map[string]int{}
	for _, fo := range a.Folders {
		counts[fo.Name] = fo.Messages
	}
	if counts["INBOX"] != 3 || counts["Archive"] != 1 {
		t.Errorf("folder counts %v", counts)
	}

	// A sync request runs a pass and reports what it did.
	raw := f.msg("fetched by the sync request")
	u.Append(t, "Archive", raw, imap.FlagSeen) // not an IDLE folder
	res, err := daemon.RequestSync(ctx, f.cfg.StateDir, nil)
	if err != nil || len(res) != 1 || res[0].Account != "test" || res[0].Error != "" || !strings.HasPrefix(res[0].Summary, "down: ") {
		t.Errorf("sync: %+v, %v", res, err)
	}
	// The pass ran after the request: the message is there.
	if len(f.local("Archive")[msgID(raw)]) != 1 {
		t.Fatal("the message is not local after the sync request returned")
	}
	if _, err := daemon.RequestSync(ctx, f.cfg.StateDir, []string{"nope"}); err == nil || !strings.Contains(err.Error(), `no account named "nope"`) {
		t.Errorf("sync of an unknown account: %v", err)
	}

	f.stop()
	if _, err := daemon.RequestStatus(ctx, f.cfg.StateDir); !errors.Is(err, daemon.ErrNotRunning) {
		t.Errorf("status without a daemon: %v, want ErrNotRunning", err)
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket left behind: %v", err)
	}
	off, err := daemon.OfflineStatus(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if off.Running || len(off.Accounts) != 1 || off.Accounts[0].State != daemon.StateUnknown || off.Accounts[0].Messages != 5 {
		t.Errorf("offline status %+v", off)
	}
}

// TestHookRunsCoalesced: a burst of messages pushed by IDLE runs
// on_new_mail a few times, never once per message, with the environment
// set, and the counts add up.
func TestHookRunsCoalesced(t *testing.T) {
	u := testenv.Shared(t).NewUser(t)
	out := filepath.Join(t.TempDir(), "hook.log")
	hook := `on_new_mail = "echo \"$MAILMIRROR_NEW $MAILMIRROR_ACCOUNT $MAILMIRROR_FOLDER\" >> ` + out + `"`
	f := newFixture(t, u, u.Server().IMAPPort, hook)
	f.start(testOptions())
	eventually(t, func() string { return "no IDLE" }, func() bool {
		st := f.status()
		return len(st.Idle) == 1 && st.Idle[0].Connected
	})
	const burst = 40
	for i := 0; i < burst; i++ {
		u.Append(t, "INBOX", f.msg("burst"))
	}
	var runs, total int
	eventually(t, func() string { return "hooks counted " + strconv.Itoa(total) + " messages" }, func() bool {
		data, _ := os.ReadFile(out)
		runs, total = 0, 0
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			fields := strings.Fields(line)
			if len(fields) != 3 || fields[1] != "test" || fields[2] != "INBOX" {
				continue
			}
			n, _ := strconv.Atoi(fields[0])
			runs++
			total += n
		}
		return total == burst
	})
	if runs > burst/4 {
		t.Errorf("%d hook runs for %d messages", runs, burst)
	}
	t.Logf("%d messages, %d hook runs", burst, runs)
}

// TestAccountsAreIsolated: an account with a wrong password backs off to
// the maximum and shows why in status, while another account keeps
// syncing by push.
func TestAccountsAreIsolated(t *testing.T) {
	d := testenv.Shared(t)
	good := d.NewUser(t)
	bad := d.NewUser(t)
	dir := t.TempDir()
	text := "state_dir = \"" + filepath.Join(dir, "state") + "\"\n" +
		accountConfig("bad", &testenv.User{Name: bad.Name, Password: "wrong"}, d.IMAPPort, filepath.Join(dir, "bad"), "") +
		accountConfig("good", good, d.IMAPPort, filepath.Join(dir, "good"), "")
	cfg, err := config.Parse([]byte(text), filepath.Join(dir, "config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, good, d.IMAPPort, "")
	f.cfg = cfg
	f.acct = cfg.Accounts[1]
	f.store.Root = f.acct.Maildir
	f.start(testOptions())

	raw := f.msg("for the good account")
	good.Append(t, "INBOX", raw)
	eventually(t, func() string { return "the good account did not get its mail" }, func() bool {
		return len(f.local("INBOX")[msgID(raw)]) == 1
	})
	st := f.d.Status()
	b := st.Accounts[0]
	if b.Name != "bad" || b.State != daemon.StateAuthFailed || b.Connected || !strings.Contains(b.Reason, "authentication failed") || b.NextRetry.IsZero() {
		t.Errorf("bad account status: %+v", b)
	}
	if strings.Contains(f.logs.String(), "wrong") {
		t.Error("the log shows the password")
	}
	if g := st.Accounts[1]; g.State != daemon.StateConnected {
		t.Errorf("good account status: %+v", g)
	}
	// A sync request tries the bad account at once (not waiting for the
	// backoff) and reports the error.
	res, err := f.d.Sync(context.Background(), []string{"bad"})
	if err != nil || len(res) != 1 || !strings.Contains(res[0].Error, "authentication failed") {
		t.Errorf("sync of the bad account: %+v, %v", res, err)
	}
}

// TestPOP3AccountIsPolled: a POP3 account is polled every poll_interval
// and runs its hook.
func TestPOP3AccountIsPolled(t *testing.T) {
	d := testenv.Shared(t)
	u := d.NewUser(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "hook.log")
	text := `state_dir = "` + filepath.Join(dir, "state") + `"
[[account]]
name = "pop"
protocol = "pop3"
host = "127.0.0.1"
port = ` + strconv.Itoa(d.POP3Port) + `
tls = "none"
username = "` + u.Name + `"
password = "` + u.Password + `"
maildir = "` + filepath.Join(dir, "Mail") + `"
poll_interval = "200ms"
on_new_mail = "echo $MAILMIRROR_NEW $MAILMIRROR_FOLDER >> ` + out + `"
`
	cfg, err := config.Parse([]byte(text), filepath.Join(dir, "config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, u, d.IMAPPort, "")
	f.cfg, f.acct = cfg, cfg.Accounts[0]
	f.store.Root = f.acct.Maildir
	f.start(testOptions())
	raw := f.msg("by pop3")
	u.Append(t, "INBOX", raw)
	eventually(t, func() string { return "the POP3 message never arrived" }, func() bool {
		return len(f.local("INBOX")[msgID(raw)]) == 1
	})
	eventually(t, func() string { return "the hook did not run" }, func() bool {
		data, _ := os.ReadFile(out)
		return strings.TrimSpace(string(data)) == "1 INBOX"
	})
	st := f.status()
	if st.Protocol != "pop3" || !st.Connected || st.Messages != 1 {
		t.Errorf("status %+v", st)
	}
}
