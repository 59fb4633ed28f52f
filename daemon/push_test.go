package daemon_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/internal/testenv"
)

// TestServerChangesArriveByIDLE: with poll_interval = 1h, a message another
// client appends, a flag it sets and a message it expunges reach the
// Maildir through IDLE alone.
func TestServerChangesArriveByIDLE(t *testing.T) {
	u := testenv.Shared(t).NewUser(t)
	f := newFixture(t, u, u.Server().IMAPPort, "")
	first := f.msg("first")
	firstUID := u.Append(t, "INBOX", first)
	f.start(testOptions())
	if _, ok := f.local("INBOX")[msgID(first)]; !ok {
		t.Fatal("the first pass did not download the INBOX")
	}
	eventually(t, func() string { return "IDLE never connected" }, func() bool {
		st := f.status()
		return len(st.Idle) == 1 && st.Idle[0].Connected && st.Idle[0].Folder == "INBOX"
	})

	passes := f.settle()
	raw := f.msg("pushed")
	uid := u.Append(t, "INBOX", raw)
	eventually(t, func() string { return "the appended message never arrived" }, func() bool {
		ms := f.local("INBOX")[msgID(raw)]
		return len(ms) == 1 && strings.Contains(ms[0].path, "/new/")
	})
	// Each change comes by a pull of just that message, not a full pass.
	pulled := func(n int) {
		t.Helper()
		eventually(t, func() string { return fmt.Sprintf("%d pulls, want %d: %+v", f.status().Targeted, n, f.status()) }, func() bool {
			return f.status().Targeted >= n
		})
	}
	pulled(1)

	u.SetFlags(t, "INBOX", uid, true, imap.FlagFlagged, imap.FlagSeen)
	eventually(t, func() string { return "the flags never arrived" }, func() bool {
		ms := f.local("INBOX")[msgID(raw)]
		return len(ms) == 1 && ms[0].flags == "FS" && strings.Contains(ms[0].path, "/cur/")
	})
	pulled(2)

	u.Expunge(t, "INBOX", firstUID)
	eventually(t, func() string { return "the expunged message is still local" }, func() bool {
		_, ok := f.local("INBOX")[msgID(first)]
		return !ok
	})
	pulled(3)
	// The pushed message arrived after the IDLE connection listed the
	// UIDs: it learnt its UID since, and its expunge is pulled too.
	u.Expunge(t, "INBOX", uid)
	eventually(t, func() string { return "the second expunged message is still local" }, func() bool {
		_, ok := f.local("INBOX")[msgID(raw)]
		return !ok
	})
	pulled(4)
	if st := f.status(); st.Passes-passes != st.Targeted {
		t.Errorf("%d passes for the pushes, of which %d pulls: a push took a full pass", st.Passes-passes, st.Targeted)
	}
	f.waitInSync()
	// One file each: nothing was downloaded twice.
	for id, ms := range f.local("INBOX") {
		if len(ms) != 1 {
			t.Errorf("%s: %d files", id, len(ms))
		}
	}
}

// settle waits until the daemon has no pass running and started none for
// a while (the first pass created the local folders: the watcher's rescan
// of the tree takes one more pass), and returns its pass count.
func (f *fixture) settle() int {
	f.t.Helper()
	passes := -1
	eventually(f.t, func() string { return "the daemon never settled" }, func() bool {
		st := f.status()
		settled := !st.Syncing && st.Passes == passes
		passes = st.Passes
		time.Sleep(300 * time.Millisecond)
		return settled
	})
	return passes
}

// TestLocalChangesReachTheServer: a flag set by a rename in cur/, a file
// deleted, a file moved to another folder, a new message in Sent and a new
// local folder reach the server through the watcher alone (poll_interval =
// 1h); all but the new folder by targeted passes.
func TestLocalChangesReachTheServer(t *testing.T) {
	u := testenv.Shared(t).NewUser(t)
	u.CreateFolder(t, "Archive")
	u.CreateFolder(t, "Sent")
	f := newFixture(t, u, u.Server().IMAPPort, "")
	a, b, c := f.msg("flag me"), f.msg("delete me"), f.msg("move me")
	for _, raw := range [][]byte{a, b, c} {
		u.Append(t, "INBOX", raw, imap.FlagSeen)
	}
	f.start(testOptions())
	f.waitInSync()
	inbox := f.local("INBOX")
	passes := f.settle()

	// Flag.
	setLocalFlags(t, inbox[msgID(a)][0].path, "FS")
	eventually(t, func() string { return "\\Flagged never reached the server" }, func() bool {
		return slices.Contains(f.serverFlags("INBOX", msgID(a)), `\Flagged`)
	})

	// Delete.
	if err := os.Remove(inbox[msgID(b)][0].path); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() string { return "the deleted message is still on the server" }, func() bool {
		return f.serverIDs("INBOX")[msgID(b)] == 0
	})

	// Move: the same file name in another folder's cur/.
	src := inbox[msgID(c)][0].path
	archive, err := f.store.FolderPath("Archive")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(src, filepath.Join(archive, "cur", filepath.Base(src))); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() string { return "the moved message is not in Archive on the server" }, func() bool {
		return f.serverIDs("Archive")[msgID(c)] == 1 && f.serverIDs("INBOX")[msgID(c)] == 0
	})

	// A message saved to Sent by a mail client.
	sent := f.msg("sent by mutt")
	f.writeLocal("Sent", sent, "S")
	eventually(t, func() string { return "the sent message never reached the server" }, func() bool {
		return f.serverIDs("Sent")[msgID(sent)] == 1
	})
	// Each went for just that message, without a full pass (the IDLE
	// connection's echoes may add targeted pulls). The server has the
	// message before the pass that sent it is counted: wait for its end.
	eventually(t, func() string { return "the pass never ended" }, func() bool { return !f.status().Syncing })
	if st := f.status(); st.Passes-passes != st.Targeted || st.Targeted < 4 {
		t.Errorf("%d passes for a flag, a delete, a move and a new message, %d of them targeted; want only targeted ones", st.Passes-passes, st.Targeted)
	}

	// A new local folder, created as a mail client does.
	proj := f.msg("in a new folder")
	f.writeLocal("Projects/2024", proj, "S")
	eventually(t, func() string { return "the new folder never reached the server" }, func() bool {
		return slices.Contains(u.Folders(t), "Projects/2024") && f.serverIDs("Projects/2024")[msgID(proj)] == 1
	})

	f.waitInSync()
	if !testenv.CompareAccount(t, u, f.acct.Maildir, f.acct.Layout) {
		t.Fatal("server and Maildir differ")
	}
}

// TestOwnWritesAreNotEchoed: a message downloaded by push and a flag
// change applied from the server make the watcher fire, but the daemon
// sees that the state already agrees: one pass each, no echo pass.
func TestOwnWritesAreNotEchoed(t *testing.T) {
	u := testenv.Shared(t).NewUser(t)
	f := newFixture(t, u, u.Server().IMAPPort, "")
	f.start(testOptions())
	eventually(t, func() string { return "IDLE never connected" }, func() bool {
		st := f.status()
		return len(st.Idle) == 1 && st.Idle[0].Connected && !st.Syncing
	})
	time.Sleep(200 * time.Millisecond) // let start-up passes end
	before := f.status().Passes

	raw := f.msg("pushed once")
	uid := u.Append(t, "INBOX", raw)
	eventually(t, func() string { return "the message never arrived" }, func() bool {
		return len(f.local("INBOX")[msgID(raw)]) == 1
	})
	u.SetFlags(t, "INBOX", uid, true, imap.FlagSeen)
	eventually(t, func() string { return "the flag never arrived" }, func() bool {
		ms := f.local("INBOX")[msgID(raw)]
		return len(ms) == 1 && ms[0].flags == "S"
	})
	// Give an echo pass every chance to happen.
	time.Sleep(500 * time.Millisecond)
	if n := f.status().Passes - before; n != 2 {
		t.Errorf("%d passes for one new message and one flag change, want 2 (no echo)", n)
	}
}

// TestEveryFolderIdlingIsNotPolled: with every folder in idle_folders, the
// poll_interval passes are skipped (IDLE pushes every change: an idle
// account costs only IDLE and its keep-alives), and changes still arrive.
func TestEveryFolderIdlingIsNotPolled(t *testing.T) {
	u := testenv.Shared(t).NewUser(t)
	u.CreateFolder(t, "Archive")
	f := newFixture(t, u, u.Server().IMAPPort, `idle_folders = ["*"]`)
	f.acct.PollInterval = 100 * time.Millisecond
	f.start(testOptions())
	eventually(t, func() string { return fmt.Sprintf("IDLE not on both folders: %+v", f.status().Idle) }, func() bool {
		st := f.status()
		return len(st.Idle) == 2 && st.Idle[0].Connected && st.Idle[1].Connected
	})
	passes := f.settle()
	time.Sleep(time.Second)
	if st := f.status(); st.Passes != passes {
		t.Errorf("%d passes in a second with nothing to do and every folder idling: polled", st.Passes-passes)
	}
	raw := f.msg("archived elsewhere")
	u.Append(t, "Archive", raw)
	eventually(t, func() string { return "the message never arrived in Archive" }, func() bool {
		return len(f.local("Archive")[msgID(raw)]) == 1
	})
}
