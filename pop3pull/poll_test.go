package pop3pull

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/internal/testenv/pop3srv"
	"github.com/mailmirror/mailmirror/maildir"
	"github.com/mailmirror/mailmirror/state"
)

// device is one machine polling an account: its own Maildir and state.
type device struct {
	acct  *config.Account
	store *maildir.Store
	db    *state.DB
	opts  Options
}

// newAccount returns a POP3 account for addr in clear text on loopback.
func newAccount(t testing.TB, addr, user string, pass config.Secret) *config.Account {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	return &config.Account{
		Name: "pop", Protocol: config.ProtocolPOP3, Host: host, Port: p, TLS: config.TLSNone,
		Username: user, Password: pass, Maildir: filepath.Join(t.TempDir(), "Mail"),
		Layout: config.LayoutVerbatim, LeaveOnServer: true, Folder: "INBOX",
		PollInterval: 5 * time.Minute, MaxConnections: 1,
	}
}

// newDevice makes a device for addr; policy adjusts the account.
func newDevice(t testing.TB, addr string, policy func(a *config.Account)) *device {
	t.Helper()
	acct := newAccount(t, addr, "user", "pass")
	if policy != nil {
		policy(acct)
	}
	return openDevice(t, acct, filepath.Join(t.TempDir(), "state"))
}

func openDevice(t testing.TB, acct *config.Account, stateDir string) *device {
	t.Helper()
	store, err := maildir.Open(acct.Maildir, acct.Layout)
	if err != nil {
		t.Fatal(err)
	}
	db, err := state.Open(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &device{acct: acct, store: store, db: db}
}

func (d *device) poll(t testing.TB) Result {
	t.Helper()
	res, err := Poll(context.Background(), d.acct, d.store, d.db, &d.opts)
	if err != nil {
		t.Fatalf("poll: %v (result %+v)", err, res)
	}
	for _, e := range res.Errors {
		t.Logf("poll: %v", e)
	}
	return res
}

// local returns the contents of every message file in the account's
// folder, sorted.
func (d *device) local(t testing.TB) [][]byte {
	t.Helper()
	var out [][]byte
	for _, e := range d.entries(t) {
		b, err := os.ReadFile(filepath.Join(d.folderPath(t), e.Sub, e.Name))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i], out[j]) < 0 })
	return out
}

func (d *device) folderPath(t testing.TB) string {
	f, err := d.store.Folder(d.acct.Folder)
	if err != nil {
		t.Fatal(err)
	}
	return f.Path
}

func (d *device) entries(t testing.TB) []maildir.Entry {
	t.Helper()
	f, err := d.store.Folder(d.acct.Folder)
	if err != nil {
		t.Fatal(err)
	}
	ents, err := f.Scan()
	if err != nil {
		t.Fatal(err)
	}
	return ents
}

// removeLocal deletes the local file whose content is body, as a user's
// mail client would.
func (d *device) removeLocal(t testing.TB, body []byte) {
	t.Helper()
	for _, e := range d.entries(t) {
		p := filepath.Join(d.folderPath(t), e.Sub, e.Name)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(b, body) {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("no local file holds %q", trunc(body))
}

// wantSet returns the stored form of msgs, sorted like device.local.
func wantSet(msgs ...[]byte) [][]byte {
	var out [][]byte
	for _, m := range msgs {
		out = append(out, wantStored(m))
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i], out[j]) < 0 })
	return out
}

// checkSame compares two sorted message sets message by message.
func checkSame(t testing.TB, what string, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d messages, want %d", what, len(got), len(want))
	}
	for i := 0; i < len(got) && i < len(want); i++ {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("%s: message %d is %q, want %q", what, i, trunc(got[i]), trunc(want[i]))
		}
	}
}

// serverSet returns the stored form of what the fake server holds.
func serverSet(srv *pop3srv.Server) [][]byte {
	var msgs [][]byte
	for _, m := range srv.Mailbox.Messages() {
		msgs = append(msgs, m.Bytes())
	}
	return wantSet(msgs...)
}

func addMessages(srv *pop3srv.Server, n int, prefix string) [][]byte {
	var out [][]byte
	for i := range n {
		b := []byte(fmt.Sprintf("From: a@example.org\r\nSubject: %s %d\r\nMessage-ID: <%s.%d@example.org>\r\n\r\nbody %d\r\n.dot line\r\n", prefix, i, prefix, i, i))
		srv.Mailbox.Add(b)
		out = append(out, b)
	}
	return out
}

func TestPollStoresEachMessageOnce(t *testing.T) {
	srv, addr := startFake(t, pop3srv.Options{})
	var all [][]byte
	for _, b := range trickyMessages() {
		srv.Mailbox.Add(b)
		all = append(all, b)
	}
	all = append(all, addMessages(srv, 10, "plain")...)
	d := newDevice(t, addr, nil)
	d.opts.BatchMessages = 4
	res := d.poll(t)
	if res.Downloaded != len(all) || res.New != len(all) || res.Messages != len(all) || !res.UIDL {
		t.Fatalf("first poll: %+v", res)
	}
	checkSame(t, "local", d.local(t), wantSet(all...))
	res = d.poll(t)
	if res.Downloaded != 0 || res.New != 0 || res.Deleted != 0 {
		t.Fatalf("second poll: %+v", res)
	}
	checkSame(t, "local after second poll", d.local(t), wantSet(all...))
	for _, m := range srv.Mailbox.Messages() {
		if n := srv.RetrCount(m.UIDL); n != 1 {
			t.Errorf("%s was retrieved %d times", m.UIDL, n)
		}
	}
	if srv.Mailbox.Len() != len(all) {
		t.Errorf("leave_on_server: server has %d messages, want %d", srv.Mailbox.Len(), len(all))
	}
	for _, e := range d.entries(t) {
		if e.Sub != "new" || e.Flags != "" {
			t.Errorf("%s: delivered to %s with flags %q, want new/ without flags", e.Name, e.Sub, e.Flags)
		}
	}
}

func TestPollWithoutUIDL(t *testing.T) {
	srv, addr := startFake(t, pop3srv.Options{})
	all := addMessages(srv, 6, "no-uidl")
	srv.SetFaults(pop3srv.Faults{NoUIDL: true})
	d := newDevice(t, addr, nil)
	res := d.poll(t)
	if res.UIDL || res.Downloaded != 6 {
		t.Fatalf("first poll: %+v", res)
	}
	more := addMessages(srv, 2, "later")
	res = d.poll(t)
	if res.Downloaded != 2 || res.New != 2 {
		t.Fatalf("second poll: %+v", res)
	}
	checkSame(t, "local", d.local(t), wantSet(append(all, more...)...))
	for _, m := range srv.Mailbox.Messages() {
		if n := srv.RetrCount(m.UIDL); n != 1 {
			t.Errorf("%s was retrieved %d times", m.UIDL, n)
		}
	}
	srv.SetFaults(pop3srv.Faults{NoUIDL: true, NoTOP: true})
	if _, err := Poll(context.Background(), d.acct, d.store, d.db, nil); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("poll without UIDL and TOP: %v, want ErrUnsupported", err)
	}
}

// TestPollUIDLRefusedOnceIsNotAReasonToRehash pins the rule that a
// transient -ERR to UIDL never switches to header hashes (which would store
// every message again): the poll fails and the next one goes on.
func TestPollUIDLRefusedOnceIsNotAReasonToRehash(t *testing.T) {
	srv, addr := startFake(t, pop3srv.Options{})
	all := addMessages(srv, 4, "temp")
	d := newDevice(t, addr, nil)
	d.poll(t)
	srv.SetFaults(pop3srv.Faults{UIDLTempFail: true})
	_, err := Poll(context.Background(), d.acct, d.store, d.db, nil)
	if err == nil || !Temporary(err) {
		t.Fatalf("poll with UIDL refused: %v, want a temporary error", err)
	}
	checkSame(t, "local after the refusal", d.local(t), wantSet(all...))
	// Even on a fresh device, a server whose CAPA lists UIDL is not hashed.
	fresh := newDevice(t, addr, nil)
	if _, err := Poll(context.Background(), fresh.acct, fresh.store, fresh.db, nil); err == nil {
		t.Fatal("a fresh device polled with header hashes a server that lists UIDL")
	}
	srv.SetFaults(pop3srv.Faults{})
	if res := d.poll(t); res.Downloaded != 0 || !res.UIDL {
		t.Fatalf("poll after the refusal: %+v", res)
	}
	checkSame(t, "local", d.local(t), wantSet(all...))
}

// TestPollKeepsHashesWhenUIDLAppears: messages stored under header hashes
// stay known when the server starts offering UIDL.
func TestPollKeepsHashesWhenUIDLAppears(t *testing.T) {
	srv, addr := startFake(t, pop3srv.Options{})
	all := addMessages(srv, 3, "hash")
	srv.SetFaults(pop3srv.Faults{NoUIDL: true})
	d := newDevice(t, addr, nil)
	d.poll(t)
	srv.SetFaults(pop3srv.Faults{})
	more := addMessages(srv, 1, "later")
	res := d.poll(t)
	if res.UIDL || res.Downloaded != 1 {
		t.Fatalf("poll after UIDL appeared: %+v", res)
	}
	checkSame(t, "local", d.local(t), wantSet(append(all, more...)...))
}

func TestPollPipelines(t *testing.T) {
	for _, pipelining := range []bool{true, false} {
		t.Run(fmt.Sprintf("advertised=%v", pipelining), func(t *testing.T) {
			srv, addr := startFake(t, pop3srv.Options{})
			all := addMessages(srv, 30, "p")
			srv.SetFaults(pop3srv.Faults{NoPipelining: !pipelining})
			d := newDevice(t, addr, nil)
			d.poll(t)
			checkSame(t, "local", d.local(t), wantSet(all...))
			if pipelining != (srv.Pipelined() > 0) {
				t.Errorf("pipelined commands: %d", srv.Pipelined())
			}
		})
	}
}

func TestPollInUseAndLoginDelay(t *testing.T) {
	srv, addr := startFake(t, pop3srv.Options{})
	all := addMessages(srv, 3, "busy")
	d := newDevice(t, addr, nil)
	for _, f := range []pop3srv.Faults{{InUse: true}, {LoginDelay: true}} {
		srv.SetFaults(f)
		_, err := Poll(context.Background(), d.acct, d.store, d.db, nil)
		if !errors.Is(err, ErrInUse) && !errors.Is(err, ErrLoginDelay) || !Temporary(err) {
			t.Fatalf("poll with %+v: %v", f, err)
		}
		if len(d.local(t)) != 0 {
			t.Fatal("messages stored without a login")
		}
	}
	srv.SetFaults(pop3srv.Faults{AdvertiseLoginDelay: 300})
	res := d.poll(t)
	checkSame(t, "local", d.local(t), wantSet(all...))
	if res.LoginDelay != 300*time.Second {
		t.Errorf("LoginDelay = %v, want 5m", res.LoginDelay)
	}
}

// TestPollDropMidRetrLosesNothing: a connection that drops in the middle
// of message 12 keeps the 11 before it, names message 12, logs in again for
// the 8 after it, and leaves message 12 for a later poll (its back-off).
func TestPollDropMidRetrLosesNothing(t *testing.T) {
	for _, leave := range []bool{true, false} {
		t.Run(fmt.Sprintf("leave_on_server=%v", leave), func(t *testing.T) {
			srv, addr := startFake(t, pop3srv.Options{})
			all := addMessages(srv, 20, "drop")
			uidls := uidlsOf(srv)
			d := newDevice(t, addr, func(a *config.Account) { a.LeaveOnServer = leave })
			d.opts.BatchMessages = 5
			srv.SetFaults(pop3srv.Faults{DropAfterBytes: 40, DropRetrSkip: 11})
			res := d.poll(t)
			if res.Downloaded != 19 || res.NotFetched != 1 || srv.Logins() != 2 {
				t.Errorf("poll through a dropped connection: %+v after %d logins, want 19 downloaded in 2 logins", res, srv.Logins())
			}
			if len(res.Errors) != 1 || res.Errors[0].Num != 12 || res.Errors[0].UIDL != uidls[11] {
				t.Fatalf("problems %v, want message 12 (%s) named", res.Errors, uidls[11])
			}
			want := append(append([][]byte{}, all[:11]...), all[12:]...)
			checkSame(t, "local after the drop", d.local(t), wantSet(want...))
			if leave && srv.Mailbox.Len() != 20 || !leave && srv.Mailbox.Len() != 1 {
				t.Fatalf("server has %d messages after the drop", srv.Mailbox.Len())
			}
			d.opts.Now = func() time.Time { return time.Now().Add(firstBackoff + time.Second) }
			res = d.poll(t)
			if res.Downloaded != 1 || len(res.Errors) != 0 {
				t.Errorf("second poll: %+v, want message 12 downloaded", res)
			}
			checkSame(t, "local after recovery", d.local(t), wantSet(all...))
			if leave && srv.Mailbox.Len() != 20 || !leave && srv.Mailbox.Len() != 0 {
				t.Errorf("server has %d messages", srv.Mailbox.Len())
			}
			for i, u := range uidls {
				if n := srv.RetrCount(u); n != 1 {
					t.Errorf("message %d retrieved in full %d times", i+1, n)
				}
			}
		})
	}
}

// uidlsOf returns the UIDLs of the fake server's messages.
func uidlsOf(srv *pop3srv.Server) []string {
	var out []string
	for _, m := range srv.Mailbox.Messages() {
		out = append(out, m.UIDL)
	}
	return out
}

func TestPollRobustListings(t *testing.T) {
	srv, addr := startFake(t, pop3srv.Options{})
	all := addMessages(srv, 5, "garbage")
	srv.SetFaults(pop3srv.Faults{GarbageListings: true, LieSizes: true})
	d := newDevice(t, addr, nil)
	res, err := Poll(context.Background(), d.acct, d.store, d.db, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Downloaded != 5 || len(res.Errors) == 0 {
		t.Errorf("poll: %+v", res)
	}
	checkSame(t, "local", d.local(t), wantSet(all...))
}

func TestPollDuplicateUIDLsAreNeverDeleted(t *testing.T) {
	srv, addr := startFake(t, pop3srv.Options{})
	all := addMessages(srv, 5, "dup")
	srv.SetFaults(pop3srv.Faults{DuplicateUIDLs: true})
	d := newDevice(t, addr, func(a *config.Account) { a.LeaveOnServer = false })
	res := d.poll(t)
	if res.Downloaded != 5 {
		t.Fatalf("poll: %+v", res)
	}
	checkSame(t, "local", d.local(t), wantSet(all...))
	// Messages 1-2 and 3-4 share a UIDL: only message 5 may go.
	if srv.Mailbox.Len() != 4 {
		t.Fatalf("server has %d messages, want the 4 with shared UIDLs", srv.Mailbox.Len())
	}
	res = d.poll(t)
	if res.Downloaded != 0 || res.Deleted != 0 {
		t.Fatalf("second poll: %+v", res)
	}
}

// randomReader is a deterministic stream of printable lines of 76
// characters, some starting with a dot, the same however it is read.
type randomReader struct {
	r   *rand.Rand
	pos int
}

func (g *randomReader) Read(p []byte) (int, error) {
	for i := range p {
		switch col := g.pos % 77; {
		case col == 76:
			p[i] = '\n'
		case col == 0 && g.pos%(77*5) == 0:
			p[i] = '.'
		default:
			p[i] = byte('!' + g.r.Intn(90))
		}
		g.pos++
	}
	return len(p), nil
}

func hugeMessage(size int64) func() io.Reader {
	return func() io.Reader {
		return io.MultiReader(strings.NewReader("Subject: huge\n\n"), &randomReader{r: rand.New(rand.NewSource(1))})
	}
}

func TestPollHugeMessageIsStreamed(t *testing.T) {
	const size = 16 << 20
	srv, addr := startFake(t, pop3srv.Options{})
	srv.Mailbox.AddGenerated(size, hugeMessage(size))
	want := sha256.New()
	io.Copy(want, wantReader(io.LimitReader(hugeMessage(size)(), size)))
	d := newDevice(t, addr, nil)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	res := d.poll(t)
	runtime.ReadMemStats(&after)
	t.Logf("16 MiB message: heap in use before %d KiB, after %d KiB; total allocated %d KiB (client and fake server)",
		before.HeapInuse>>10, after.HeapInuse>>10, (after.TotalAlloc-before.TotalAlloc)>>10)
	if res.Downloaded != 1 {
		t.Fatalf("poll: %+v", res)
	}
	ents := d.entries(t)
	if len(ents) != 1 {
		t.Fatalf("%d local files", len(ents))
	}
	f, err := os.Open(filepath.Join(d.folderPath(t), ents[0].Sub, ents[0].Name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := sha256.New()
	io.Copy(got, f)
	if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Fatal("the huge message differs")
	}
}

// wantReader adds the final newline a server adds to a message without
// one (the generated message has bare LF line endings already).
func wantReader(r io.Reader) io.Reader {
	b := &lastByte{r: r}
	return io.MultiReader(b, readerFunc(func(p []byte) (int, error) {
		if b.last != '\n' && len(p) > 0 {
			b.last = '\n'
			p[0] = '\n'
			return 1, nil
		}
		return 0, io.EOF
	}))
}

type lastByte struct {
	r    io.Reader
	last byte
}

func (l *lastByte) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if n > 0 {
		l.last = p[n-1]
	}
	return n, err
}

type readerFunc func(p []byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }
