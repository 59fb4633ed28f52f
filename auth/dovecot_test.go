package auth_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailmirror/mailmirror/auth"
	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/internal/testenv"
	"github.com/mailmirror/mailmirror/internal/testenv/oauthfake"
	"github.com/mailmirror/mailmirror/maildir"
	"github.com/mailmirror/mailmirror/pop3pull"
	"github.com/mailmirror/mailmirror/state"
	"github.com/mailmirror/mailmirror/syncer"
)

func TestMain(m *testing.M) {
	code := testenv.Main(m)
	stopShared()
	os.Exit(code)
}

// env is a fake authorization server and a Dovecot that checks tokens at
// its introspection endpoint.
type env struct {
	srv *oauthfake.Server
	d   *testenv.Dovecot
}

var (
	sharedEnvOnce sync.Once
	sharedEnv     *env
)

// newEnv returns the package's fake server and Dovecot, started on first
// use (one Dovecot for every test: each test has its own user). Tokens are
// kept in files (MAILMIRROR_CREDENTIAL_STORE=file), never in the
// developer's keyring.
func newEnv(t *testing.T) *env {
	t.Helper()
	testenv.RequireDovecot(t)
	t.Setenv(auth.EnvCredentialStore, auth.StoreFile)
	sharedEnvOnce.Do(func() {
		srv := oauthfake.Start(nil)
		d, err := testenv.StartDovecot(&testenv.DovecotOptions{
			OAuth2IntrospectionURL: srv.IntrospectURL(),
			// A refused login answers at once instead of after 2 s.
			ExtraConfig: []string{"auth_failure_delay = 0"},
		})
		if err != nil {
			srv.Close()
			t.Fatalf("start Dovecot: %v", err)
		}
		sharedEnv = &env{srv: srv, d: d}
		stopShared = func() { d.Stop(); srv.Close() }
	})
	if sharedEnv == nil {
		t.Fatal("the shared environment did not start")
	}
	return sharedEnv
}

var stopShared = func() {}

// account parses a config with one account of protocol proto and auth
// mech for user u, whose tokens come from the fake server (extra lines
// are added to the account).
func (e *env) account(t *testing.T, u *testenv.User, proto, mech string, extra ...string) *config.Account {
	t.Helper()
	dir := t.TempDir()
	port := e.d.IMAPPort
	if proto == config.ProtocolPOP3 {
		port = e.d.POP3Port
	}
	text := fmt.Sprintf(`state_dir = %q
[[account]]
name = "oauth-%s"
protocol = %q
host = "127.0.0.1"
port = %d
tls = "none"
username = %q
auth = %q
maildir = %q
`, filepath.Join(dir, "state"), proto, proto, port, u.Name, mech, filepath.Join(dir, "mail"))
	if len(extra) == 0 {
		extra = []string{
			fmt.Sprintf("oauth_client_id = %q", e.srv.ClientID()),
			fmt.Sprintf("oauth_token_url = %q", e.srv.TokenURL()),
			fmt.Sprintf("oauth_auth_url = %q", e.srv.AuthURL()),
		}
	}
	text += strings.Join(extra, "\n") + "\n"
	cfg, err := config.Parse([]byte(text), filepath.Join(dir, "config.toml"))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg.Accounts[0]
}

// signIn stores a grant for acct as mailmirror auth login would, with a
// refresh token the fake server issued for user, and returns the store.
func (e *env) signIn(t *testing.T, acct *config.Account, user string) auth.Store {
	t.Helper()
	_, rt := e.srv.Issue(user)
	store, err := auth.OpenStore(acct.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = store.Save(context.Background(), acct.Name, &auth.Grant{
		RefreshToken: config.Secret(rt), Username: acct.Username, ClientID: acct.OAuthClientID,
		TokenURL: acct.OAuthTokenURL, Obtained: time.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return store
}

// source registers a fresh OAuthSource for acct with the given clock, so
// that the test sees its refreshes, and returns it.
func source(t *testing.T, acct *config.Account, store auth.Store, now func() time.Time) *auth.OAuthSource {
	src := &auth.OAuthSource{Account: acct.Name, Username: acct.Username, Endpoint: auth.EndpointOf(acct), Store: store, Now: now}
	t.Cleanup(auth.Register(acct, src))
	return src
}

var msgSeed uint64 = 1

func message(t *testing.T, subject string) []byte {
	msgSeed++
	return testenv.GenMessage(rand.New(rand.NewPCG(msgSeed, 7)), &testenv.GenOptions{Subject: subject, BodySize: 500})
}

// syncIMAP runs one pass of acct with a trace of the protocol, which it
// returns.
func syncIMAP(t *testing.T, acct *config.Account) (syncer.Stats, string, error) {
	t.Helper()
	db, err := state.Open(acct.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var trace lockedBuffer
	st, err := syncer.SyncAccount(context.Background(), acct, db, syncer.Options{DialOptions: syncer.DialOptions{DebugWriter: &trace}})
	return st, trace.String(), err
}

// pollPOP3 runs one POP3 poll of acct.
func pollPOP3(t *testing.T, acct *config.Account) (pop3pull.Result, error) {
	t.Helper()
	db, err := state.Open(acct.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store, err := maildir.Open(acct.Maildir, acct.Layout)
	if err != nil {
		t.Fatal(err)
	}
	return pop3pull.Poll(context.Background(), acct, store, db, nil)
}

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

// noTokens fails t when any token the fake server issued occurs in one of
// texts.
func noTokens(t *testing.T, srv *oauthfake.Server, texts map[string]string) {
	t.Helper()
	for _, tok := range srv.Tokens() {
		for what, s := range texts {
			if strings.Contains(s, tok) {
				t.Errorf("a token (%.6s...) appears in %s", tok, what)
			}
		}
	}
}

// TestIMAPSync signs in with XOAUTH2 and OAUTHBEARER to a real Dovecot
// that checks the token at the fake server, and syncs a message.
func TestIMAPSync(t *testing.T) {
	e := newEnv(t)
	for _, mech := range []string{config.AuthXOAuth2, config.AuthOAuthBearer} {
		t.Run(mech, func(t *testing.T) {
			u := e.d.NewUser(t)
			acct := e.account(t, u, config.ProtocolIMAP, mech)
			src := source(t, acct, e.signIn(t, acct, u.Name), nil)
			u.Append(t, "INBOX", message(t, "hello "+mech))
			before := e.srv.Stats()
			st, trace, err := syncIMAP(t, acct)
			if err != nil {
				t.Fatalf("sync: %v", err)
			}
			if st.Down.New != 1 {
				t.Errorf("downloaded %d messages, want 1", st.Down.New)
			}
			testenv.CompareAccount(t, u, acct.Maildir, acct.Layout)
			after := e.srv.Stats()
			if src.Refreshes() != 1 || after.Refreshes-before.Refreshes != 1 {
				t.Errorf("refreshes: source %d, server %d; want 1", src.Refreshes(), after.Refreshes-before.Refreshes)
			}
			if after.ActiveAnswers == before.ActiveAnswers || after.InactiveAnswers != before.InactiveAnswers {
				t.Errorf("introspections: %+v -> %+v", before, after)
			}
			want := "AUTHENTICATE " + auth.MechanismOf(mech)
			if !strings.Contains(trace, want) {
				t.Errorf("the trace has no %q", want)
			}
			noTokens(t, e.srv, map[string]string{"the protocol trace": trace})
		})
	}
}

// TestPOP3Poll signs in to POP3 with XOAUTH2 and OAUTHBEARER and polls a
// message.
func TestPOP3Poll(t *testing.T) {
	e := newEnv(t)
	for _, mech := range []string{config.AuthXOAuth2, config.AuthOAuthBearer} {
		t.Run(mech, func(t *testing.T) {
			u := e.d.NewUser(t)
			acct := e.account(t, u, config.ProtocolPOP3, mech)
			src := source(t, acct, e.signIn(t, acct, u.Name), nil)
			raw := message(t, "pop "+mech)
			u.Append(t, "INBOX", raw)
			res, err := pollPOP3(t, acct)
			if err != nil {
				t.Fatalf("poll: %v", err)
			}
			if res.Downloaded != 1 {
				t.Errorf("downloaded %d, want 1", res.Downloaded)
			}
			local := testenv.ReadMaildir(t, acct.Maildir, acct.Layout)["INBOX"]
			server := u.Messages(t, "INBOX")
			if len(local) != 1 || local[0].MessageID != server[0].MessageID {
				t.Errorf("local INBOX %+v, server %+v", local, server)
			}
			if src.Refreshes() != 1 {
				t.Errorf("%d refreshes, want 1", src.Refreshes())
			}
		})
	}
}

// TestRefreshBeforeExpiry proves that an access token about to expire is
// replaced before it is used: the clock moves to within the refresh
// margin, the server expires the old token, and the next login needs no
// second attempt.
func TestRefreshBeforeExpiry(t *testing.T) {
	e := newEnv(t)
	for _, proto := range []string{config.ProtocolIMAP, config.ProtocolPOP3} {
		t.Run(proto, func(t *testing.T) {
			u := e.d.NewUser(t)
			acct := e.account(t, u, proto, config.AuthXOAuth2)
			var mu sync.Mutex
			clock := time.Now()
			now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
			src := source(t, acct, e.signIn(t, acct, u.Name), now)
			run := func() {
				t.Helper()
				var err error
				if proto == config.ProtocolIMAP {
					_, _, err = syncIMAP(t, acct)
				} else {
					_, err = pollPOP3(t, acct)
				}
				if err != nil {
					t.Fatalf("pass: %v", err)
				}
			}
			u.Append(t, "INBOX", message(t, "first"))
			run()
			first := src.Expiry()
			if src.Refreshes() != 1 || first.IsZero() {
				t.Fatalf("after the first pass: %d refreshes, expiry %v", src.Refreshes(), first)
			}
			// The token is good for an hour; 57 minutes later it is within
			// the 5-minute margin. The provider no longer accepts it.
			mu.Lock()
			clock = clock.Add(57 * time.Minute)
			mu.Unlock()
			e.srv.ExpireAccessTokens()
			before := e.srv.Stats()
			u.Append(t, "INBOX", message(t, "second"))
			run()
			after := e.srv.Stats()
			if src.Refreshes() != 2 {
				t.Errorf("%d refreshes, want 2", src.Refreshes())
			}
			if after.InactiveAnswers != before.InactiveAnswers {
				t.Errorf("the server saw %d expired tokens: the token was not refreshed before use", after.InactiveAnswers-before.InactiveAnswers)
			}
			if !src.Expiry().After(first) {
				t.Errorf("expiry %v not after %v", src.Expiry(), first)
			}
			local := testenv.ReadMaildir(t, acct.Maildir, acct.Layout)["INBOX"]
			if len(local) != 2 {
				t.Errorf("%d local messages, want 2", len(local))
			}
		})
	}
}

// TestRefreshAfterRefusal proves the retry: the server stops accepting a
// token the client still believes valid; the login is refused once, the
// token refreshed, and the second attempt works.
func TestRefreshAfterRefusal(t *testing.T) {
	e := newEnv(t)
	for _, proto := range []string{config.ProtocolIMAP, config.ProtocolPOP3} {
		for _, mech := range []string{config.AuthXOAuth2, config.AuthOAuthBearer} {
			t.Run(proto+"/"+mech, func(t *testing.T) {
				u := e.d.NewUser(t)
				acct := e.account(t, u, proto, mech)
				src := source(t, acct, e.signIn(t, acct, u.Name), nil)
				u.Append(t, "INBOX", message(t, "one"))
				var err error
				pass := func() {
					if proto == config.ProtocolIMAP {
						_, _, err = syncIMAP(t, acct)
					} else {
						_, err = pollPOP3(t, acct)
					}
				}
				if pass(); err != nil {
					t.Fatalf("first pass: %v", err)
				}
				e.srv.ExpireAccessTokens()
				before := e.srv.Stats()
				u.Append(t, "INBOX", message(t, "two"))
				if pass(); err != nil {
					t.Fatalf("second pass: %v", err)
				}
				after := e.srv.Stats()
				if after.InactiveAnswers-before.InactiveAnswers != 1 {
					t.Errorf("%d refused tokens, want 1", after.InactiveAnswers-before.InactiveAnswers)
				}
				if src.Refreshes() != 2 {
					t.Errorf("%d refreshes, want 2", src.Refreshes())
				}
				if n := len(testenv.ReadMaildir(t, acct.Maildir, acct.Layout)["INBOX"]); n != 2 {
					t.Errorf("%d local messages, want 2", n)
				}
			})
		}
	}
}

// TestRevokedSignIn: the user revoked mailmirror's access at the provider.
// The login fails as an authentication failure whose message tells the
// user to run mailmirror auth login, without any token in it.
func TestRevokedSignIn(t *testing.T) {
	e := newEnv(t)
	for _, proto := range []string{config.ProtocolIMAP, config.ProtocolPOP3} {
		t.Run(proto, func(t *testing.T) {
			u := e.d.NewUser(t)
			acct := e.account(t, u, proto, config.AuthOAuthBearer)
			source(t, acct, e.signIn(t, acct, u.Name), nil)
			e.srv.RevokeUser(u.Name)
			var err error
			if proto == config.ProtocolIMAP {
				_, _, err = syncIMAP(t, acct)
			} else {
				_, err = pollPOP3(t, acct)
			}
			if err == nil {
				t.Fatal("the pass worked with a revoked sign-in")
			}
			t.Logf("error: %v", err)
			if !errors.Is(err, auth.ErrLoginRequired) {
				t.Errorf("error does not wrap ErrLoginRequired: %v", err)
			}
			if !errors.Is(err, syncer.ErrAuth) && !errors.Is(err, pop3pull.ErrAuth) {
				t.Errorf("error is not an authentication failure: %v", err)
			}
			if want := `run "mailmirror auth login ` + acct.Name + `"`; !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %s", err, want)
			}
			noTokens(t, e.srv, map[string]string{"the error": err.Error()})
		})
	}
}

// TestNotSignedIn: no auth login yet.
func TestNotSignedIn(t *testing.T) {
	e := newEnv(t)
	u := e.d.NewUser(t)
	acct := e.account(t, u, config.ProtocolIMAP, config.AuthXOAuth2)
	_, _, err := syncIMAP(t, acct)
	if err == nil || !errors.Is(err, auth.ErrLoginRequired) || !errors.Is(err, syncer.ErrAuth) {
		t.Fatalf("err = %v, want a sign-in required authentication failure", err)
	}
	if !strings.Contains(err.Error(), "not signed in") || !strings.Contains(err.Error(), "mailmirror auth login "+acct.Name) {
		t.Errorf("error %q", err)
	}
}

// TestTokenCommand takes the access token from a command; a token the
// server refuses is asked for again, once.
func TestTokenCommand(t *testing.T) {
	e := newEnv(t)
	for _, proto := range []string{config.ProtocolIMAP, config.ProtocolPOP3} {
		t.Run(proto, func(t *testing.T) {
			u := e.d.NewUser(t)
			dir := t.TempDir()
			tokFile := filepath.Join(dir, "token")
			count := filepath.Join(dir, "count")
			cmd := fmt.Sprintf("echo run >> %q; test \"$MAILMIRROR_ACCOUNT\" = oauth-%s && cat %q", count, proto, tokFile)
			acct := e.account(t, u, proto, config.AuthXOAuth2, fmt.Sprintf("token_command = %q", cmd))
			at, _ := e.srv.Issue(u.Name)
			if err := os.WriteFile(tokFile, []byte(at+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			u.Append(t, "INBOX", message(t, "cmd"))
			var err error
			pass := func() {
				if proto == config.ProtocolIMAP {
					_, _, err = syncIMAP(t, acct)
				} else {
					_, err = pollPOP3(t, acct)
				}
			}
			if pass(); err != nil {
				t.Fatalf("pass: %v", err)
			}
			if n := len(testenv.ReadMaildir(t, acct.Maildir, acct.Layout)["INBOX"]); n != 1 {
				t.Errorf("%d local messages, want 1", n)
			}
			// The helper keeps handing out a token that expired.
			e.srv.ExpireAccessTokens()
			os.Remove(count)
			pass()
			if err == nil || !errors.Is(err, auth.ErrRejected) {
				t.Fatalf("err = %v, want a refused token", err)
			}
			t.Logf("error: %v", err)
			if !strings.Contains(err.Error(), "also with a new access token") {
				t.Errorf("error %q does not say it tried twice", err)
			}
			runs, _ := os.ReadFile(count)
			if n := strings.Count(string(runs), "run"); n != 2 {
				t.Errorf("token_command ran %d times, want 2", n)
			}
			noTokens(t, e.srv, map[string]string{"the error": err.Error()})
		})
	}
}
