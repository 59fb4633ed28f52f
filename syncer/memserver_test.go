package syncer

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/internal/testenv"
	"github.com/mailmirror/mailmirror/maildir"
	"github.com/mailmirror/mailmirror/state"
)

// memServer is go-imap's in-process server with a chosen capability set:
// no CONDSTORE and no SPECIAL-USE ever, and optionally not even UIDPLUS
// and MOVE.
type memServer struct {
	addr string
	user *imapmemserver.User
}

func startMemServer(t *testing.T, caps imap.CapSet) *memServer {
	t.Helper()
	mem := imapmemserver.New()
	user := imapmemserver.NewUser("alice", "secret")
	user.Create("INBOX", nil)
	mem.AddUser(user)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         caps,
		InsecureAuth: true,
		Logger:       discardLogger{},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return &memServer{addr: ln.Addr().String(), user: user}
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}

func (m *memServer) client(t *testing.T) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(m.addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login("alice", "secret").Wait(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// view reads every folder's messages from the server, like
// testenv.User.Messages does for Dovecot.
func (m *memServer) view(t *testing.T) map[string][]testenv.Msg {
	t.Helper()
	c := m.client(t)
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]testenv.Msg{}
	for _, l := range list {
		if _, err := c.Select(l.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
			t.Fatal(err)
		}
		sec := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Message-Id"}, Peek: true}
		msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Flags: true, BodySection: []*imap.FetchItemBodySection{sec}}).Collect()
		if err != nil && !strings.Contains(err.Error(), "No messages") {
			// An empty mailbox answers 1:* with an error on some servers.
			msgs = nil
		}
		var ms []testenv.Msg
		for _, b := range msgs {
			var flags []string
			for _, f := range b.Flags {
				if f != `\Recent` {
					flags = append(flags, string(f))
				}
			}
			sort.Strings(flags)
			id := strings.TrimSpace(string(b.FindBodySection(sec)))
			if i := strings.IndexByte(id, ':'); i >= 0 {
				id = strings.TrimSpace(id[i+1:])
			}
			ms = append(ms, testenv.Msg{UID: uint32(b.UID), MessageID: id, Flags: flags})
		}
		out[l.Mailbox] = ms
	}
	return out
}

func (m *memServer) append(t *testing.T, folder string, raw []byte, flags ...imap.Flag) uint32 {
	t.Helper()
	c := m.client(t)
	cmd := c.Append(folder, int64(len(raw)), &imap.AppendOptions{Flags: flags})
	cmd.Write(raw)
	cmd.Close()
	data, err := cmd.Wait()
	if err != nil {
		t.Fatal(err)
	}
	return uint32(data.UID)
}

func memAccount(t *testing.T, m *memServer) (*config.Account, *maildir.Store, *state.DB) {
	t.Helper()
	dir := t.TempDir()
	return openTestAccount(t, fmt.Sprintf(`state_dir = %q
[[account]]
name = "mem"
protocol = "imap"
host = "127.0.0.1"
port = %s
tls = "none"
username = "alice"
password_env = "X"
maildir = %q
`, filepath.Join(dir, "state"), m.addr[strings.LastIndex(m.addr, ":")+1:], filepath.Join(dir, "Mail")), "mem.toml")
}

func memSync(t *testing.T, a *config.Account, store *maildir.Store, db *state.DB) Stats {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := New(a, store, db, Options{DialOptions: DialOptions{Password: "secret"}})
	defer s.Close()
	st, err := s.Sync(ctx)
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	return st
}

func memCompare(t *testing.T, m *memServer, a *config.Account) {
	t.Helper()
	diffs := testenv.DiffAccount(m.view(t), testenv.ReadMaildir(t, a.Maildir, a.Layout))
	for _, d := range diffs {
		t.Error(d)
	}
	if len(diffs) > 0 {
		t.FailNow()
	}
}

func TestServerWithoutCondstoreOrSpecialUse(t *testing.T) {
	m := startMemServer(t, imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapUIDPlus: {}, imap.CapMove: {}, imap.CapListStatus: {}, imap.CapESearch: {}, imap.CapNamespace: {}})
	c := m.client(t)
	c.Create("Archive", nil).Wait()
	f := &fixture{t: t, rnd: newRand(t)}
	var uids []uint32
	var raws [][]byte
	for i := 0; i < 6; i++ {
		raw := f.msg(fmt.Sprintf("mem %d", i))
		raws = append(raws, raw)
		uids = append(uids, m.append(t, "INBOX", raw))
	}
	a, store, db := memAccount(t, m)
	if st := memSync(t, a, store, db); st.Down.New != 6 {
		t.Fatalf("first pass %v", st)
	}
	memCompare(t, m, a)
	// Server flag change (found without CONDSTORE by a full FLAGS fetch),
	// local delete, local move.
	c.Select("INBOX", nil).Wait()
	c.Store(imap.UIDSetNum(imap.UID(uids[0])), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close()
	f.acct, f.store = a, store
	os.Remove(memFile(t, a, "INBOX", msgID(raws[1])))
	f.renameLocal("INBOX", "Archive", msgID(raws[2]))
	st := memSync(t, a, store, db)
	if st.Down.Flags != 1 || st.Up.Deleted != 1 || st.Up.Moved != 1 {
		t.Errorf("second pass %+v", st)
	}
	memCompare(t, m, a)
	if st := memSync(t, a, store, db); st.Down != (Counts{}) || st.Up != (Counts{}) {
		t.Errorf("third pass did something: %v", st)
	}
}

// Without UIDPLUS, a local delete must never send a plain EXPUNGE: it
// would also remove messages another client marked \Deleted.
func TestServerWithoutUIDPlusNeverExpungesOthersDeletedMessages(t *testing.T) {
	m := startMemServer(t, imap.CapSet{imap.CapIMAP4rev1: {}})
	f := &fixture{t: t, rnd: newRand(t)}
	keep := f.msg("marked deleted by another client")
	gone := f.msg("deleted locally")
	keepUID := m.append(t, "INBOX", keep)
	m.append(t, "INBOX", gone)
	a, store, db := memAccount(t, m)
	memSync(t, a, store, db)
	c := m.client(t)
	c.Select("INBOX", nil).Wait()
	c.Store(imap.UIDSetNum(imap.UID(keepUID)), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close()
	os.Remove(memFile(t, a, "INBOX", msgID(gone)))
	memSync(t, a, store, db)
	inbox := m.view(t)["INBOX"]
	found := false
	for _, msg := range inbox {
		if msg.MessageID == msgID(keep) {
			found = true
		}
	}
	if !found {
		t.Fatalf("the other client's \\Deleted message was expunged: %+v", inbox)
	}
	// The locally deleted one is marked \Deleted, not re-downloaded.
	for i := 0; i < 2; i++ {
		if st := memSync(t, a, store, db); st.Down.New != 0 {
			t.Fatalf("re-downloaded a deleted message: %v", st)
		}
	}
	for _, msg := range testenv.ReadMaildir(t, a.Maildir, a.Layout)["INBOX"] {
		if msg.MessageID == msgID(gone) {
			t.Fatalf("deleted message came back locally")
		}
	}
}

func memFile(t *testing.T, a *config.Account, folder, id string) string {
	t.Helper()
	for _, m := range testenv.ReadMaildir(t, a.Maildir, a.Layout)[folder] {
		if m.MessageID == id {
			return m.Path
		}
	}
	t.Fatalf("no local %s in %s", id, folder)
	return ""
}

// Without CONDSTORE, LIST-STATUS cannot show a flag change: a folder
// whose counters did not move must still have its flags fetched, or a
// flag another client changed never arrives.
func TestServerWithoutCondstoreFlagOnlyChangeArrives(t *testing.T) {
	m := startMemServer(t, imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapUIDPlus: {}, imap.CapMove: {}, imap.CapListStatus: {}, imap.CapESearch: {}})
	f := &fixture{t: t, rnd: newRand(t)}
	raw := f.msg("flag only")
	uid := m.append(t, "INBOX", raw)
	a, store, db := memAccount(t, m)
	memSync(t, a, store, db)
	// Local directories older than a second, so that the local stamp is
	// trusted and the folder is quiet locally.
	old := time.Now().Add(-time.Minute)
	for _, sub := range []string{"new", "cur"} {
		os.Chtimes(filepath.Join(a.Maildir, sub), old, old)
	}
	memSync(t, a, store, db)
	c := m.client(t)
	c.Select("INBOX", nil).Wait()
	if err := c.Store(imap.UIDSetNum(imap.UID(uid)), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if st := memSync(t, a, store, db); st.Down.Flags != 1 {
		t.Errorf("pass after a server flag change: %+v, want one flag change down", st)
	}
	memCompare(t, m, a)
}
