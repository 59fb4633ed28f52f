package imapconn_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/imapconn"
	"github.com/mailmirror/mailmirror/internal/testenv"
	"github.com/mailmirror/mailmirror/internal/testenv/oauthfake"
	"github.com/mailmirror/mailmirror/state"
	"github.com/mailmirror/mailmirror/syncer"
)

// zlibDovecot is a Dovecot of the test's own with imap_zlib loaded, and a
// user with messages in INBOX and Archive.
func zlibDovecot(t *testing.T, n int) (*testenv.Dovecot, *testenv.User) {
	d := testenv.NewDovecot(t, &testenv.DovecotOptions{Compress: true})
	u := d.NewUser(t)
	u.CreateFolder(t, "Archive")
	r := rand.New(rand.NewPCG(16, 4978))
	for _, folder := range []string{"INBOX", "Archive"} {
		var msgs [][]byte
		for range n {
			msgs = append(msgs, testenv.GenMessage(r, &testenv.GenOptions{BodySize: 1000 + r.IntN(8000)}))
		}
		u.Deliver(t, folder, msgs, func(i int) bool { return i%2 == 0 })
	}
	return d, u
}

// zlibAccount is an account of u on d (tls = "none" on loopback).
func zlibAccount(t *testing.T, d *testenv.Dovecot, u *testenv.User, extra string) (*config.Account, *state.DB) {
	dir := t.TempDir()
	cred := "password_env = \"UNUSED\"\n"
	if strings.Contains(extra, "auth = ") {
		cred = "" // OAuth: extra has the token_command
	}
	cfg, err := config.Parse([]byte(fmt.Sprintf(`state_dir = %q
[[account]]
name = "zlib"
protocol = "imap"
host = "127.0.0.1"
port = %d
tls = "none"
username = %q
%smaildir = %q
%s`, filepath.Join(dir, "state"), d.IMAPPort, u.Name, cred, filepath.Join(dir, "Mail"), extra)), "zlib.toml")
	if err != nil {
		t.Fatal(err)
	}
	db, err := state.Open(cfg.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return cfg.Accounts[0], db
}

func zlibSync(t *testing.T, acct *config.Account, db *state.DB, u *testenv.User, cnt *imapconn.Counters, trace *lockedBuffer) syncer.Stats {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opts := syncer.Options{DialOptions: syncer.DialOptions{Password: config.Secret(u.Password), Counters: cnt, Timeout: 10 * time.Second}}
	if trace != nil {
		opts.DebugWriter = trace
	}
	st, err := syncer.SyncAccount(ctx, acct, db, opts)
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	return st
}

// lockedBuffer is a buffer the traces of several connections share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestCompressDovecotSync: against Dovecot with imap_zlib, a first sync
// runs every connection compressed; the Maildir equals the server message
// by message; Dovecot's own counters (the stream before compression)
// match what go-imap read, while the wire carried well under half of it.
// With compress = false the same server sees no COMPRESS.
func TestCompressDovecotSync(t *testing.T) {
	d, u := zlibDovecot(t, 60)
	acct, db := zlibAccount(t, d, u, "")
	var cnt imapconn.Counters
	st := zlibSync(t, acct, db, u, &cnt, nil)
	t.Logf("first sync: %v; wire in %d out %d, stream in %d out %d, %d of %d connections compressed",
		st, cnt.In.Load(), cnt.Out.Load(), cnt.PlainIn.Load(), cnt.PlainOut.Load(), cnt.Compressed.Load(), cnt.Dials.Load())
	if !testenv.CompareAccount(t, u, acct.Maildir, acct.Layout) {
		t.Fatal("the Maildir differs from the server")
	}
	if cnt.Dials.Load() == 0 || cnt.Compressed.Load() != cnt.Dials.Load() {
		t.Errorf("%d of %d connections compressed, want all", cnt.Compressed.Load(), cnt.Dials.Load())
	}
	logs := u.LogCounters(t, int(cnt.Dials.Load()))
	// Dovecot counts what it wrote before deflating it: what go-imap read,
	// less the greeting (sent before the login) — within a few bytes.
	if diff := cnt.PlainIn.Load() - logs.Out; diff < 0 || diff > 200*cnt.Dials.Load() {
		t.Errorf("Dovecot sent %d bytes of IMAP stream, go-imap read %d", logs.Out, cnt.PlainIn.Load())
	}
	if ratio := float64(cnt.In.Load()) / float64(logs.Out); ratio > 0.5 {
		t.Errorf("the wire carried %d bytes for Dovecot's %d (%.2f): not compressed", cnt.In.Load(), logs.Out, ratio)
	}

	off, db2 := zlibAccount(t, d, u, "compress = false\n")
	var cnt2 imapconn.Counters
	var trace lockedBuffer
	zlibSync(t, off, db2, u, &cnt2, &trace)
	if cnt2.Compressed.Load() != 0 || strings.Contains(trace.String(), "COMPRESS DEFLATE") {
		t.Errorf("compress = false: %d connections compressed", cnt2.Compressed.Load())
	}
	if cnt2.In.Load() < cnt2.PlainIn.Load() {
		t.Errorf("compress = false: %d bytes on the wire for a stream of %d", cnt2.In.Load(), cnt2.PlainIn.Load())
	}
	if !testenv.CompareAccount(t, u, off.Maildir, off.Layout) {
		t.Fatal("compress = false: the Maildir differs from the server")
	}
}

// TestCompressDovecotIdle: IDLE on a compressed connection gets the push
// of another session's APPEND (Dovecot flushes its deflate stream), and
// DONE reaches Dovecot (ours is flushed too): IDLE ends and the
// connection answers the next command.
func TestCompressDovecotIdle(t *testing.T) {
	d, u := zlibDovecot(t, 1)
	acct, _ := zlibAccount(t, d, u, "")
	exists := make(chan uint32, 16)
	h := &imapclient.UnilateralDataHandler{Mailbox: func(m *imapclient.UnilateralDataMailbox) {
		if m.NumMessages != nil {
			exists <- *m.NumMessages
		}
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := imapconn.Dial(ctx, acct, imapconn.DialOptions{Password: config.Secret(u.Password), Handler: h, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !c.Compressed() {
		t.Fatal("the connection is not compressed")
	}
	if !c.Caps().Has(imap.CapIdle) || !c.Caps().Has(imap.CapCondStore) {
		t.Errorf("capabilities after COMPRESS lack the post-login ones: %v", c.Caps())
	}
	if _, err := c.Select("INBOX"); err != nil {
		t.Fatal(err)
	}
	idle, err := c.Idle()
	if err != nil {
		t.Fatal(err)
	}
	u.Append(t, "INBOX", testenv.GenMessage(rand.New(rand.NewPCG(1, 2)), nil))
	select {
	case n := <-exists:
		if n != 2 {
			t.Errorf("EXISTS %d, want 2", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no EXISTS within 10 s over the compressed connection")
	}
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatalf("IDLE after DONE: %v", err)
	}
	if err := c.Noop().Wait(); err != nil {
		t.Fatalf("NOOP after IDLE: %v", err)
	}
}

// TestCompressDovecotOAuth: XOAUTH2 and OAUTHBEARER logins are followed
// by COMPRESS as LOGIN is; the token never shows in the trace.
func TestCompressDovecotOAuth(t *testing.T) {
	srv := oauthfake.New(t, nil)
	d := testenv.NewDovecot(t, &testenv.DovecotOptions{Compress: true, OAuth2IntrospectionURL: srv.IntrospectURL()})
	u := d.NewUser(t)
	for _, mech := range []string{config.AuthXOAuth2, config.AuthOAuthBearer} {
		at, _ := srv.Issue(u.Name)
		acct, _ := zlibAccount(t, d, u, fmt.Sprintf("auth = %q\ntoken_command = \"echo %s\"\n", mech, at))
		var trace lockedBuffer
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		c, err := imapconn.Dial(ctx, acct, imapconn.DialOptions{Timeout: 10 * time.Second, DebugWriter: &trace})
		cancel()
		if err != nil {
			t.Fatalf("%s: %v", mech, err)
		}
		if _, err := c.Select("INBOX"); err != nil || !c.Compressed() {
			t.Errorf("%s: select %v, compressed %v", mech, err, c.Compressed())
		}
		c.Close()
		if !strings.Contains(trace.String(), "COMPRESS DEFLATE") || strings.Contains(trace.String(), at) {
			t.Errorf("%s: trace without COMPRESS or with the token:\n%s", mech, trace.String())
		}
	}
}

// TestCompressDovecotTLS: with implicit TLS and with STARTTLS, the
// deflate layer sits above TLS and the sync is whole.
func TestCompressDovecotTLS(t *testing.T) {
	d := testenv.NewDovecot(t, &testenv.DovecotOptions{TLS: true, Compress: true})
	u := d.NewUser(t)
	r := rand.New(rand.NewPCG(3, 4))
	var msgs [][]byte
	for range 20 {
		msgs = append(msgs, testenv.GenMessage(r, nil))
	}
	u.Deliver(t, "INBOX", msgs, func(int) bool { return false })
	for _, mode := range []struct {
		tls  string
		port int
	}{{config.TLSImplicit, d.IMAPSPort}, {config.TLSStartTLS, d.IMAPPort}} {
		dir := t.TempDir()
		cfg, err := config.Parse([]byte(fmt.Sprintf(`state_dir = %q
[[account]]
name = "tls"
protocol = "imap"
host = "127.0.0.1"
port = %d
tls = %q
tls_ca_file = %q
username = %q
password_env = "UNUSED"
maildir = %q
`, filepath.Join(dir, "state"), mode.port, mode.tls, d.CAFile, u.Name, filepath.Join(dir, "Mail"))), "tls.toml")
		if err != nil {
			t.Fatal(err)
		}
		db, err := state.Open(cfg.StateDir)
		if err != nil {
			t.Fatal(err)
		}
		var cnt imapconn.Counters
		zlibSync(t, cfg.Accounts[0], db, u, &cnt, nil)
		db.Close()
		if cnt.Compressed.Load() == 0 || cnt.Compressed.Load() != cnt.Dials.Load() {
			t.Errorf("tls = %s: %d of %d connections compressed", mode.tls, cnt.Compressed.Load(), cnt.Dials.Load())
		}
		if !testenv.CompareAccount(t, u, cfg.Accounts[0].Maildir, cfg.Accounts[0].Layout) {
			t.Errorf("tls = %s: the Maildir differs from the server", mode.tls)
		}
	}
}
