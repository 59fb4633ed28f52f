package imapconn

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/internal/testenv/fakeimap"
)

// fakeAccount is an account on a fake server at port (tls = "none" unless
// tlsMode says otherwise).
func fakeAccount(t *testing.T, port int, tlsMode string) *config.Account {
	t.Helper()
	dir := t.TempDir()
	cfg, err := config.Parse([]byte(fmt.Sprintf(`state_dir = %q
[[account]]
name = "conn"
protocol = "imap"
host = "127.0.0.1"
port = %d
tls = %q
username = "u"
password_env = "UNUSED"
maildir = %q
`, dir+"/state", port, tlsMode, dir+"/Mail")), "conn.toml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Accounts[0]
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestDialLogsInAndCountsBytes(t *testing.T) {
	srv := fakeimap.Start(t, fakeimap.New())
	var cnt Counters
	c, err := Dial(testCtx(t), fakeAccount(t, srv.Port(), config.TLSNone), DialOptions{Password: "pw", Counters: &cnt})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := srv.Passwords(); len(got) != 1 || got[0] != "pw" {
		t.Errorf("passwords the server got: %q, want one LOGIN with pw", got)
	}
	if cnt.Dials.Load() != 1 || cnt.In.Load() == 0 || cnt.Out.Load() == 0 {
		t.Errorf("counters after a login: dials %d, in %d, out %d", cnt.Dials.Load(), cnt.In.Load(), cnt.Out.Load())
	}
	out := cnt.Out.Load()
	if err := c.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	if d := cnt.Out.Load() - out; d < int64(len("T NOOP\r\n")) || d > 16 {
		t.Errorf("a NOOP counted %d bytes out", d)
	}
}

func TestDialRefusedLoginIsErrAuth(t *testing.T) {
	srv := fakeimap.New()
	srv.Users = map[string]string{"u": "right"}
	fakeimap.Start(t, srv)
	_, err := Dial(testCtx(t), fakeAccount(t, srv.Port(), config.TLSNone), DialOptions{Password: "wrong-S3cret"})
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("got %v, want ErrAuth", err)
	}
	if strings.Contains(err.Error(), "wrong-S3cret") {
		t.Errorf("the error shows the password: %v", err)
	}
}

func TestDialStartTLSNotOffered(t *testing.T) {
	srv := fakeimap.New()
	srv.Caps = []string{"UIDPLUS"}
	fakeimap.Start(t, srv)
	_, err := Dial(testCtx(t), fakeAccount(t, srv.Port(), config.TLSStartTLS), DialOptions{Password: "S3cret"})
	if !errors.Is(err, ErrNoStartTLS) {
		t.Fatalf("got %v, want ErrNoStartTLS", err)
	}
	if p := srv.Passwords(); len(p) != 0 {
		t.Errorf("credentials were sent: %q", p)
	}
}

func TestDialTraceMasksPassword(t *testing.T) {
	srv := fakeimap.Start(t, fakeimap.New())
	var trace bytes.Buffer
	pw := `p"a\ss`
	c, err := Dial(testCtx(t), fakeAccount(t, srv.Port(), config.TLSNone), DialOptions{Password: config.Secret(pw), DebugWriter: &trace})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if !bytes.Contains(trace.Bytes(), []byte("LOGIN")) {
		t.Fatalf("no LOGIN in the trace:\n%s", trace.Bytes())
	}
	for _, form := range []string{pw, `p\"a\\ss`} {
		if bytes.Contains(trace.Bytes(), []byte(form)) {
			t.Errorf("the trace shows the password as %q:\n%s", form, trace.Bytes())
		}
	}
}

func TestMaskWriter(t *testing.T) {
	var out bytes.Buffer
	m := &maskWriter{w: &out, secrets: [][]byte{[]byte("hunter2")}}
	m.add([]byte("tok3n"))
	n, err := m.Write([]byte("a hunter2 b tok3n c\r\n"))
	if err != nil || n != len("a hunter2 b tok3n c\r\n") {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if got := out.String(); got != "a *** b *** c\r\n" {
		t.Errorf("masked: %q", got)
	}
	var nilMask *maskWriter
	nilMask.add([]byte("x")) // must not panic
}

func TestSelectOnlyWhenNotSelected(t *testing.T) {
	srv := fakeimap.New()
	srv.Caps = []string{"CONDSTORE"}
	fakeimap.Start(t, srv)
	c, err := Dial(testCtx(t), fakeAccount(t, srv.Port(), config.TLSNone), DialOptions{Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 2 {
		if _, err := c.Select("INBOX"); err != nil {
			t.Fatal(err)
		}
	}
	if c.Selected() != "INBOX" || !c.CondStore() {
		t.Errorf("Selected %q, CondStore %v", c.Selected(), c.CondStore())
	}
	if _, err := c.Reselect("INBOX"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("Nope"); err == nil || c.Selected() != "" {
		t.Errorf("select of a missing folder: %v, selected %q", err, c.Selected())
	}
	selects := 0
	for _, cmd := range srv.Commands() {
		if strings.Contains(cmd, " SELECT ") {
			selects++
		}
	}
	if selects != 3 {
		t.Errorf("%d SELECTs sent, want 3 (the second Select is a no-op): %q", selects, srv.Commands())
	}
}

// A mailbox opened read-only (Reexamine, for the daemon's pulls) serves
// reads as it is, and a Select, for a write, opens it again writable.
func TestExamineThenSelectIsWritable(t *testing.T) {
	srv := fakeimap.New()
	srv.Caps = []string{"CONDSTORE"}
	srv.AddMailbox("Archive")
	fakeimap.Start(t, srv)
	c, err := Dial(testCtx(t), fakeAccount(t, srv.Port(), config.TLSNone), DialOptions{Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	count := func() (selects, examines int) {
		for _, cmd := range srv.Commands() {
			selects += strings.Count(cmd, " SELECT ")
			examines += strings.Count(cmd, " EXAMINE ")
		}
		return
	}
	if _, err := c.Reexamine("INBOX"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Readable("INBOX"); err != nil {
		t.Fatal(err)
	}
	if c.Selected() != "INBOX" || !c.ReadOnly() {
		t.Fatalf("after Reexamine and Readable: selected %q, read-only %v", c.Selected(), c.ReadOnly())
	}
	if s, e := count(); s != 0 || e != 1 {
		t.Fatalf("%d SELECTs and %d EXAMINEs, want one EXAMINE (Readable of the examined folder sends nothing): %q", s, e, srv.Commands())
	}
	if _, err := c.Select("INBOX"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Readable("INBOX"); err != nil {
		t.Fatal(err)
	}
	if c.ReadOnly() {
		t.Error("Select left the folder read-only")
	}
	if s, e := count(); s != 1 || e != 1 {
		t.Fatalf("%d SELECTs and %d EXAMINEs, want one of each: %q", s, e, srv.Commands())
	}
	if _, err := c.Readable("Archive"); err != nil {
		t.Fatal(err)
	}
	if s, e := count(); s != 1 || e != 2 || !c.ReadOnly() || c.Selected() != "Archive" {
		t.Fatalf("Readable of another folder: %d SELECTs, %d EXAMINEs, read-only %v, selected %q", s, e, c.ReadOnly(), c.Selected())
	}
	c.ClearSelected()
	if c.ReadOnly() {
		t.Error("ClearSelected left ReadOnly set")
	}
}
