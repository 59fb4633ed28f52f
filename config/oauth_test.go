package config

import (
	"context"
	"reflect"
	"strings"
	"testing"
)

func TestProviderGmailIMAP(t *testing.T) {
	setHome(t)
	c := mustParse(t, `
[[account]]
name = "gmail"
protocol = "imap"
provider = "gmail"
username = "me@gmail.com"
oauth_client_id = "123.apps.googleusercontent.com"
oauth_client_secret = "GOCSPX-x"
maildir = "/m/gmail"
`)
	a := c.Accounts[0]
	if a.Host != "imap.gmail.com" || a.Port != 993 || a.TLS != TLSImplicit || a.Auth != AuthXOAuth2 {
		t.Errorf("host/port/tls/auth = %s %d %s %s", a.Host, a.Port, a.TLS, a.Auth)
	}
	if a.OAuthAuthURL != "https://accounts.google.com/o/oauth2/v2/auth" || a.OAuthTokenURL != "https://oauth2.googleapis.com/token" || a.OAuthDeviceURL != "" {
		t.Errorf("urls = %q %q %q", a.OAuthAuthURL, a.OAuthTokenURL, a.OAuthDeviceURL)
	}
	if !reflect.DeepEqual(a.OAuthScopes, []string{"https://mail.google.com/"}) {
		t.Errorf("scopes = %q", a.OAuthScopes)
	}
	if a.DeleteMode != DeleteTrash || a.TrashFolder != "[Gmail]/Trash" {
		t.Errorf("delete_mode %q trash %q", a.DeleteMode, a.TrashFolder)
	}
	for name, want := range map[string]bool{
		"INBOX": true, "[Gmail]/Sent Mail": true, "[Gmail]/Trash": true, "Work": true,
		"[Gmail]/All Mail": false, "[Gmail]/Important": false, "[Google Mail]/All Mail": false,
	} {
		if got := a.MatchFolder(name); got != want {
			t.Errorf("MatchFolder(%q) = %v, want %v", name, got, want)
		}
	}
	if p, err := a.ResolvePassword(context.Background()); err != nil || p != "" {
		t.Errorf("ResolvePassword = %q, %v; want empty, nil", p, err)
	}
}

func TestProviderOverridesAndPOP3(t *testing.T) {
	setHome(t)
	c := mustParse(t, `
[[account]]
name = "g"
protocol = "pop3"
provider = "gmail"
username = "me@gmail.com"
token_command = "oama access me@gmail.com"
maildir = "/m/g"

[[account]]
name = "o"
protocol = "imap"
provider = "outlook"
username = "me@example.org"
oauth_client_id = "cid"
folders = ["INBOX"]
delete_mode = "trash"
port = 1993
maildir = "/m/o"

[[account]]
name = "op"
protocol = "pop3"
provider = "outlook"
username = "me@example.org"
oauth_client_id = "cid"
maildir = "/m/op"

[[account]]
name = "app-password"
protocol = "imap"
provider = "gmail"
username = "me@gmail.com"
password_env = "GMAIL_APP_PASSWORD"
folders = ["INBOX"]
maildir = "/m/ap"
`)
	g, o, op, ap := c.Accounts[0], c.Accounts[1], c.Accounts[2], c.Accounts[3]
	if g.Host != "pop.gmail.com" || g.Port != 995 || g.Auth != AuthXOAuth2 || g.TokenCommand == "" || g.OAuthTokenURL != "" {
		t.Errorf("gmail pop3 = %+v", *g)
	}
	if o.Host != "outlook.office365.com" || o.Port != 1993 || o.DeleteMode != DeleteTrash || !reflect.DeepEqual(o.Folders, []string{"INBOX"}) {
		t.Errorf("outlook imap = %+v", *o)
	}
	if o.OAuthDeviceURL == "" || o.OAuthRedirectHost != "localhost" || o.TrashFolder != "Deleted Items" || o.SentFolder != "Sent Items" {
		t.Errorf("outlook imap = %+v", *o)
	}
	if !reflect.DeepEqual(o.OAuthScopes, []string{"https://outlook.office.com/IMAP.AccessAsUser.All", "offline_access"}) {
		t.Errorf("outlook imap scopes %q", o.OAuthScopes)
	}
	if !reflect.DeepEqual(op.OAuthScopes, []string{"https://outlook.office.com/POP.AccessAsUser.All", "offline_access"}) {
		t.Errorf("outlook pop3 scopes %q", op.OAuthScopes)
	}
	if ap.Auth != AuthPassword || ap.OAuthClientID != "" || ap.OAuthTokenURL != "" || ap.Host != "imap.gmail.com" {
		t.Errorf("gmail with a password = %+v", *ap)
	}
}

func TestOAuthErrors(t *testing.T) {
	setHome(t)
	head := "[[account]]\nname = \"a\"\nprotocol = \"imap\"\nhost = \"imap.example.com\"\nusername = \"u\"\nmaildir = \"/m\"\n"
	for _, tc := range []struct {
		name, extra string
		want        []string
	}{
		{"bad auth", "auth = \"kerberos\"\npassword_env = \"P\"\n",
			[]string{`config.toml:7: account "a": auth: must be "password", "xoauth2" or "oauthbearer", got "kerberos"`}},
		{"bad provider", "provider = \"yahoo\"\npassword_env = \"P\"\n",
			[]string{`config.toml:7: account "a": provider: must be "gmail" or "outlook", got "yahoo"`}},
		{"oauth without source", "auth = \"xoauth2\"\n",
			[]string{`config.toml:1: account "a": auth = "xoauth2" needs token_command (a command printing an access token) or oauth_client_id (for mailmirror auth login; see docs/oauth.md)`}},
		{"oauth with password", "auth = \"oauthbearer\"\npassword_env = \"P\"\ntoken_command = \"t\"\n",
			[]string{`config.toml:8: account "a": password_env: cannot be combined with auth = "oauthbearer", which signs in with an OAuth access token (remove it, or set auth = "password")`}},
		{"token_command with client", "auth = \"xoauth2\"\ntoken_command = \"t\"\noauth_client_id = \"c\"\n",
			[]string{`config.toml:9: account "a": oauth_client_id: has no effect with token_command, which supplies the access tokens (set one of token_command and oauth_client_id)`}},
		{"oauth keys with password", "password_env = \"P\"\noauth_client_id = \"c\"\ntoken_command = \"t\"\n",
			[]string{
				`config.toml:8: account "a": oauth_client_id: only used with auth = "xoauth2" or "oauthbearer" (auth is "password")`,
				`config.toml:9: account "a": token_command: only used with auth = "xoauth2" or "oauthbearer" (auth is "password")`,
			}},
		{"client without urls", "auth = \"xoauth2\"\noauth_client_id = \"c\"\n",
			[]string{
				`config.toml:1: account "a": oauth_token_url: required with oauth_client_id (or set provider)`,
				`config.toml:1: account "a": oauth_auth_url or oauth_device_url: one is required with oauth_client_id, to sign in (or set provider)`,
			}},
		{"http url", "auth = \"xoauth2\"\noauth_client_id = \"c\"\noauth_token_url = \"http://login.example.com/token\"\noauth_auth_url = \"https://login.example.com/a\"\n",
			[]string{`config.toml:9: account "a": oauth_token_url: must be an https URL (http only to a loopback host): tokens would cross the network in clear text, got "http://login.example.com/token"`}},
		{"bad scope", "auth = \"xoauth2\"\noauth_client_id = \"c\"\noauth_token_url = \"http://127.0.0.1:8080/token\"\noauth_device_url = \"http://localhost:8080/device\"\noauth_scopes = [\"a b\"]\n",
			[]string{`config.toml:11: account "a": oauth_scopes: each scope must be one word without spaces, quotes or backslashes, got "a b"`}},
		{"secret type", "auth = \"xoauth2\"\ntoken_command = \"t\"\noauth_client_secret = 12345\n",
			[]string{`config.toml:9: account "a": oauth_client_secret: must be a string`, `config.toml:9: account "a": oauth_client_secret: has no effect with token_command, which supplies the access tokens (set one of token_command and oauth_client_id)`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := parseErrors(t, head+tc.extra)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("errors\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestOAuthMinimal(t *testing.T) {
	setHome(t)
	c := mustParse(t, `
[[account]]
name = "self"
protocol = "imap"
host = "imap.example.com"
username = "u"
auth = "oauthbearer"
oauth_client_id = "c"
oauth_token_url = "https://id.example.com/token"
oauth_device_url = "https://id.example.com/device"
maildir = "/m"
`)
	a := c.Accounts[0]
	if a.Auth != AuthOAuthBearer || a.OAuthAuthURL != "" || a.OAuthScopes != nil || a.DeleteMode != DeleteExpunge || !reflect.DeepEqual(a.Folders, []string{"*"}) {
		t.Errorf("account = %+v", *a)
	}
}
