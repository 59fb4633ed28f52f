package cli

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zalando/go-keyring"

	"github.com/mailmirror/mailmirror/internal/testenv"
	"github.com/mailmirror/mailmirror/internal/testenv/oauthfake"
)

// oauthSetup starts a fake authorization server and a Dovecot that checks
// its tokens, adds a user and writes a config with one OAuth account.
// The OS credential store is replaced by one that fails, as on a server
// without a Secret Service, so the fallback file is used (on a machine
// without a D-Bus session it is not even tried).
func oauthSetup(t *testing.T, proto, mech, flowKey string) (*oauthfake.Server, *testenv.User, string, string) {
	t.Helper()
	keyring.MockInitWithError(errors.New("no Secret Service on this test machine"))
	t.Setenv("MAILMIRROR_CREDENTIAL_STORE", "")
	var u *testenv.User
	srv := oauthfake.New(t, &oauthfake.Options{OnDevice: func(code string) {
		if err := srvApprove(code); err != nil {
			t.Errorf("approve: %v", err)
		}
	}})
	srvApprove = func(code string) error { return srv.ApproveDevice(code, u.Name) }
	d := testenv.NewDovecot(t, &testenv.DovecotOptions{OAuth2IntrospectionURL: srv.IntrospectURL(), ExtraConfig: []string{"auth_failure_delay = 0"}})
	u = d.NewUser(t)
	dir := t.TempDir()
	port := d.IMAPPort
	if proto == "pop3" {
		port = d.POP3Port
	}
	name := "mail"
	cfg := writeConfig(t, fmt.Sprintf(`state_dir = %q
[[account]]
name = %q
protocol = %q
host = "127.0.0.1"
port = %d
tls = "none"
username = %q
auth = %q
oauth_client_id = %q
oauth_token_url = %q
%s = %q
maildir = %q
`, filepath.Join(dir, "state"), name, proto, port, u.Name, mech, srv.ClientID(), srv.TokenURL(),
		flowKey, map[string]string{"oauth_device_url": srv.DeviceURL(), "oauth_auth_url": srv.AuthURL()}[flowKey],
		filepath.Join(dir, "mail")))
	return srv, u, cfg, dir
}

var srvApprove func(code string) error

// followBrowser stands in for the user's browser: it follows the
// authorization URL, which the fake server redirects to the loopback
// listener.
func followBrowser(t *testing.T) func(string) error {
	return func(u string) error {
		go func() {
			resp, err := http.Get(u)
			if err != nil {
				t.Errorf("browser: %v", err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}()
		return nil
	}
}

// assertNoTokens fails when a token of srv appears in any output or in a
// file below dir other than the stored sign-in.
func assertNoTokens(t *testing.T, srv *oauthfake.Server, dir string, outputs ...string) {
	t.Helper()
	texts := map[string]string{}
	for i, o := range outputs {
		texts[fmt.Sprintf("output %d", i)] = o
	}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Base(filepath.Dir(p)) == "oauth" {
			return nil
		}
		b, _ := os.ReadFile(p)
		texts[p] = string(b)
		return nil
	})
	for _, tok := range srv.Tokens() {
		for what, s := range texts {
			if strings.Contains(s, tok) {
				t.Errorf("a token (%.6s...) appears in %s", tok, what)
			}
		}
	}
}

// TestAuthLoginDeviceSyncStatusLogout: auth login with the device flow,
// then sync (a message arrives through XOAUTH2), auth status --check, a
// revoked sign-in, auth logout.
func TestAuthLoginDeviceSyncStatusLogout(t *testing.T) {
	srv, u, cfg, dir := oauthSetup(t, "imap", "xoauth2", "oauth_device_url")
	code, out, errOut := runMain(t, "--config", cfg, "auth", "login", "mail")
	if code != ExitOK {
		t.Fatalf("auth login: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"enter the code", srv.VerifyURL(), "Signed in.",
		"Note: the OS credential store could not be used (",
		filepath.Join(dir, "state", "oauth", "mail.json"), "Logged in to 127.0.0.1:", "with XOAUTH2: ok."} {
		if !strings.Contains(out, want) {
			t.Errorf("auth login output lacks %q:\n%s", want, out)
		}
	}
	if st, err := os.Stat(filepath.Join(dir, "state", "oauth", "mail.json")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("token file: %v %v", st, err)
	}

	u.Append(t, "INBOX", testenv.GenMessage(rand.New(rand.NewPCG(1, 2)), nil))
	code, syncOut, syncErr := runMain(t, "--config", cfg, "sync", "mail")
	if code != ExitOK || !strings.Contains(syncOut, "mail: ") {
		t.Fatalf("sync: exit %d\n%s\n%s", code, syncOut, syncErr)
	}
	testenv.CompareAccount(t, u, filepath.Join(dir, "mail"), "verbatim")
	if n := len(testenv.ReadMaildir(t, filepath.Join(dir, "mail"), "verbatim")["INBOX"]); n != 1 {
		t.Errorf("%d messages synced, want 1", n)
	}

	code, stOut, stErr := runMain(t, "--config", cfg, "auth", "status", "--check")
	if code != ExitOK || !strings.Contains(stOut, "mail: XOAUTH2, signed in on ") || !strings.Contains(stOut, "access token: ok (valid for ") {
		t.Errorf("auth status: exit %d\n%s\n%s", code, stOut, stErr)
	}

	srv.RevokeUser(u.Name)
	code, revOut, revErr := runMain(t, "--config", cfg, "sync", "mail")
	if code != ExitFailure || !strings.Contains(revErr, `run "mailmirror auth login mail"`) {
		t.Errorf("sync after revocation: exit %d\n%s\n%s", code, revOut, revErr)
	}
	code, rst, rstErr := runMain(t, "--config", cfg, "auth", "status", "--check", "mail")
	if code != ExitFailure || !strings.Contains(rst, "access token: failed") || !strings.Contains(rstErr, `run "mailmirror auth login mail"`) {
		t.Errorf("auth status after revocation: exit %d\n%s\n%s", code, rst, rstErr)
	}

	code, loOut, loErr := runMain(t, "--config", cfg, "auth", "logout", "mail")
	if code != ExitOK || !strings.Contains(loOut, "Signed out") {
		t.Errorf("auth logout: exit %d\n%s\n%s", code, loOut, loErr)
	}
	code, st2, _ := runMain(t, "--config", cfg, "auth", "status")
	if code != ExitFailure || !strings.Contains(st2, `not signed in: run "mailmirror auth login mail"`) {
		t.Errorf("auth status after logout: exit %d\n%s", code, st2)
	}
	assertNoTokens(t, srv, dir, out, errOut, syncOut, syncErr, stOut, stErr, revOut, revErr, rst, rstErr, loOut, loErr, st2)
}

// TestAuthLoginBrowserPOP3: auth login with the code flow and PKCE (a test
// browser follows the redirect to the loopback listener), then a POP3
// poll with OAUTHBEARER.
func TestAuthLoginBrowserPOP3(t *testing.T) {
	srv, u, cfg, dir := oauthSetup(t, "pop3", "oauthbearer", "oauth_auth_url")
	old := openBrowser
	openBrowser = followBrowser(t)
	defer func() { openBrowser = old }()
	code, out, errOut := runMain(t, "--config", cfg, "auth", "login", "mail")
	if code != ExitOK {
		t.Fatalf("auth login: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"open this address in your browser", "code_challenge_method=S256", "Signed in.", "with OAUTHBEARER: ok."} {
		if !strings.Contains(out, want) {
			t.Errorf("auth login output lacks %q:\n%s", want, out)
		}
	}
	u.Append(t, "INBOX", testenv.GenMessage(rand.New(rand.NewPCG(3, 4)), nil))
	code, syncOut, syncErr := runMain(t, "--config", cfg, "sync", "mail")
	if code != ExitOK {
		t.Fatalf("sync: exit %d\n%s\n%s", code, syncOut, syncErr)
	}
	local := testenv.ReadMaildir(t, filepath.Join(dir, "mail"), "verbatim")["INBOX"]
	if server := u.Messages(t, "INBOX"); len(local) != 1 || local[0].MessageID != server[0].MessageID {
		t.Errorf("local %+v, server %+v", local, server)
	}
	if st := srv.Stats(); st.CodeGrants != 1 {
		t.Errorf("stats %+v", st)
	}
	assertNoTokens(t, srv, dir, out, errOut, syncOut, syncErr)
}

func TestAuthUsageErrors(t *testing.T) {
	cfg := writeConfig(t, fmt.Sprintf(`state_dir = %q
[[account]]
name = "pw"
protocol = "imap"
host = "127.0.0.1"
tls = "none"
username = "u"
password_env = "P"
maildir = "/m/pw"

[[account]]
name = "helper"
protocol = "imap"
host = "127.0.0.1"
tls = "none"
username = "u"
auth = "xoauth2"
token_command = "echo tok"
maildir = "/m/helper"
`, t.TempDir()))
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"auth"}, ExitUsage, "usage: mailmirror auth login"},
		{[]string{"auth", "frobnicate"}, ExitUsage, `unknown subcommand "frobnicate"`},
		{[]string{"auth", "login"}, ExitUsage, "name one account"},
		{[]string{"auth", "login", "nope"}, ExitUsage, `no account named "nope"`},
		{[]string{"auth", "login", "pw"}, ExitFailure, `account "pw" signs in with a password`},
		{[]string{"auth", "login", "helper"}, ExitFailure, "gets its access tokens from token_command"},
		{[]string{"auth", "login", "--device", "--browser", "helper"}, ExitUsage, "exclude each other"},
	} {
		code, out, errOut := runMain(t, append([]string{"--config", cfg}, tc.args...)...)
		if code != tc.code || !strings.Contains(out+errOut, tc.want) {
			t.Errorf("%q: exit %d, want %d with %q\n%s%s", tc.args, code, tc.code, tc.want, out, errOut)
		}
	}
	code, out, errOut := runMain(t, "--config", cfg, "auth", "status", "--check")
	if code != ExitOK || !strings.Contains(out, `pw: password (auth = "password")`) || !strings.Contains(out, "helper: XOAUTH2, access tokens from token_command\n  access token: ok") {
		t.Errorf("auth status: exit %d\n%s\n%s", code, out, errOut)
	}
	if strings.Contains(out, "tok\n") {
		t.Errorf("auth status shows the token:\n%s", out)
	}
}
