package importer

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const offlineimaprc = `# OfflineIMAP: Work (IMAPS), Personal (STARTTLS), Gmail
[general]
accounts = Work, Personal, Gmail
maxsyncaccounts = 3
pythonfile = ~/.offlineimap.py
metadata = ~/.offlineimap
ui = basic

[DEFAULT]
mailroot = ~/Mail
unusedvar = 1

[Account Work]
localrepository = WorkLocal
remoterepository = WorkRemote
autorefresh = 2.5
quick = 10
postsynchook = notmuch new
maxage = 30

[Repository WorkLocal]
type = Maildir
localfolders = %(mailroot)s/work
sep = /

[Repository WorkRemote]
type = IMAP
remotehost = imap.work.example.com
remoteport = 993
remoteuser = jane.doe@work.example.com
remotepasseval = subprocess.check_output(["pass", "show", "mail/work"]).decode().strip()
ssl = yes
sslcacertfile = @CA@
folderfilter = lambda folder: folder not in ['Spam',
                                             'Trash',
                                             'INBOX.Junk']
idlefolders = ['INBOX', 'Lists/golang']
maxconnections = 3
nametrans = lambda f: f.replace('INBOX.', '')
cert_fingerprint = 0123456789abcdef

[Account Personal]
localrepository = PersonalLocal
remoterepository = PersonalRemote

[Repository PersonalLocal]
type = Maildir
localfolders = ~/Mail/personal

[Repository PersonalRemote]
type = IMAP
remotehost = mail.example.org
remoteuser = jane
remotepass = s3cr%%et
ssl = no
starttls = yes
folderfilter = lambda foldername: foldername in ["INBOX", "Sent", "Archive/2024"]
holdconnectionopen = yes
keepalive = 60

[Account Gmail]
localrepository = GmailLocal
remoterepository = GmailRemote
synclabels = yes

[Repository GmailLocal]
type = GmailMaildir
localfolders = ~/Mail/gmail

[Repository GmailRemote]
type = Gmail
remoteuser = jane@gmail.com
remotepasseval = get_pass("gmail")
sslcacertfile = OS-DEFAULT
folderfilter = lambda f: re.search('^INBOX$', f)
realdelete = no

[Account Old]
localrepository = PersonalLocal
remoterepository = PersonalRemote

[Repository Unused]
type = IMAP
remotehost = old.example.com

[mbnames]
enabled = yes
filename = ~/.mutt/mailboxes
header = "mailboxes "
`

func TestOfflineIMAPMultiAccount(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	ca := writeCA(t)
	src := strings.ReplaceAll(offlineimaprc, "@CA@", ca)
	r, err := OfflineIMAP([]byte(src), "/home/jane/.offlineimaprc")
	if err != nil {
		t.Fatal(err)
	}
	c := parseOutput(t, r)
	if !sameStrings(r.Accounts, []string{"Work", "Personal", "Gmail"}) {
		t.Fatalf("accounts %q", r.Accounts)
	}
	w := c.Account("Work")
	if w.Host != "imap.work.example.com" || w.Port != 993 || w.TLS != "implicit" || w.TLSCAFile != ca ||
		w.Username != "jane.doe@work.example.com" || w.PasswordCommand != "pass show mail/work" ||
		w.Maildir != filepath.Join(home, "Mail", "work") || w.Layout != "verbatim" ||
		!sameStrings(w.Folders, []string{"*", "!Spam", "!Trash", "!Junk"}) ||
		!sameStrings(w.IdleFolders, []string{"INBOX", "Lists/golang"}) ||
		w.MaxConnections != 3 || w.PollInterval != 150*time.Second || w.OnNewMail != "notmuch new" {
		t.Errorf("Work = %+v", *w)
	}
	p := c.Account("Personal")
	if p.Host != "mail.example.org" || p.Port != 143 || p.TLS != "starttls" || p.Username != "jane" ||
		p.Password.Reveal() != "s3cr%et" || p.Maildir != filepath.Join(home, "Mail", "personal") ||
		!sameStrings(p.Folders, []string{"INBOX", "Sent", "Archive/2024"}) || p.PollInterval != 2*time.Minute {
		t.Errorf("Personal = %+v", *p)
	}
	g := c.Account("Gmail")
	if g.Host != "imap.gmail.com" || g.Port != 993 || g.TLS != "implicit" || g.Username != "jane@gmail.com" ||
		g.PasswordEnv != "MAILMIRROR_PASSWORD_GMAIL" || len(g.Folders) != 0 {
		t.Errorf("Gmail = %+v", *g)
	}

	checkNothingDropped(t, src, r, []string{
		"[general]", "accounts = Work, Personal, Gmail", "[DEFAULT]", "mailroot = ~/Mail",
		"[Account Work]", "localrepository = WorkLocal", "remoterepository = WorkRemote", "autorefresh = 2.5",
		"postsynchook = notmuch new", "[Repository WorkLocal]", "type = Maildir", "localfolders = %(mailroot)s/work",
		"sep = /", "[Repository WorkRemote]", "type = IMAP", "remotehost = imap.work.example.com", "remoteport = 993",
		"remoteuser = jane.doe@work.example.com",
		`remotepasseval = subprocess.check_output(["pass", "show", "mail/work"]).decode().strip()`,
		"ssl = yes", "sslcacertfile = " + ca, "folderfilter = lambda folder: folder not in ['Spam',",
		"'Trash',", "'INBOX.Junk']", "idlefolders = ['INBOX', 'Lists/golang']", "maxconnections = 3",
		"[Account Personal]", "localrepository = PersonalLocal", "remoterepository = PersonalRemote",
		"[Repository PersonalLocal]", "localfolders = ~/Mail/personal", "[Repository PersonalRemote]",
		"remotehost = mail.example.org", "remoteuser = jane", "remotepass = s3cr%%et", "ssl = no", "starttls = yes",
		`folderfilter = lambda foldername: foldername in ["INBOX", "Sent", "Archive/2024"]`,
		"[Account Gmail]", "localrepository = GmailLocal", "remoterepository = GmailRemote",
		"[Repository GmailLocal]", "type = GmailMaildir", "localfolders = ~/Mail/gmail",
		"[Repository GmailRemote]", "type = Gmail", "remoteuser = jane@gmail.com", "sslcacertfile = OS-DEFAULT",
		"maxage = 30",
	})
	assertContains(t, r.TOML,
		"# not translated: pythonfile = ~/.offlineimap.py  # no equivalent: mailmirror runs no Python",
		"# not translated: unusedvar = 1  # [DEFAULT] value not used by a translated setting\n",
		"# not translated: quick = 10  # not needed: mailmirror asks the server only for what changed\n",
		"max_age = \"30d\"\n",
		"# not translated: nametrans = lambda f: f.replace('INBOX.', '')  # no equivalent",
		"# not translated: cert_fingerprint = 0123456789abcdef  # no equivalent: mailmirror verifies certificates against CAs",
		"# not translated: holdconnectionopen = yes  # not needed",
		`# not translated: remotepasseval = get_pass("gmail")  # calls Python code`,
		"# not translated: folderfilter = lambda f: re.search('^INBOX$', f)  # only \"lambda f: f in [...]\"",
		fmt.Sprintf("# folderfilter (line %d) could not be translated: list the folders to sync\nfolders = []\n", lineOf(t, src, "folderfilter = lambda f: re.search('^INBOX$', f)")),
		"# not translated: [Account Old]  # account not listed in [general] accounts",
		"# not translated: [Repository Unused]  # repository not used by a translated account\n",
		"# not translated: [mbnames]  # no equivalent: mailmirror writes no mailbox list",
		`# note: "INBOX.Junk" became "Junk"`,
		"# note: OfflineIMAP stored subfolders as Parent.Child directories (sep defaults to \".\")",
		fmt.Sprintf("# WARNING: plaintext password from line %d.", lineOf(t, src, "remotepass = s3cr%%et")),
		"# from postsynchook (line 18): OfflineIMAP ran it after every sync",
	)
	if len(r.Warnings) != 2 {
		t.Errorf("warnings %q", r.Warnings)
	}
}

func TestOfflineIMAPDetails(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	base := "[general]\naccounts = A\n[Account A]\nlocalrepository = L\nremoterepository = R\n[Repository L]\ntype = Maildir\nlocalfolders = ~/M\nsep = /\n[Repository R]\ntype = IMAP\nremotehost = imap.example.com\nremoteuser = u\n"
	for _, tc := range []struct {
		name, extra string
		want        []string
		invalid     bool
	}{
		{"defaults: ssl", "remotepasseval = os.environ['IMAP_PW']\n",
			[]string{"tls = \"implicit\"\n", "password_env = \"IMAP_PW\"\n", "folders = [\"*\"]\n"}, false},
		{"no TLS at all", "ssl = no\nstarttls = no\nremotepassfile = ~/.imappass\n",
			[]string{"tls = \"none\"\n", "allow_insecure = true\n", `password_command = "cat \"$HOME\"/\".imappass\""`}, false},
		{"popen", "remotepasseval = os.popen('gpg -dq ~/.pw.gpg').read().strip()\n",
			[]string{`password_command = "gpg -dq ~/.pw.gpg"` + "\n"}, false},
		{"readonly", "remotepass = x\nreadonly = True\n",
			[]string{"direction = \"pull\"\n", "# from readonly (line"}, false},
		{"remote Maildir", "", nil, false},
		{"interpolation and literal evals", "remoteusereval = \"jane\"\nremoteporteval = \"1993\"\nremotepass = %(remoteuser)s-pw\n",
			[]string{"username = \"jane\"\n", "port = 1993\n", "password = \"u-pw\"\n"}, false},
		{"autorefresh in hours", "remotepass = x\n", []string{"poll_interval = \"1h\"\n"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := base + tc.extra
			switch tc.name {
			case "remote Maildir":
				src = strings.Replace(src, "type = IMAP", "type = Maildir", 1)
				tc.want = []string{"# not translated: [Account A]  # account not translated: mailmirror syncs an IMAP server; the remote repository has type \"maildir\"\n",
					"# not translated: [Repository R]  # repository not used by a translated account\n", "# No account could be translated.\n"}
			case "autorefresh in hours":
				src = strings.Replace(src, "remoterepository = R\n", "remoterepository = R\nautorefresh = 60\n", 1)
			}
			r, err := OfflineIMAP([]byte(src), "rc")
			if err != nil {
				t.Fatal(err)
			}
			assertContains(t, r.TOML, tc.want...)
			if len(r.Accounts) > 0 && !tc.invalid {
				parseOutput(t, r)
			}
			checkNothingDropped(t, src, r, translatedLines(src, r.TOML))
		})
	}
}

func TestPyPassword(t *testing.T) {
	for _, tc := range []struct {
		in, kind, value string
	}{
		{`"secret"`, "literal", "secret"},
		{`'it\'s'`, "literal", "it's"},
		{`os.getenv("PW")`, "env", "PW"},
		{`os.environ.get('PW')`, "env", "PW"},
		{`os.environ["PW"]`, "env", "PW"},
		{`subprocess.check_output("pass show x", shell=True).strip()`, "command", "pass show x"},
		{`subprocess.check_output(["pass", "show", "my mail"]).decode("utf-8").rstrip("\n")`, "command", "pass show 'my mail'"},
		{`subprocess.check_output(['gpg', '-dq', '/p.gpg'], universal_newlines=True).splitlines()[0]`, "command", "gpg -dq /p.gpg"},
		{`subprocess.run(["pass", "x"], capture_output=True, text=True).stdout.strip()`, "command", "pass x"},
		{`subprocess.getoutput("pass x")`, "command", "pass x"},
		{`os.popen("pass x").read().strip()`, "command", "pass x"},
		{`get_pass("x")`, "", ""},
		{`subprocess.run(["pass", "x"]).stdout`, "", ""},
		{`subprocess.check_output(cmd)`, "", ""},
		{`keyring.get_password("imap", "me")`, "", ""},
		{`os.popen(["pass"]).read()`, "", ""},
		{`"a" + "b"`, "", ""},
	} {
		kind, value, ok := pyPassword(tc.in)
		if ok != (tc.kind != "") || kind != tc.kind || value != tc.value {
			t.Errorf("pyPassword(%q) = %q, %q, %v; want %q, %q", tc.in, kind, value, ok, tc.kind, tc.value)
		}
	}
}

func TestPyFolderFilter(t *testing.T) {
	for _, tc := range []struct {
		in      string
		names   []string
		exclude bool
		ok      bool
	}{
		{`lambda folder: folder in ['INBOX', 'Sent']`, []string{"INBOX", "Sent"}, false, true},
		{`lambda f: f not in ["Trash", "Spam",]`, []string{"Trash", "Spam"}, true, true},
		{"lambda f: f in [\n  'INBOX',\n  'Sent Mail']", []string{"INBOX", "Sent Mail"}, false, true},
		{`lambda f: f in ('INBOX',)`, []string{"INBOX"}, false, true},
		{`lambda f: f in 'INBOX'`, nil, false, false},
		{`lambda f: g in ['INBOX']`, nil, false, false},
		{`lambda f: not re.search('Trash', f)`, nil, false, false},
		{`lambda f: f in ['INBOX'] or f.startswith('Lists')`, nil, false, false},
	} {
		names, exclude, ok := pyFolderFilter(tc.in)
		if ok != tc.ok || exclude != tc.exclude || !sameStrings(names, tc.names) {
			t.Errorf("pyFolderFilter(%q) = %q, %v, %v", tc.in, names, exclude, ok)
		}
	}
}

func TestTOMLString(t *testing.T) {
	for in, want := range map[string]string{
		`plain`: `"plain"`, `a"b\c`: `"a\"b\\c"`, "tab\tnl\n": `"tab\tnl\n"`, "bell\a": `"bell\u0007"`, "é": `"é"`,
	} {
		if got := tomlString(in); got != want {
			t.Errorf("tomlString(%q) = %s, want %s", in, got, want)
		}
	}
}
