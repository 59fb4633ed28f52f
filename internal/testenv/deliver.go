package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// Deliver puts many messages into a folder at once, far faster than
// Append: it writes them as files into Dovecot's own Maildir (as a local
// delivery agent would), seen ones into cur/ with the S flag, the others
// into new/; Dovecot gives them UIDs at the next SELECT. Messages keep
// the line ends they have. The folder must exist (INBOX always does).
func (u *User) Deliver(t testing.TB, folder string, msgs [][]byte, seen func(i int) bool) {
	t.Helper()
	// A STATUS makes Dovecot create the folder's directories.
	u.do(t, fmt.Sprintf("status %q", folder), func(c *imapclient.Client) error {
		_, err := c.Status(folder, &imap.StatusOptions{NumMessages: true}).Wait()
		return err
	})
	dir := filepath.Join(u.d.MailDir, u.Name)
	if folder != "INBOX" {
		dir = filepath.Join(dir, filepath.FromSlash(folder))
	}
	for i, m := range msgs {
		name := fmt.Sprintf("%d.M%dP%d.testenv", 1700000000+i, i, os.Getpid())
		tmp := filepath.Join(dir, "tmp", name)
		if err := os.WriteFile(tmp, m, 0o600); err != nil {
			t.Fatalf("deliver: %v", err)
		}
		if o := u.d.mailOwner; o != nil {
			if err := os.Chown(tmp, o.uid, o.gid); err != nil {
				t.Fatalf("deliver: %v", err)
			}
		}
		dst := filepath.Join(dir, "new", name)
		if seen != nil && seen(i) {
			dst = filepath.Join(dir, "cur", name+":2,S")
		}
		if err := os.Rename(tmp, dst); err != nil {
			t.Fatalf("deliver: %v", err)
		}
	}
}
