package daemon_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/daemon"
	"github.com/mailmirror/mailmirror/internal/testenv"
)

// TestOfflineChangesArriveOnce: with the server unreachable (a proxy that
// closes everything), local changes are made, the daemon is restarted
// while still offline and more changes are made; when the server is back,
// every change arrives, each exactly once.
func TestOfflineChangesArriveOnce(t *testing.T) {
	u := testenv.Shared(t).NewUser(t)
	u.CreateFolder(t, "Archive")
	u.CreateFolder(t, "Sent")
	p := startProxy(t, u.IMAPAddr())
	f := newFixture(t, u, p.port(), "")
	a, b, c, e := f.msg("flag me"), f.msg("delete me"), f.msg("move me"), f.msg("flag me later")
	for _, raw := range [][]byte{a, b, c, e} {
		u.Append(t, "INBOX", raw, imap.FlagSeen)
	}
	f.start(testOptions())
	f.waitInSync()
	inbox := f.local("INBOX")

	p.setDown(true)
	setLocalFlags(t, inbox[msgID(a)][0].path, "FS")
	if err := os.Remove(inbox[msgID(b)][0].path); err != nil {
		t.Fatal(err)
	}
	src := inbox[msgID(c)][0].path
	archive, _ := f.store.FolderPath("Archive")
	if err := os.Rename(src, filepath.Join(archive, "cur", filepath.Base(src))); err != nil {
		t.Fatal(err)
	}
	sent := f.msg("written offline")
	f.writeLocal("Sent", sent, "S")

	// The daemon notices it is offline and records the changed folders.
	eventually(t, func() string { return "status never showed the account offline with pending operations" }, func() bool {
		st := f.status()
		return !st.Connected && st.State == daemon.StateDisconnected && st.PendingOps >= 3 && st.Reason != ""
	})

	// Restart while offline: the records survive, the first pass fails,
	// the daemon still gets ready.
	f.stop()
	f.start(testOptions())
	st := f.status()
	if st.Connected || st.PendingOps < 3 {
		t.Fatalf("after the restart: %+v", st)
	}
	setLocalFlags(t, f.local("INBOX")[msgID(e)][0].path, "RS")
	time.Sleep(100 * time.Millisecond) // let the watcher see it while offline

	p.setDown(false)
	eventually(t, func() string { return "the account never reconnected" }, func() bool {
		st := f.status()
		return st.Connected && st.PendingOps == 0
	})
	f.waitInSync()

	// Each change exactly once.
	count := func(id string) (n int) {
		for _, folder := range u.Folders(t) {
			n += f.serverIDs(folder)[id]
		}
		return n
	}
	for _, c := range []struct {
		name string
		raw  []byte
		want int
	}{{"flagged", a, 1}, {"deleted", b, 0}, {"moved", c, 1}, {"sent", sent, 1}, {"flagged later", e, 1}} {
		if n := count(msgID(c.raw)); n != c.want {
			t.Errorf("%s message: %d copies on the server, want %d", c.name, n, c.want)
		}
	}
	if f.serverIDs("Archive")[msgID(c)] != 1 {
		t.Error("the moved message is not in Archive")
	}
	if !slices.Contains(f.serverFlags("INBOX", msgID(a)), `\Flagged`) || !slices.Contains(f.serverFlags("INBOX", msgID(e)), `\Answered`) {
		t.Error("flags made offline did not reach the server")
	}
	if !testenv.CompareAccount(t, u, f.acct.Maildir, f.acct.Layout) {
		t.Fatal("server and Maildir differ")
	}
}
