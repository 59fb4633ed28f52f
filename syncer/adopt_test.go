package syncer

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
)

// seedServer puts n messages into INBOX and Archive, some seen or flagged.
func (f *fixture) seedServer(n int) {
	f.t.Helper()
	f.u.CreateFolder(f.t, "Archive")
	for i := 0; i < n; i++ {
		folder := "INBOX"
		if i%2 == 1 {
			folder = "Archive"
		}
		var flags []imap.Flag
		if i%3 != 0 {
			flags = append(flags, imap.FlagSeen)
		}
		if i%5 == 0 {
			flags = append(flags, imap.FlagFlagged)
		}
		f.u.Append(f.t, folder, f.msg(fmt.Sprintf("adopt %d", i)), flags...)
	}
}

// adopt runs the first mailmirror pass over a Maildir another tool made
// and checks that every message was paired, none transferred. sessions is
// the number of IMAP sessions of other clients that ended before.
func (f *fixture) adopt(n, sessions int) {
	f.t.Helper()
	f.acct.MaxConnections = 1
	before := f.bodyFetches(sessions)
	st := f.sync()
	if st.Paired != n || st.Down.New != 0 || st.Up.New != 0 {
		f.t.Errorf("adoption: %+v, want %d paired and nothing transferred", st, n)
	}
	if got := f.bodyFetches(sessions + 1); got != before {
		f.t.Errorf("%d message bodies fetched during adoption, want 0", got-before)
	}
	f.compare()
	f.noDuplicates()
	if st := f.sync(); st.Down != (Counts{}) || st.Up != (Counts{}) || st.Paired != 0 {
		f.t.Errorf("pass after adoption: %+v", st)
	}
}

func TestAdoptMaildirMadeByMbsync(t *testing.T) {
	if _, err := exec.LookPath("mbsync"); err != nil {
		if os.Getenv("CI") == "true" || os.Getenv("MAILMIRROR_REQUIRE_DOVECOT") == "1" {
			t.Fatal("mbsync (Debian's isync) is not installed")
		}
		t.Skip("mbsync not installed")
	}
	f := newFixture(t)
	f.seedServer(30)
	rc := filepath.Join(f.dir, "mbsyncrc")
	os.WriteFile(rc, []byte(fmt.Sprintf(`IMAPAccount t
Host 127.0.0.1
Port %d
User %s
Pass %s
SSLType None
AuthMechs LOGIN

IMAPStore t-remote
Account t

MaildirStore t-local
Path %s/
Inbox %s/INBOX
SubFolders Verbatim

Channel t
Far :t-remote:
Near :t-local:
Patterns *
Create Both
SyncState *
`, f.u.Server().IMAPPort, f.u.Name, f.u.Password, f.acct.Maildir, f.acct.Maildir)), 0o600)
	out, err := exec.Command("mbsync", "-c", rc, "-a").CombinedOutput()
	if err != nil {
		t.Fatalf("mbsync: %v\n%s", err, out)
	}
	names := 0
	filepath.Walk(f.acct.Maildir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && strings.Contains(p, ",U=") {
			names++
		}
		return nil
	})
	if names != 30 {
		t.Fatalf("mbsync made %d files with ,U= names, want 30", names)
	}
	f.adopt(30, 1)
}

func TestAdoptMaildirInOfflineIMAPNaming(t *testing.T) {
	f := newFixture(t)
	f.seedServer(20)
	// Write what OfflineIMAP writes: <time>_<n>.<pid>.<host>,U=<uid>,FMD5=<md5 of folder>:2,<flags>.
	for _, folder := range []string{"INBOX", "Archive"} {
		lf, err := f.store.Folder(folder)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range f.u.Messages(t, folder) {
			raw := f.u.Raw(t, folder, m.UID)
			letters := ""
			for _, fl := range m.Flags {
				switch fl {
				case `\Seen`:
					letters += "S"
				case `\Flagged`:
					letters = "F" + letters
				}
			}
			name := fmt.Sprintf("1700000000_%d.4242.host,U=%d,FMD5=0123456789abcdef:2,%s", i, m.UID, letters)
			if err := os.WriteFile(filepath.Join(lf.Path, "cur", name), []byte(strings.ReplaceAll(string(raw), "\r\n", "\n")), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	f.adopt(20, 0)
}
