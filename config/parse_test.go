package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// setHome points HOME (and XDG_STATE_HOME) at a temporary directory so that
// ~ and the default state_dir are predictable.
func setHome(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_STATE_HOME", "")
	return home
}

func mustParse(t *testing.T, text string) *Config {
	t.Helper()
	c, err := Parse([]byte(text), "/etc/mm/config.toml")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

// parseErrors returns the messages of a config that must not parse.
func parseErrors(t *testing.T, text string) []string {
	t.Helper()
	c, err := Parse([]byte(text), "/etc/mm/config.toml")
	if err == nil {
		t.Fatalf("Parse succeeded, want errors; accounts: %d", len(c.Accounts))
	}
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("error is %T, want ErrorList: %v", err, err)
	}
	if got := strings.Split(err.Error(), "\n"); !reflect.DeepEqual(got, func() []string {
		s := make([]string, len(list))
		for i, e := range list {
			s[i] = e.Error()
		}
		return s
	}()) {
		t.Fatalf("ErrorList.Error() lines differ from its elements: %q", got)
	}
	return strings.Split(err.Error(), "\n")
}

const minimalIMAP = `[[account]]
name = "work"
protocol = "imap"
host = "imap.example.com"
username = "me@example.com"
password_command = "pass show work"
maildir = "~/Mail/work"
`

func TestDefaultsIMAP(t *testing.T) {
	home := setHome(t)
	c := mustParse(t, minimalIMAP)
	if c.Path != "" {
		t.Errorf("Path = %q, want empty for Parse", c.Path)
	}
	if want := filepath.Join(home, ".local", "state", "mailmirror"); c.StateDir != want {
		t.Errorf("StateDir = %q, want %q", c.StateDir, want)
	}
	if c.LogLevel != "info" || c.LogFormat != "text" {
		t.Errorf("LogLevel, LogFormat = %q, %q, want info, text", c.LogLevel, c.LogFormat)
	}
	if len(c.Accounts) != 1 {
		t.Fatalf("%d accounts, want 1", len(c.Accounts))
	}
	want := &Account{
		Name: "work", Protocol: "imap", Host: "imap.example.com", Port: 993, TLS: "implicit",
		Username: "me@example.com", PasswordCommand: "pass show work",
		Maildir: filepath.Join(home, "Mail", "work"), Layout: "verbatim",
		Folders: []string{"*"}, IdleFolders: []string{"INBOX"}, PollInterval: 2 * time.Minute,
		MaxConnections: 4, DeleteMode: "expunge", DeleteGuardCount: 50, DeleteGuardPercent: 25, Direction: "both", FetchFlag: "F", Line: 1,
		Auth: "password", StateDir: c.StateDir,
	}
	if got := c.Accounts[0]; !reflect.DeepEqual(got, want) {
		t.Errorf("account =\n%+v\nwant\n%+v", *got, *want)
	}
	if c.Account("work") != c.Accounts[0] || c.Account("other") != nil {
		t.Errorf("Config.Account lookup wrong")
	}
}

func TestDefaultsPOP3(t *testing.T) {
	home := setHome(t)
	c := mustParse(t, `
[[account]]
name = "isp"
protocol = "pop3"
host = "pop.example.net"
username = "me"
password_env = "ISP_PASSWORD"
maildir = "/var/mail/isp"
`)
	want := &Account{
		Name: "isp", Protocol: "pop3", Host: "pop.example.net", Port: 995, TLS: "implicit",
		Username: "me", PasswordEnv: "ISP_PASSWORD", Maildir: "/var/mail/isp", Layout: "verbatim",
		PollInterval: 5 * time.Minute, MaxConnections: 1, LeaveOnServer: true, Folder: "INBOX", Line: 2,
		Auth: "password", StateDir: c.StateDir,
	}
	if got := c.Accounts[0]; !reflect.DeepEqual(got, want) {
		t.Errorf("account =\n%+v\nwant\n%+v", *got, *want)
	}
	_ = home
}

func TestDefaultStateDir(t *testing.T) {
	home := setHome(t)
	xdg := filepath.Join(home, "xdg-state")
	t.Setenv("XDG_STATE_HOME", xdg)
	c := mustParse(t, "")
	if want := filepath.Join(xdg, "mailmirror"); c.StateDir != want {
		t.Errorf("StateDir = %q, want %q", c.StateDir, want)
	}
	t.Setenv("XDG_STATE_HOME", "relative/ignored")
	c = mustParse(t, "")
	if want := filepath.Join(home, ".local", "state", "mailmirror"); c.StateDir != want {
		t.Errorf("StateDir with relative XDG_STATE_HOME = %q, want %q", c.StateDir, want)
	}
}

func TestZeroAccountsValid(t *testing.T) {
	setHome(t)
	c := mustParse(t, "# nothing yet\nlog_format = \"json\"\n")
	if len(c.Accounts) != 0 || c.LogFormat != "json" {
		t.Errorf("got %d accounts, log_format %q", len(c.Accounts), c.LogFormat)
	}
}

func TestDefaultPorts(t *testing.T) {
	setHome(t)
	for _, tc := range []struct {
		proto, tls string
		port       int
	}{
		{"imap", "", 993}, {"imap", "implicit", 993}, {"imap", "starttls", 143}, {"imap", "none", 143},
		{"pop3", "", 995}, {"pop3", "implicit", 995}, {"pop3", "starttls", 110}, {"pop3", "none", 110},
	} {
		text := "[[account]]\nname = \"a\"\nprotocol = \"" + tc.proto + "\"\nhost = \"localhost\"\nusername = \"u\"\npassword_env = \"P\"\nmaildir = \"/m\"\n"
		if tc.tls != "" {
			text += "tls = \"" + tc.tls + "\"\n"
		}
		c := mustParse(t, text)
		if got := c.Accounts[0].Port; got != tc.port {
			t.Errorf("%s tls=%q: port %d, want %d", tc.proto, tc.tls, got, tc.port)
		}
	}
}

// TestEveryKey sets every key to a value other than its default and checks
// that it arrives in the Config. It fails when a key is added to KeyDocs
// without being covered here.
func TestEveryKey(t *testing.T) {
	home := setHome(t)
	ca := writeCA(t)
	t.Setenv("MAILROOT", filepath.Join(home, "mailroot"))
	text := `
state_dir = "~/state"
log_level = "debug"
log_format = "json"

[[account]]
name = "work.imap_1-x"
protocol = "imap"
host = "imap.example.com"
port = 1993
tls = "starttls"
tls_ca_file = "` + ca + `"
allow_insecure = true
username = "me@example.com"
password = "s3cret"
maildir = "$MAILROOT/work"
layout = "maildir++"
folders = ["INBOX", "Lists/*", "!Lists/spam"]
idle_folders = ["INBOX", "Lists/golang"]
poll_interval = "1d12h"
max_connections = 64
delete_mode = "trash"
delete_guard_count = 100
delete_guard_percent = 40
direction = "pull"
on_new_mail = "notmuch new"
max_age = "180d"
max_size = "10MB"
fetch_flag = "R"
tags = "notmuch"
tag_map = { "$label1" = "important" }
tags_allow = ["work", "project-*"]
tags_deny = ["private*"]
compress = false

[[account]]
name = "pop"
protocol = "pop3"
host = "127.0.0.1"
tls = "none"
username = "me"
password_command = "echo pw"
maildir = "${MAILROOT}/pop"
poll_interval = "90s"
leave_on_server = true
delete_after = "14d"
delete_when_deleted_locally = true
folder = "Archive/pop"

[[account]]
name = "pop2"
protocol = "pop3"
host = "::1"
tls = "none"
username = "me"
password_env = "POP2_PASSWORD"
maildir = "rel/pop2"
leave_on_server = false

[[account]]
name = "m365"
protocol = "imap"
provider = "outlook"
auth = "oauthbearer"
username = "me@example.org"
oauth_client_id = "cid"
oauth_client_secret = "csecret"
oauth_auth_url = "https://login.example.org/authorize"
oauth_token_url = "https://login.example.org/token"
oauth_device_url = "https://login.example.org/device"
oauth_scopes = ["IMAP.AccessAsUser.All", "offline_access"]
maildir = "$MAILROOT/m365"

[[account]]
name = "helper"
protocol = "pop3"
auth = "xoauth2"
host = "pop.example.net"
username = "me"
token_command = "oama access me"
maildir = "$MAILROOT/helper"

[[account]]
name = "policies"
protocol = "imap"
host = "imap.example.com"
username = "me"
password_env = "P"
maildir = "$MAILROOT/policies"
folder_policy = [{ match = "Lists/*", max_age = "0" }]

[[account]]
name = "policies2"
protocol = "imap"
host = "imap.example.com"
username = "me"
password_env = "P"
maildir = "$MAILROOT/policies2"
max_age = "365d"

[[account.folder_policy]]
match = "Lists/*"
max_age = "30d"
direction = "push"

[[account.folder_policy]]
match = "*"
archive_after = "730d"
archive_to = "Archive/local"
`
	// Every documented key must appear in the text above.
	for _, k := range KeyDocs() {
		if !strings.Contains(text, "\n"+k.Name+" = ") {
			t.Errorf("key %q is not covered by TestEveryKey", k.Name)
		}
	}
	c := mustParse(t, text)
	if c.StateDir != filepath.Join(home, "state") || c.LogLevel != "debug" || c.LogFormat != "json" {
		t.Errorf("top level = %q %q %q", c.StateDir, c.LogLevel, c.LogFormat)
	}
	want := []*Account{{
		Name: "work.imap_1-x", Protocol: "imap", Host: "imap.example.com", Port: 1993, TLS: "starttls",
		TLSCAFile: ca, AllowInsecure: true, Username: "me@example.com", Password: "s3cret",
		Maildir: filepath.Join(home, "mailroot", "work"), Layout: "maildir++",
		Folders: []string{"INBOX", "Lists/*", "!Lists/spam"}, IdleFolders: []string{"INBOX", "Lists/golang"},
		PollInterval: 36 * time.Hour, MaxConnections: 64, DeleteMode: "trash", DeleteGuardCount: 100, DeleteGuardPercent: 40, Direction: "pull", OnNewMail: "notmuch new", MaxAge: 180 * 24 * time.Hour, MaxSize: 10_000_000, FetchFlag: "R", Line: 6,
		Tags: "notmuch", TagMap: map[string]string{"$label1": "important"}, TagsAllow: []string{"work", "project-*"}, TagsDeny: []string{"private*"},
		NoCompress: true,
	}, {
		Name: "pop", Protocol: "pop3", Host: "127.0.0.1", Port: 110, TLS: "none", Username: "me",
		PasswordCommand: "echo pw", Maildir: filepath.Join(home, "mailroot", "pop"), Layout: "verbatim",
		PollInterval: 90 * time.Second, MaxConnections: 1, LeaveOnServer: true, DeleteAfter: 14 * 24 * time.Hour,
		DeleteWhenDeletedLocally: true, Folder: "Archive/pop", Line: 36,
	}, {
		Name: "pop2", Protocol: "pop3", Host: "::1", Port: 110, TLS: "none", Username: "me",
		PasswordEnv: "POP2_PASSWORD", Maildir: "/etc/mm/rel/pop2", Layout: "verbatim",
		PollInterval: 5 * time.Minute, MaxConnections: 1, LeaveOnServer: false, Folder: "INBOX", Line: 50,
	}, {
		Name: "m365", Protocol: "imap", Provider: "outlook", Auth: "oauthbearer", Host: "outlook.office365.com",
		Port: 993, TLS: "implicit", Username: "me@example.org", OAuthClientID: "cid", OAuthClientSecret: "csecret",
		OAuthAuthURL: "https://login.example.org/authorize", OAuthTokenURL: "https://login.example.org/token",
		OAuthDeviceURL: "https://login.example.org/device", OAuthScopes: []string{"IMAP.AccessAsUser.All", "offline_access"},
		OAuthRedirectHost: "localhost", TrashFolder: "Deleted Items", SentFolder: "Sent Items",
		Maildir: filepath.Join(home, "mailroot", "m365"), Layout: "verbatim", Folders: []string{"*"},
		IdleFolders: []string{"INBOX"}, PollInterval: 2 * time.Minute, MaxConnections: 4, DeleteMode: "expunge", DeleteGuardCount: 50, DeleteGuardPercent: 25, Direction: "both", FetchFlag: "F", Line: 60,
	}, {
		Name: "helper", Protocol: "pop3", Auth: "xoauth2", Host: "pop.example.net", Port: 995, TLS: "implicit",
		Username: "me", TokenCommand: "oama access me", Maildir: filepath.Join(home, "mailroot", "helper"),
		Layout: "verbatim", PollInterval: 5 * time.Minute, MaxConnections: 1, LeaveOnServer: true, Folder: "INBOX", Line: 74,
	}, {
		Name: "policies", Protocol: "imap", Host: "imap.example.com", Port: 993, TLS: "implicit", Username: "me",
		PasswordEnv: "P", Maildir: filepath.Join(home, "mailroot", "policies"), Layout: "verbatim", Folders: []string{"*"},
		IdleFolders: []string{"INBOX"}, PollInterval: 2 * time.Minute, MaxConnections: 4, DeleteMode: "expunge", DeleteGuardCount: 50, DeleteGuardPercent: 25, Direction: "both", FetchFlag: "F", Line: 83,
		FolderPolicies: []FolderPolicy{{Match: "Lists/*", HasMaxAge: true, Line: 90}},
	}, {
		Name: "policies2", Protocol: "imap", Host: "imap.example.com", Port: 993, TLS: "implicit", Username: "me",
		PasswordEnv: "P", Maildir: filepath.Join(home, "mailroot", "policies2"), Layout: "verbatim", Folders: []string{"*"},
		IdleFolders: []string{"INBOX"}, PollInterval: 2 * time.Minute, MaxConnections: 4, DeleteMode: "expunge", DeleteGuardCount: 50, DeleteGuardPercent: 25, Direction: "both", FetchFlag: "F",
		MaxAge: 365 * 24 * time.Hour, Line: 92,
		FolderPolicies: []FolderPolicy{
			{Match: "Lists/*", MaxAge: 30 * 24 * time.Hour, HasMaxAge: true, Direction: "push", Line: 101},
			{Match: "*", ArchiveAfter: 730 * 24 * time.Hour, ArchiveTo: "Archive/local", Line: 106},
		},
	}}
	for _, a := range want {
		if a.Auth == "" {
			a.Auth = "password"
		}
		a.StateDir = filepath.Join(home, "state")
	}
	if len(c.Accounts) != len(want) {
		t.Fatalf("%d accounts, want %d", len(c.Accounts), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(c.Accounts[i], want[i]) {
			t.Errorf("account %d =\n%+v\nwant\n%+v", i, *c.Accounts[i], *want[i])
		}
	}
	if got := c.Accounts[1].Address(); got != "127.0.0.1:110" {
		t.Errorf("Address = %q", got)
	}
	if got := c.Accounts[2].Address(); got != "[::1]:110" {
		t.Errorf("Address = %q", got)
	}
}

func TestErrors(t *testing.T) {
	setHome(t)
	t.Setenv("MM_UNSET_VAR", "")
	os.Unsetenv("MM_UNSET_VAR")
	acct := func(extra string) string {
		return "[[account]]\nname = \"work\"\nprotocol = \"imap\"\nhost = \"imap.example.com\"\nusername = \"u\"\npassword_env = \"P\"\nmaildir = \"/m/work\"\n" + extra
	}
	pop := func(extra string) string {
		return "[[account]]\nname = \"pop\"\nprotocol = \"pop3\"\nhost = \"pop.example.com\"\nusername = \"u\"\npassword_env = \"P\"\nmaildir = \"/m/pop\"\n" + extra
	}
	for _, tc := range []struct {
		name string
		text string
		want []string
	}{
		{"unknown account key", acct("pasword = \"x\"\n"),
			[]string{`config.toml:8: account "work": unknown key "pasword"; did you mean password?`}},
		{"key in wrong case", acct("Poll_Interval = \"5m\"\n"),
			[]string{`config.toml:8: account "work": unknown key "Poll_Interval"; did you mean poll_interval?`}},
		{"mbsync key name", acct("user = \"me\"\n"),
			[]string{`config.toml:8: account "work": unknown key "user"; did you mean username?`}},
		{"far from every key", acct("colour = \"red\"\n"),
			[]string{`config.toml:8: account "work": unknown key "colour"`}},
		{"bad direction", acct("direction = \"both ways\"\n"),
			[]string{`config.toml:8: account "work": direction: must be "both", "pull" or "push", got "both ways"`}},
		{"unknown top key", "loglevel = \"info\"\n",
			[]string{`config.toml:1: unknown key "loglevel"; did you mean log_level?`}},
		{"unknown top table", "[general]\nx = 1\n",
			[]string{`config.toml:1: unknown table "general"`}},
		{"unknown account table", acct("[account.imap]\nx = 1\n"),
			[]string{`config.toml:8: account "work": unknown table "imap"`}},
		{"account not array", "[account]\nname = \"x\"\n",
			[]string{`config.toml:1: account: must be written [[account]] (an array of tables), not [account]`}},
		{"toml syntax", "log_level = \"info\"\nlog_format = text\n",
			[]string{`config.toml:2: invalid TOML: expected value but found "text" instead`}},
		{"duplicate key", acct("name = \"again\"\n"),
			[]string{`config.toml:8: invalid TOML: Key 'account.name' has already been defined.`}},
		{"required keys", "[[account]]\nport = 993\n", []string{
			`config.toml:1: account #1: name: required`,
			`config.toml:1: account #1: protocol: required`,
			`config.toml:1: account #1: host: required`,
			`config.toml:1: account #1: username: required`,
			`config.toml:1: account #1: one of password, password_command or password_env is required`,
			`config.toml:1: account #1: maildir: required`,
		}},
		{"empty required", "[[account]]\nname = \"\"\nprotocol = \"imap\"\nhost = \"\"\nusername = \"\"\npassword_env = \"P\"\nmaildir = \"\"\n", []string{
			`config.toml:2: account #1: name: must not be empty`,
			`config.toml:4: account #1: host: must not be empty`,
			`config.toml:5: account #1: username: must not be empty`,
			`config.toml:7: account #1: maildir: must not be empty`,
		}},
		{"bad name", strings.Replace(acct(""), `"work"`, `"my work"`, 1),
			[]string{`config.toml:2: account "my work": name: must contain only letters, digits, ".", "_" and "-", got "my work"`}},
		{"dot name", strings.Replace(acct(""), `"work"`, `".."`, 1),
			[]string{`config.toml:2: account "..": name: must not be "." or "..", got ".."`}},
		{"name wrong type", strings.Replace(acct(""), `"work"`, `7`, 1),
			[]string{`config.toml:2: account #1: name: must be a string, got 7`}},
		{"duplicate name", acct("") + "\n" + strings.Replace(acct(""), "/m/work", "/m/work2", 1),
			[]string{`config.toml:10: account "work": name: "work" is already the name of the account at line 1`}},
		{"bad protocol", strings.Replace(acct(""), `"imap"`, `"smtp"`, 1),
			[]string{`config.toml:3: account "work": protocol: must be "imap" or "pop3", got "smtp"`}},
		{"bad host", strings.Replace(acct(""), `"imap.example.com"`, `"imap example.com"`, 1),
			[]string{`config.toml:4: account "work": host: must be a host name or an IP address, got "imap example.com"`}},
		{"port zero", acct("port = 0\n"),
			[]string{`config.toml:8: account "work": port: must be between 1 and 65535, got 0`}},
		{"port too big", acct("port = 70000\n"),
			[]string{`config.toml:8: account "work": port: must be between 1 and 65535, got 70000`}},
		{"port string", acct("port = \"993\"\n"),
			[]string{`config.toml:8: account "work": port: must be an integer, got "993"`}},
		{"bad tls", acct("tls = \"ssl\"\n"),
			[]string{`config.toml:8: account "work": tls: must be "implicit", "starttls" or "none", got "ssl"`}},
		{"tls none remote", acct("tls = \"none\"\n"),
			[]string{`config.toml:8: account "work": tls: "none" is refused for host "imap.example.com", which is not loopback: the password would cross the network in clear text (set allow_insecure = true to allow it)`}},
		{"tls none remote pop3", pop("tls = \"none\"\nallow_insecure = false\n"),
			[]string{`config.toml:8: account "pop": tls: "none" is refused for host "pop.example.com", which is not loopback: the password would cross the network in clear text (set allow_insecure = true to allow it)`}},
		{"allow_insecure type", acct("allow_insecure = \"yes\"\n"),
			[]string{`config.toml:8: account "work": allow_insecure: must be true or false, got "yes"`}},
		{"ca file missing", acct("tls_ca_file = \"/nonexistent/ca.pem\"\n"),
			[]string{`config.toml:8: account "work": tls_ca_file: open /nonexistent/ca.pem: no such file or directory`}},
		{"no password", strings.Replace(acct(""), "password_env = \"P\"\n", "", 1),
			[]string{`config.toml:1: account "work": one of password, password_command or password_env is required`}},
		{"two password sources", acct("password_command = \"pass x\"\npassword = \"x\"\n"), []string{
			`config.toml:8: account "work": password_command: cannot be combined with password_env: set only one of password, password_command and password_env`,
			`config.toml:9: account "work": password: cannot be combined with password_env: set only one of password, password_command and password_env`,
		}},
		{"empty password", strings.Replace(acct(""), `password_env = "P"`, `password = ""`, 1),
			[]string{`config.toml:6: account "work": password: must not be empty`}},
		{"password wrong type hides value", strings.Replace(acct(""), `password_env = "P"`, `password = 123456789`, 1),
			[]string{`config.toml:6: account "work": password: must be a string`}},
		{"empty password_command", strings.Replace(acct(""), `password_env = "P"`, `password_command = " "`, 1),
			[]string{`config.toml:6: account "work": password_command: must not be empty`}},
		{"bad password_env", strings.Replace(acct(""), `password_env = "P"`, `password_env = "$P"`, 1),
			[]string{`config.toml:6: account "work": password_env: must be the name of an environment variable, got "$P"`}},
		{"maildir unset var", strings.Replace(acct(""), `"/m/work"`, `"$MM_UNSET_VAR/work"`, 1),
			[]string{`config.toml:7: account "work": maildir: environment variable $MM_UNSET_VAR is not set, got "$MM_UNSET_VAR/work"`}},
		{"maildir ~user", strings.Replace(acct(""), `"/m/work"`, `"~bob/Mail"`, 1),
			[]string{`config.toml:7: account "work": maildir: ~user is not supported (use ~/ or an absolute path), got "~bob/Mail"`}},
		{"same maildir", acct("") + strings.Replace(pop(""), "/m/pop", "/m/work/", 1),
			[]string{`config.toml:14: account "pop": maildir: "/m/work" is also the maildir of account "work" (line 1)`}},
		{"nested maildir", acct("") + strings.Replace(pop(""), "/m/pop", "/m", 1),
			[]string{`config.toml:14: account "pop": maildir: "/m" contains the maildir of account "work" (line 1)`}},
		{"bad layout", acct("layout = \"flat\"\n"),
			[]string{`config.toml:8: account "work": layout: must be "verbatim" or "maildir++", got "flat"`}},
		{"folders not array", acct("folders = \"*\"\n"),
			[]string{`config.toml:8: account "work": folders: must be an array of strings, got "*"`}},
		{"folders wrong element", acct("folders = [\"*\", 1]\n"),
			[]string{`config.toml:8: account "work": folders: must be an array of strings, got ["*", 1]`}},
		{"empty pattern", acct("folders = [\"*\", \"!\"]\nidle_folders = [\"\"]\n"), []string{
			`config.toml:8: account "work": folders: empty pattern, got "!"`,
			`config.toml:9: account "work": idle_folders: empty pattern, got ""`,
		}},
		{"poll negative", acct("poll_interval = \"-5s\"\n"),
			[]string{`config.toml:8: account "work": poll_interval: must be positive, got "-5s"`}},
		{"poll zero", acct("poll_interval = \"0\"\n"),
			[]string{`config.toml:8: account "work": poll_interval: must be positive, got "0"`}},
		{"poll garbage", acct("poll_interval = \"5 min\"\n"),
			[]string{`config.toml:8: account "work": poll_interval: must be a duration such as "90s", "5m" or "14d", got "5 min"`}},
		{"poll integer", acct("poll_interval = 300\n"),
			[]string{`config.toml:8: account "work": poll_interval: must be a duration such as "90s", "5m" or "14d", got 300`}},
		{"max_connections low", acct("max_connections = 0\n"),
			[]string{`config.toml:8: account "work": max_connections: must be between 1 and 64, got 0`}},
		{"max_connections high", acct("max_connections = 65\n"),
			[]string{`config.toml:8: account "work": max_connections: must be between 1 and 64, got 65`}},
		{"bad delete_mode", acct("delete_mode = \"move\"\n"),
			[]string{`config.toml:8: account "work": delete_mode: must be "expunge" or "trash", got "move"`}},
		{"on_new_mail type", acct("on_new_mail = [\"notmuch\", \"new\"]\n"),
			[]string{`config.toml:8: account "work": on_new_mail: must be a string, got ["notmuch", "new"]`}},
		{"pop3 keys on imap", acct("leave_on_server = true\ndelete_after = \"1d\"\ndelete_when_deleted_locally = true\nfolder = \"INBOX\"\n"), []string{
			`config.toml:8: account "work": leave_on_server: not valid for protocol "imap"`,
			`config.toml:9: account "work": delete_after: not valid for protocol "imap"`,
			`config.toml:10: account "work": delete_when_deleted_locally: not valid for protocol "imap"`,
			`config.toml:11: account "work": folder: not valid for protocol "imap"`,
		}},
		{"imap keys on pop3", pop("folders = [\"*\"]\nidle_folders = [\"INBOX\"]\nmax_connections = 2\ndelete_mode = \"trash\"\n"), []string{
			`config.toml:8: account "pop": folders: not valid for protocol "pop3"`,
			`config.toml:9: account "pop": idle_folders: not valid for protocol "pop3"`,
			`config.toml:10: account "pop": max_connections: not valid for protocol "pop3"`,
			`config.toml:11: account "pop": delete_mode: not valid for protocol "pop3"`,
		}},
		{"delete_after negative", pop("delete_after = \"-1d\"\n"),
			[]string{`config.toml:8: account "pop": delete_after: must not be negative, got "-1d"`}},
		{"delete_after without leave_on_server", pop("leave_on_server = false\ndelete_after = \"14d\"\ndelete_when_deleted_locally = true\n"), []string{
			`config.toml:9: account "pop": delete_after: has no effect with leave_on_server = false, which deletes each message from the server right after download`,
			`config.toml:10: account "pop": delete_when_deleted_locally: has no effect with leave_on_server = false, which deletes each message from the server right after download`,
		}},
		{"leave_on_server type", pop("leave_on_server = \"no\"\n"),
			[]string{`config.toml:8: account "pop": leave_on_server: must be true or false, got "no"`}},
		{"bad folder", pop("folder = \"../etc\"\n"),
			[]string{`config.toml:8: account "pop": folder: must be a folder name such as "INBOX" or "Lists/golang" (no empty, "." or ".." parts), got "../etc"`}},
		{"absolute folder", pop("folder = \"/etc\"\n"),
			[]string{`config.toml:8: account "pop": folder: must be a folder name, not an absolute path, got "/etc"`}},
		{"bad log_level", "log_level = \"verbose\"\nlog_format = \"xml\"\nstate_dir = \"$MM_UNSET_VAR\"\n", []string{
			`config.toml:1: log_level: must be "debug", "info", "warn" or "error", got "verbose"`,
			`config.toml:2: log_format: must be "text" or "json", got "xml"`,
			`config.toml:3: state_dir: environment variable $MM_UNSET_VAR is not set, got "$MM_UNSET_VAR"`,
		}},
		{"log_level type", "log_level = 3\n",
			[]string{`config.toml:1: log_level: must be a string, got 3`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := parseErrors(t, tc.text)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestSyntaxErrorHidesPassword checks that a TOML syntax error in a
// password line does not quote the password.
func TestSyntaxErrorHidesPassword(t *testing.T) {
	hidden := `syntax error in a password line (details not shown, they would show the password); write it as password = "..."`
	for _, tc := range []struct{ text, want string }{
		{"[[account]]\nname = \"a\"\npassword = hunter2\n", "config.toml:3: invalid TOML: " + hidden},
		{"[[account]]\n  \"password\" = hunter2xx # x\n", "config.toml:2: invalid TOML: " + hidden},
		{"[[account]]\npassword = \"\"\"hunter2\n", "config.toml:2: invalid TOML: " + hidden},
		{"log_level = loud\n", "config.toml:1: invalid TOML: expected value but found \"loud\" instead"},
	} {
		got := parseErrors(t, tc.text)
		if len(got) != 1 || got[0] != tc.want {
			t.Errorf("%q: %q, want %q", tc.text, got, tc.want)
		}
		if strings.Contains(strings.Join(got, ""), "hunter") {
			t.Errorf("password shown: %q", got)
		}
	}
}

func TestAllowedInsecureAndLoopback(t *testing.T) {
	setHome(t)
	for _, host := range []string{"localhost", "LOCALHOST", "127.0.0.1", "127.1.2.3", "::1"} {
		mustParse(t, "[[account]]\nname = \"a\"\nprotocol = \"imap\"\ntls = \"none\"\nhost = \""+host+"\"\nusername = \"u\"\npassword_env = \"P\"\nmaildir = \"/m\"\n")
	}
	c := mustParse(t, "[[account]]\nname = \"a\"\nprotocol = \"imap\"\ntls = \"none\"\nallow_insecure = true\nhost = \"imap.example.com\"\nusername = \"u\"\npassword_env = \"P\"\nmaildir = \"/m\"\n")
	if tc, err := c.Accounts[0].TLSConfig(); tc != nil || err != nil {
		t.Errorf("TLSConfig for tls=none = %v, %v; want nil, nil", tc, err)
	}
	for _, host := range []string{"128.0.0.1", "localhost.example.com", "::2", "10.0.0.1"} {
		got := parseErrors(t, "[[account]]\nname = \"a\"\nprotocol = \"imap\"\ntls = \"none\"\nhost = \""+host+"\"\nusername = \"u\"\npassword_env = \"P\"\nmaildir = \"/m\"\n")
		if len(got) != 1 || !strings.Contains(got[0], `config.toml:4: account "a": tls: "none" is refused for host "`+host+`"`) {
			t.Errorf("host %s: %q", host, got)
		}
	}
}

// TestManyErrorsAllReported checks that problems in several accounts and at
// the top level all come out, in line order.
func TestManyErrorsAllReported(t *testing.T) {
	setHome(t)
	got := parseErrors(t, `log_level = "loud"

[[account]]
name = "work"
protocol = "imap"
host = "imap.example.com"
username = "u"
password_command = "pass work"
maildir = "~/Mail/work"
poll_interval = "-5s"
pasword = "oops"

[[account]]
name = "pop"
protocol = "pop3"
host = "pop.example.com"
username = "u"
password_env = "POP"
maildir = "~/Mail/pop"
idle_folders = ["INBOX"]
`)
	want := []string{
		`config.toml:1: log_level: must be "debug", "info", "warn" or "error", got "loud"`,
		`config.toml:10: account "work": poll_interval: must be positive, got "-5s"`,
		`config.toml:11: account "work": unknown key "pasword"; did you mean password?`,
		`config.toml:20: account "pop": idle_folders: not valid for protocol "pop3"`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestLinesAfterMultilineValues checks line numbers after values that span
// lines (arrays, multi-line strings holding "key =" and brackets).
func TestLinesAfterMultilineValues(t *testing.T) {
	setHome(t)
	got := parseErrors(t, `# comment with [[account]] and key = 1
[[account]] # first
name = "work"
protocol = "imap"
host = "imap.example.com"
folders = [
  "INBOX",   # inbox [
  "Lists/*",
]
on_new_mail = """
pasword = "not a key"
[[account]]
"""
on_new_mail2 = '''
]]]'''
username = "u"
'password_env' = "P"
maildir = "/m"
"poll_interval" = "-1s"

[[ account ]]
name = "b"
`)
	want := []string{
		`config.toml:14: account "work": unknown key "on_new_mail2"; did you mean on_new_mail?`,
		`config.toml:19: account "work": poll_interval: must be positive, got "-1s"`,
		`config.toml:21: account "b": protocol: required`,
		`config.toml:21: account "b": host: required`,
		`config.toml:21: account "b": username: required`,
		`config.toml:21: account "b": one of password, password_command or password_env is required`,
		`config.toml:21: account "b": maildir: required`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestRelativePaths(t *testing.T) {
	setHome(t)
	text := strings.Replace(minimalIMAP, `"~/Mail/work"`, `"mail/../Mail/work"`, 1) + `tls_ca_file = "ca.pem"` + "\n"
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), readFile(t, writeCA(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Parse([]byte("state_dir = \"st\"\n"+text), filepath.Join(dir, "config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "Mail", "work"); c.Accounts[0].Maildir != want {
		t.Errorf("Maildir = %q, want %q", c.Accounts[0].Maildir, want)
	}
	if want := filepath.Join(dir, "ca.pem"); c.Accounts[0].TLSCAFile != want {
		t.Errorf("TLSCAFile = %q, want %q", c.Accounts[0].TLSCAFile, want)
	}
	if want := filepath.Join(dir, "st"); c.StateDir != want {
		t.Errorf("StateDir = %q, want %q", c.StateDir, want)
	}
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
