package importer

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const mbsyncrc = `# mbsync configuration: work (IMAPS), home (STARTTLS, several channels), isp
Create Both
Expunge Both
SyncState *

IMAPAccount work
Host imap.work.example.com
Port 993
User jane.doe@work.example.com
PassCmd "pass show mail/work"
TLSType IMAPS
CertificateFile @CA@
AuthMechs LOGIN
PipelineDepth 50

IMAPStore work-remote
Account work

MaildirStore work-local
Path ~/Mail/work/
Inbox ~/Mail/work/INBOX
SubFolders Verbatim

Channel work
Far :work-remote:
Near :work-local:
Patterns * !Spam !"Deleted Items" !Lists/*
Create Both
Sync All

IMAPAccount home
Host mail.home.example.org
User jane
PassCmd "+gpg -q --for-your-eyes-only --no-tty -d ~/.mailpass.gpg"
SSLType STARTTLS
SSLVersions TLSv1.2

IMAPStore home-remote
Account home
Trash Trash

MaildirStore home-local
Path ~/Mail/home/
Inbox ~/Mail/home/INBOX
SubFolders Verbatim
Flatten .

Channel home-inbox
Far :home-remote:
Near :home-local:
Patterns INBOX Sent "Sent Items"

Channel home-archive
Far :home-remote:Archive/
Near :home-local:Archive/
Patterns * !Old

Channel home-sent
Far :home-remote:"[Gmail]/Sent Mail"
Near :home-local:Sent

IMAPStore isp-remote
Host imap.isp.example.net
User me@isp.example.net
Pass "p@ss \"word\""

MaildirStore isp-local
Path /srv/mail/isp/
Inbox /srv/mail/isp/INBOX

Channel isp
Master :isp-remote:
Slave :isp-local:
Patterns %
MaxMessages 1000

IMAPStore unused-remote
Host imap.unused.example.com

Group all
Channel work
Channel home-inbox
Channels home-archive isp
`

func TestMBSyncMultiAccount(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	ca := writeCA(t)
	src := strings.ReplaceAll(mbsyncrc, "@CA@", ca)
	r, err := MBSync([]byte(src), "/home/jane/.mbsyncrc")
	if err != nil {
		t.Fatal(err)
	}
	c := parseOutput(t, r)
	if !sameStrings(r.Accounts, []string{"work", "home", "isp-remote"}) {
		t.Fatalf("accounts %q", r.Accounts)
	}

	work := c.Account("work")
	if work.Host != "imap.work.example.com" || work.Port != 993 || work.TLS != "implicit" || work.TLSCAFile != ca ||
		work.Username != "jane.doe@work.example.com" || work.PasswordCommand != "pass show mail/work" ||
		work.Maildir != filepath.Join(home, "Mail", "work") || work.Layout != "verbatim" ||
		!sameStrings(work.Folders, []string{"*", "!Spam", "!Deleted Items", "!Lists/*"}) || work.DeleteMode != "expunge" {
		t.Errorf("work = %+v", *work)
	}
	for name, want := range map[string]bool{"INBOX": true, "Archive": true, "Spam": false, "Deleted Items": false, "Lists/golang": false} {
		if work.MatchFolder(name) != want {
			t.Errorf("work.MatchFolder(%q) = %v", name, !want)
		}
	}

	h := c.Account("home")
	if h.Host != "mail.home.example.org" || h.Port != 143 || h.TLS != "starttls" || h.Username != "jane" ||
		h.PasswordCommand != "gpg -q --for-your-eyes-only --no-tty -d ~/.mailpass.gpg" ||
		h.Maildir != filepath.Join(home, "Mail", "home") || h.DeleteMode != "trash" ||
		!sameStrings(h.Folders, []string{"INBOX", "Sent", "Sent Items", "Archive/*", "!Archive/Old"}) {
		t.Errorf("home = %+v", *h)
	}

	isp := c.Account("isp-remote")
	if isp.Host != "imap.isp.example.net" || isp.TLS != "starttls" || isp.Port != 143 || isp.Password.Reveal() != `p@ss "word"` ||
		isp.Maildir != "/srv/mail/isp" || !sameStrings(isp.Folders, []string{"%"}) || isp.PollInterval != 2*time.Minute {
		t.Errorf("isp = %+v", *isp)
	}

	checkNothingDropped(t, src, r, []string{
		"IMAPAccount work", "Host imap.work.example.com", "Port 993", "User jane.doe@work.example.com",
		`PassCmd "pass show mail/work"`, "TLSType IMAPS", "CertificateFile " + ca,
		"IMAPStore work-remote", "Account work", "MaildirStore work-local", "Path ~/Mail/work/",
		"Inbox ~/Mail/work/INBOX", "SubFolders Verbatim", "Channel work", "Far :work-remote:", "Near :work-local:",
		`Patterns * !Spam !"Deleted Items" !Lists/*`,
		"IMAPAccount home", "Host mail.home.example.org", "User jane",
		`PassCmd "+gpg -q --for-your-eyes-only --no-tty -d ~/.mailpass.gpg"`, "SSLType STARTTLS",
		"IMAPStore home-remote", "Account home", "Trash Trash", "MaildirStore home-local", "Path ~/Mail/home/",
		"Inbox ~/Mail/home/INBOX", "Channel home-inbox", "Far :home-remote:", "Near :home-local:",
		`Patterns INBOX Sent "Sent Items"`, "Channel home-archive", "Far :home-remote:Archive/",
		"Near :home-local:Archive/", "Patterns * !Old", "Channel home-sent",
		"IMAPStore isp-remote", "Host imap.isp.example.net", "User me@isp.example.net", `Pass "p@ss \"word\""`,
		"MaildirStore isp-local", "Path /srv/mail/isp/", "Inbox /srv/mail/isp/INBOX", "Channel isp",
		"Master :isp-remote:", "Slave :isp-local:", "Patterns %",
		"Create Both", "Expunge Both", "Sync All",
	})

	assertContains(t, r.TOML,
		"# not translated: AuthMechs LOGIN  # no equivalent: mailmirror chooses the authentication mechanism itself\n",
		`# not translated: Far :home-remote:"[Gmail]/Sent Mail"  # no equivalent: mailmirror uses the same folder names on both sides, this Channel maps "[Gmail]/Sent Mail" to "Sent"`+"\n",
		"# not translated: Flatten .  # no equivalent: mailmirror stores the folder hierarchy as directories (see layout)\n",
		"# REFUSED: MaxMessages 1000  # mbsync kept only the newest messages",
		"# not translated: IMAPStore unused-remote  # IMAPStore unused-remote is not used by any Channel between an IMAP and a Maildir store\n",
		"# not translated: Group all  # no equivalent: mailmirror has no groups, it syncs every account\n",
		fmt.Sprintf(`# note: PassCmd on line %d started with "+"`, lineOf(t, src, `PassCmd "+gpg -q --for-your-eyes-only --no-tty -d ~/.mailpass.gpg"`)),
		"# note: folders merges the patterns of 2 channels",
		fmt.Sprintf("# WARNING: plaintext password from line %d.", lineOf(t, src, `Pass "p@ss \"word\""`)),
	)
	if len(r.Warnings) != 1 || !strings.Contains(r.Warnings[0], `account "isp-remote": plaintext password`) {
		t.Errorf("warnings %q", r.Warnings)
	}
	// The password is in the TOML (that is the translation), and nowhere else.
	for _, n := range append(r.NotTranslated, r.Warnings...) {
		if strings.Contains(n, "p@ss") {
			t.Errorf("password in %q", n)
		}
	}
}

func TestMBSyncDetails(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	for _, tc := range []struct {
		name, src string
		want      []string // substrings of the output
		invalid   bool     // the output lacks something config requires
	}{
		{"old SSLType IMAPS and Maildir++",
			"IMAPAccount a\nHost h.example.com\nUser u\nPassCmd \"pass a\"\nSSLType IMAPS\n\nIMAPStore a-r\nAccount a\n\nMaildirStore a-l\nInbox ~/Maildir/a\nSubFolders Maildir++\n\nChannel a\nFar :a-r:\nNear :a-l:\nPatterns *\n",
			[]string{"tls = \"implicit\"\n", "maildir = \"~/Maildir/a\"\nlayout = \"maildir++\"\n", "folders = [\"*\"]\n"}, false},
		{"no SSLType on port 993 means IMAPS",
			"IMAPStore r\nHost h.example.com\nPort 993\nUser u\nPassCmd p\n\nMaildirStore l\nPath ~/M/\nInbox ~/M/INBOX\n\nChannel c\nFar :r:\nNear :l:\n",
			[]string{"port = 993\ntls = \"implicit\"\n", "folders = [\"INBOX\"]\n"}, false},
		{"TLS none to a remote host",
			"IMAPStore r\nHost imap.example.com\nUser u\nPassCmd p\nSSLType None\n\nMaildirStore l\nPath ~/M/\nInbox ~/M/INBOX\n\nChannel c\nFar :r:\nNear :l:\nPatterns *\n",
			[]string{"tls = \"none\"\n# WARNING: the mbsync config used no TLS (line 5: SSLType None)", "allow_insecure = true\n"}, false},
		{"Legacy layout and misplaced Inbox",
			"IMAPStore r\nHost h\nUser u\nPassCmd p\n\nMaildirStore l\nPath ~/M/\nInbox ~/Maildir\nSubFolders Legacy\n\nChannel c\nFar :r:\nNear :l:\nPatterns *\n",
			[]string{"# not translated: SubFolders Legacy  # no equivalent: mbsync's Legacy layout",
				"# note: mbsync kept INBOX in ~/Maildir (Inbox ~/Maildir); mailmirror keeps it in ~/M/INBOX"}, false},
		{"interactive password and UserCmd, Tunnel",
			"IMAPStore r\nHost h.example.com\nUserCmd \"echo u\"\nTunnel \"ssh h imapd\"\n\nMaildirStore l\nPath ~/M/\nInbox ~/M/INBOX\n\nChannel c\nFar :r:\nNear :l:\nPatterns *\n",
			[]string{"password_env = \"MAILMIRROR_PASSWORD_R\"\n", "# not translated: UserCmd \"echo u\"  # no equivalent",
				"# not translated: Tunnel \"ssh h imapd\"  # no equivalent: mailmirror connects over TCP"}, true},
		{"pattern override order",
			"IMAPStore r\nHost h\nUser u\nPassCmd p\n\nMaildirStore l\nPath ~/M/\nInbox ~/M/INBOX\n\nChannel c\nFar :r:\nNear :l:\nPattern *\nPattern !Lists/*\nPattern Lists/golang\n",
			[]string{"folders = [\"*\", \"!Lists/*\", \"Lists/golang\"]\n",
				`# note: in Channel c, mbsync let the later pattern "Lists/golang" override "!Lists/*"`}, false},
		{"IMAP to IMAP channel",
			"IMAPStore a\nHost a\n\nIMAPStore b\nHost b\n\nChannel c\nFar :a:\nNear :b:\n",
			[]string{"# not translated: Channel c  # a mailmirror account connects an IMAP store with a Maildir store; this Channel does not\n",
				"# No account could be translated.\n"}, false},
		{"unreadable line",
			"IMAPStore r\nHost h\nUser u\nPassCmd \"unterminated\n\nMaildirStore l\nPath ~/M/\nInbox ~/M/INBOX\n\nChannel c\nFar :r:\nNear :l:\n",
			[]string{"# not translated: PassCmd \"unterminated  # cannot be read: missing closing quote\n"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := MBSync([]byte(tc.src), "rc")
			if err != nil {
				t.Fatal(err)
			}
			assertContains(t, r.TOML, tc.want...)
			if len(r.Accounts) > 0 && !tc.invalid {
				parseOutput(t, r)
			}
			checkNothingDropped(t, tc.src, r, translatedLines(tc.src, r.TOML))
		})
	}
	if _, err := MBSync([]byte("Host\x00"), "rc"); err == nil {
		t.Errorf("binary input accepted")
	}
}

// translatedLines returns the lines of src not commented in out: the
// nothing-dropped check then only verifies that those comments are listed.
func translatedLines(src, out string) []string {
	var l []string
	seen := map[string]bool{}
	for _, s := range strings.Split(src, "\n") {
		s = strings.TrimSpace(s)
		if s == "" || s[0] == '#' || seen[s] {
			continue
		}
		seen[s] = true
		if !strings.Contains(out, "# not translated: "+s) {
			l = append(l, s)
		}
	}
	return l
}

func TestMBArgs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		bad  string
	}{
		{`a b  c`, []string{"a", "b", "c"}, ""},
		{`"Sent Items" !"Deleted Items"`, []string{"Sent Items", "!Deleted Items"}, ""},
		{`"pass show \"x\""`, []string{`pass show "x"`}, ""},
		{`a\ b c`, []string{"a b", "c"}, ""},
		{`x # comment`, []string{"x"}, ""},
		{`"open`, nil, "missing closing quote"},
		{`x\`, nil, "unterminated escape sequence"},
	} {
		got, bad := mbArgs(tc.in)
		if bad != tc.bad || (tc.bad == "" && !sameStrings(got, tc.want)) {
			t.Errorf("mbArgs(%q) = %q, %q; want %q, %q", tc.in, got, bad, tc.want, tc.bad)
		}
	}
}
