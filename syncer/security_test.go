package syncer

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/internal/testenv"
	"github.com/mailmirror/mailmirror/internal/testenv/fakeimap"
	"github.com/mailmirror/mailmirror/internal/testenv/faultproxy"
	"github.com/mailmirror/mailmirror/maildir"
	"github.com/mailmirror/mailmirror/state"
)

// Security checks (DESIGN.md invariant 6 and the file modes): certificates
// are verified unless TLS is off, STARTTLS is never skipped, the password
// never shows in a protocol trace, and what the syncer writes is private.

// secAccount returns an account for a server at port with the given TLS
// settings, its store and state.
func secAccount(t *testing.T, user string, port int, tlsMode, caFile string) (*config.Account, *maildir.Store, *state.DB) {
	t.Helper()
	dir := t.TempDir()
	ca := ""
	if caFile != "" {
		ca = fmt.Sprintf("tls_ca_file = %q\n", caFile)
	}
	return openTestAccount(t, fmt.Sprintf(`state_dir = %q
[[account]]
name = "sec"
protocol = "imap"
host = "127.0.0.1"
port = %d
tls = %q
%susername = %q
password_env = "UNUSED"
maildir = %q
max_connections = 1
`, filepath.Join(dir, "state"), port, tlsMode, ca, user, filepath.Join(dir, "Mail")), "sec.toml")
}

func secPass(a *config.Account, store *maildir.Store, db *state.DB, opts DialOptions) (Stats, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second
	}
	s := New(a, store, db, Options{DialOptions: opts})
	defer s.Close()
	return s.Sync(ctx)
}

// tlsDovecot is a Dovecot of the test's own with TLS, and a user with one
// message.
func tlsDovecot(t *testing.T) (*testenv.Dovecot, *testenv.User) {
	t.Helper()
	d := testenv.NewDovecot(t, &testenv.DovecotOptions{TLS: true})
	u := d.NewUser(t)
	u.Append(t, "INBOX", testenv.GenMessage(newRand(t), nil), imap.FlagSeen)
	return d, u
}

func TestSecurityTLSVerifiedByDefault(t *testing.T) {
	d, u := tlsDovecot(t)
	for _, mode := range []struct {
		tls  string
		port int
	}{{config.TLSImplicit, d.IMAPSPort}, {config.TLSStartTLS, d.IMAPPort}} {
		t.Run(mode.tls, func(t *testing.T) {
			// A self-signed server certificate, no tls_ca_file: refused.
			a, store, db := secAccount(t, u.Name, mode.port, mode.tls, "")
			_, err := secPass(a, store, db, DialOptions{Password: config.Secret(u.Password)})
			if err == nil {
				t.Fatal("a sync against a server whose certificate nobody vouches for succeeded")
			}
			if !strings.Contains(err.Error(), "certificate") {
				t.Errorf("the error does not say it is about the certificate: %v", err)
			}
			if strings.Contains(err.Error(), u.Password) {
				t.Errorf("the error shows the password: %v", err)
			}
			if n := len(testenv.ReadMaildir(t, a.Maildir, a.Layout)["INBOX"]); n != 0 {
				t.Errorf("%d messages downloaded over an unverified connection", n)
			}
			// With the CA that signed it: works.
			a, store, db = secAccount(t, u.Name, mode.port, mode.tls, d.CAFile)
			if _, err := secPass(a, store, db, DialOptions{Password: config.Secret(u.Password)}); err != nil {
				t.Fatalf("sync with tls_ca_file: %v", err)
			}
			if !testenv.CompareAccount(t, u, a.Maildir, a.Layout) {
				t.FailNow()
			}
		})
	}
	t.Run("another CA", func(t *testing.T) {
		// tls_ca_file names a CA that did not sign the server's
		// certificate: refused.
		other := testenv.NewDovecot(t, &testenv.DovecotOptions{TLS: true})
		a, store, db := secAccount(t, u.Name, d.IMAPSPort, config.TLSImplicit, other.CAFile)
		_, err := secPass(a, store, db, DialOptions{Password: config.Secret(u.Password)})
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("a certificate from another CA was accepted: %v", err)
		}
	})
	t.Run("host name from the certificate", func(t *testing.T) {
		// The certificate names 127.0.0.1 and localhost.
		a, store, db := secAccount(t, u.Name, d.IMAPSPort, config.TLSImplicit, d.CAFile)
		a.Host = "localhost"
		if _, err := secPass(a, store, db, DialOptions{Password: config.Secret(u.Password)}); err != nil {
			t.Errorf("sync to localhost: %v", err)
		}
	})
}

// secretForms are the ways a password can go over the wire: as is, quoted
// with escapes, and inside AUTHENTICATE PLAIN's base64.
func secretForms(user, pw string) []string {
	esc := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(pw)
	forms := []string{pw, base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pw))}
	if esc != pw {
		forms = append(forms, esc)
	}
	return forms
}

func leaks(haystack []byte, user, pw string) []string {
	var out []string
	for _, f := range secretForms(user, pw) {
		if bytes.Contains(haystack, []byte(f)) {
			out = append(out, f)
		}
	}
	return out
}

func TestSecurityStartTLSRequired(t *testing.T) {
	t.Run("server without STARTTLS", func(t *testing.T) {
		srv := fakeimap.New()
		srv.Caps = []string{"UIDPLUS"}
		fakeimap.Start(t, srv)
		a, store, db := secAccount(t, "u", srv.Port(), config.TLSStartTLS, "")
		_, err := secPass(a, store, db, DialOptions{Password: "S3cret-no-starttls"})
		if !errors.Is(err, ErrNoStartTLS) {
			t.Errorf("got %v, want ErrNoStartTLS", err)
		}
		if p := srv.Passwords(); len(p) != 0 {
			t.Errorf("credentials were sent: %q", p)
		}
		for _, c := range srv.Commands() {
			if strings.Contains(strings.ToUpper(c), "LOGIN") || strings.Contains(strings.ToUpper(c), "AUTHENTICATE") {
				t.Errorf("the client sent %q", c)
			}
		}
	})

	d, u := tlsDovecot(t)
	strip := func(l []byte) []byte {
		l = bytes.ReplaceAll(l, []byte(" STARTTLS"), nil)
		return bytes.ReplaceAll(l, []byte(" LOGINDISABLED"), nil)
	}
	// outcome: "fail" (the pass must fail), "ok" (must succeed), "any"
	// (either: the client insisted on STARTTLS and got real TLS).
	cases := []struct {
		name    string
		filter  func([]byte) []byte
		outcome string
	}{
		{name: "man in the middle strips STARTTLS from the capabilities", filter: strip, outcome: "any"},
		{name: "man in the middle refuses STARTTLS", filter: func(l []byte) []byte {
			l = strip(l)
			if i := bytes.Index(l, []byte(" OK Begin TLS")); i >= 0 {
				return append(l[:i:i], " BAD Unknown command\r\n"...)
			}
			return l
		}, outcome: "fail"},
		{name: "man in the middle injects a response after STARTTLS's OK", filter: func(l []byte) []byte {
			if bytes.Contains(l, []byte(" OK Begin TLS")) {
				return append(l, "* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\nX1 OK injected\r\n"...)
			}
			return l
		}, outcome: "fail"},
		{name: "untouched STARTTLS", filter: func(l []byte) []byte { return l }, outcome: "ok"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := faultproxy.New(t, u.IMAPAddr())
			p.SetServerLineFilter(c.filter)
			p.Record(true)
			a, store, db := secAccount(t, u.Name, p.Port(), config.TLSStartTLS, d.CAFile)
			_, err := secPass(a, store, db, DialOptions{Password: config.Secret(u.Password)})
			t.Logf("error: %v", err)
			switch {
			case c.outcome == "ok" && err != nil:
				t.Fatalf("sync through an honest proxy: %v", err)
			case c.outcome == "fail" && err == nil:
				t.Errorf("sync succeeded through a man in the middle")
			}
			if l := leaks(p.ClientBytes(), u.Name, u.Password); len(l) > 0 {
				t.Errorf("the password went over the wire in clear: %q", l)
			}
			if !bytes.Contains(p.ClientBytes(), []byte("STARTTLS")) {
				t.Errorf("no STARTTLS recorded: the check proves nothing")
			}
		})
	}
	t.Run("control: tls = none shows the password on the wire", func(t *testing.T) {
		p := faultproxy.New(t, u.IMAPAddr())
		p.Record(true)
		a, store, db := secAccount(t, u.Name, p.Port(), config.TLSNone, "")
		secPass(a, store, db, DialOptions{Password: config.Secret(u.Password)})
		if len(leaks(p.ClientBytes(), u.Name, u.Password)) == 0 {
			t.Errorf("the recording does not show a clear-text password: the checks above prove nothing")
		}
	})
}

// lockedBuffer is a bytes.Buffer safe for the several connections that
// write a trace.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

func TestSecurityDebugTraceHidesPassword(t *testing.T) {
	t.Run("LOGIN to Dovecot", func(t *testing.T) {
		f := newFixture(t)
		f.u.Append(t, "INBOX", f.msg("traced"))
		var trace lockedBuffer
		s := New(f.acct, f.store, f.db, Options{DialOptions: DialOptions{Password: config.Secret(f.u.Password), DebugWriter: &trace}})
		if _, err := s.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
		s.Close()
		if !bytes.Contains(trace.Bytes(), []byte("LOGIN")) {
			t.Fatalf("the trace has no LOGIN: it proves nothing\n%.500s", trace.Bytes())
		}
		if l := leaks(trace.Bytes(), f.u.Name, f.u.Password); len(l) > 0 {
			t.Errorf("the trace shows the password: %q", l)
		}
	})
	passwords := []struct{ name, pw string }{
		{"plain", "Pl41nPassw0rdXYZ"},
		{"quotes and backslashes", `pa"ss\w0rd"X\`},
		{"non-ASCII", "pässwörd-ünïcode"},
		{"spaces and braces", "with space {3} and (parens)"},
	}
	for _, auth := range []string{"LOGIN", "AUTHENTICATE PLAIN"} {
		for _, pw := range passwords {
			t.Run(auth+" "+pw.name, func(t *testing.T) {
				srv := fakeimap.New()
				srv.Caps = []string{"UIDPLUS"}
				if auth != "LOGIN" {
					srv.Caps = append(srv.Caps, "LOGINDISABLED", "AUTH=PLAIN")
				}
				srv.Users = map[string]string{"alice": pw.pw}
				srv.Mailbox("INBOX").Add([]byte("Message-ID: <t@x>\r\nSubject: t\r\n\r\nbody\r\n"))
				fakeimap.Start(t, srv)
				a, store, db := secAccount(t, "alice", srv.Port(), config.TLSNone, "")
				var trace lockedBuffer
				_, err := secPass(a, store, db, DialOptions{Password: config.Secret(pw.pw), DebugWriter: &trace})
				if err != nil {
					t.Fatalf("sync: %v", err)
				}
				if got := srv.Passwords(); len(got) == 0 || got[0] != pw.pw {
					t.Fatalf("the server got %q: the login did not happen as planned", got)
				}
				// Found by this test: the quoted form of a password
				// with " or \ was not masked (fixed in syncer/conn.go).
				if l := leaks(trace.Bytes(), "alice", pw.pw); len(l) > 0 {
					t.Errorf("the trace shows the password as %q:\n%s", l, trace.Bytes())
				}
				// A refused login: the error does not show it either.
				srv.Users["alice"] = "another"
				s := New(a, store, db, Options{DialOptions: DialOptions{Password: config.Secret(pw.pw), DebugWriter: &trace}})
				_, err = s.Sync(context.Background())
				s.Close()
				if !errors.Is(err, ErrAuth) {
					t.Errorf("refused login: %v, want ErrAuth", err)
				}
				if err != nil && len(leaks([]byte(err.Error()), "alice", pw.pw)) > 0 {
					t.Errorf("the error shows the password: %v", err)
				}
			})
		}
	}
}

// checkModes fails the test for any directory under root that is not 0700
// and any file that is not 0600.
func checkModes(t *testing.T, root string) (files, dirs int) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		st, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch mode := st.Mode(); {
		case mode.IsDir():
			dirs++
			if mode.Perm() != 0o700 {
				t.Errorf("directory %s has mode %04o, want 0700", p, mode.Perm())
			}
		case mode.IsRegular():
			files++
			if mode.Perm() != 0o600 {
				t.Errorf("file %s has mode %04o, want 0600", p, mode.Perm())
			}
		default:
			t.Errorf("%s is neither a file nor a directory (%v)", p, mode)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files, dirs
}

func TestSecurityFileModes(t *testing.T) {
	f := newFixture(t)
	f.u.CreateFolder(t, "Lists/golang")
	f.u.Append(t, "INBOX", f.msg("one"))
	f.u.Append(t, "Lists/golang", f.msg("two"), imap.FlagSeen)
	f.writeLocal("Sent", 2000, "S")
	f.sync()
	f.compare()
	files, dirs := checkModes(t, f.acct.Maildir)
	if files < 3 || dirs < 10 {
		t.Errorf("only %d files and %d directories checked", files, dirs)
	}
	stateDir := filepath.Join(f.dir, "state")
	checkModes(t, stateDir)
	for _, name := range []string{"state.db", "state.db-wal", "state.db-shm"} {
		if _, err := os.Stat(filepath.Join(stateDir, name)); err != nil {
			t.Errorf("%s: %v (expected while the state is open)", name, err)
		}
	}
	// The state never holds the password.
	ents, _ := os.ReadDir(stateDir)
	for _, e := range ents {
		b, _ := os.ReadFile(filepath.Join(stateDir, e.Name()))
		if l := leaks(b, f.u.Name, f.u.Password); len(l) > 0 {
			t.Errorf("%s holds the password", e.Name())
		}
	}
}
