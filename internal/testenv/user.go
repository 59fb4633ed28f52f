package testenv

import (
	"cmp"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// User is an account on a test server. Its helper methods act on the server
// through a connection of their own (opened on first use, closed when the
// test ends), independent of the code under test; each fails the test on
// error.
type User struct {
	Name     string
	Password string

	d *Dovecot

	mu sync.Mutex
	c  *imapclient.Client // helper connection, nil until first use
}

// NewUser adds a fresh user with a random password. When the test ends, its
// helper connection is closed and the user and its mail are removed, unless
// the test failed or MAILMIRROR_KEEP_DOVECOT=1 (to look at them).
func (d *Dovecot) NewUser(t testing.TB) *User {
	t.Helper()
	d.mu.Lock()
	d.nextUser++
	n := d.nextUser
	d.mu.Unlock()
	u := &User{
		Name:     fmt.Sprintf("%s-%d", userPrefix(t.Name()), n),
		Password: rand.Text(),
		d:        d,
	}
	if err := d.writeUser(u); err != nil {
		t.Fatalf("add user: %v", err)
	}
	t.Cleanup(func() {
		u.mu.Lock()
		if u.c != nil {
			closeClient(u.c)
			u.c = nil
		}
		u.mu.Unlock()
		if t.Failed() || Kept() {
			return
		}
		_ = os.Remove(filepath.Join(d.usersDir, u.Name))
		_ = os.RemoveAll(filepath.Join(d.MailDir, u.Name))
		_ = os.RemoveAll(filepath.Join(d.Dir, "home", u.Name))
	})
	return u
}

// userPrefix turns a test name into the start of a user name: lower case
// letters and digits only, so it is safe in paths and passwd-files, and
// short.
func userPrefix(testName string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(testName) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
		if b.Len() == 24 {
			break
		}
	}
	if b.Len() == 0 {
		return "user"
	}
	return b.String()
}

// writeUser writes the user's passwd-file, readable by the auth process.
func (d *Dovecot) writeUser(u *User) error {
	p := filepath.Join(d.usersDir, u.Name)
	line := fmt.Sprintf("%s:{PLAIN}%s\n", u.Name, u.Password)
	if err := os.WriteFile(p, []byte(line), 0o600); err != nil {
		return fmt.Errorf("testenv: %w", err)
	}
	if d.authOwner != nil {
		if err := os.Chown(p, d.authOwner.uid, d.authOwner.gid); err != nil {
			return fmt.Errorf("testenv: %w", err)
		}
	}
	return nil
}

// IMAPAddr is the server's plain IMAP address, "127.0.0.1:port".
func (u *User) IMAPAddr() string { return u.d.IMAPAddr() }

// POP3Addr is the server's plain POP3 address, "127.0.0.1:port".
func (u *User) POP3Addr() string { return u.d.POP3Addr() }

// Server is the server the user lives on.
func (u *User) Server() *Dovecot { return u.d }

// Dial opens a new IMAP connection logged in as the user, closed when the
// test ends.
func (u *User) Dial(t testing.TB) *imapclient.Client {
	t.Helper()
	c, err := u.dial()
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() { closeClient(c) })
	return c
}

func (u *User) dial() (*imapclient.Client, error) {
	c, err := imapclient.DialInsecure(u.IMAPAddr(), nil)
	if err != nil {
		return nil, fmt.Errorf("testenv: dial %s: %w", u.IMAPAddr(), err)
	}
	if err := c.Login(u.Name, u.Password).Wait(); err != nil {
		c.Close()
		return nil, fmt.Errorf("testenv: login as %s: %w", u.Name, err)
	}
	return c, nil
}

func closeClient(c *imapclient.Client) {
	_ = c.Logout().Wait()
	_ = c.Close()
}

// do runs f on the helper connection, (re)connecting when needed, and fails
// the test on error.
func (u *User) do(t testing.TB, what string, f func(c *imapclient.Client) error) {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.c != nil {
		select {
		case <-u.c.Closed():
			u.c = nil
		default:
		}
	}
	if u.c == nil {
		c, err := u.dial()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		u.c = c // closed by the cleanup NewUser registered
	}
	if err := f(u.c); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// selectFolder selects folder on c, read-only (EXAMINE) or not.
func selectFolder(c *imapclient.Client, folder string, readOnly bool) (*imap.SelectData, error) {
	return c.Select(folder, &imap.SelectOptions{ReadOnly: readOnly}).Wait()
}

// Append adds a message to a folder with the given flags and returns its UID.
func (u *User) Append(t testing.TB, folder string, msg []byte, flags ...imap.Flag) uint32 {
	t.Helper()
	var uid uint32
	u.do(t, fmt.Sprintf("append to %q", folder), func(c *imapclient.Client) error {
		cmd := c.Append(folder, int64(len(msg)), &imap.AppendOptions{Flags: flags})
		if _, err := cmd.Write(msg); err != nil {
			cmd.Close()
			return err
		}
		if err := cmd.Close(); err != nil {
			return err
		}
		data, err := cmd.Wait()
		if err != nil {
			return err
		}
		if data.UID == 0 {
			return fmt.Errorf("no APPENDUID in the reply")
		}
		uid = uint32(data.UID)
		return nil
	})
	return uid
}

// CreateFolder creates a folder ("A/B": the separator is "/"). Drafts, Junk,
// Sent and Trash get their SPECIAL-USE attribute.
func (u *User) CreateFolder(t testing.TB, name string) {
	t.Helper()
	u.do(t, fmt.Sprintf("create %q", name), func(c *imapclient.Client) error {
		return c.Create(name, nil).Wait()
	})
}

// DeleteFolder deletes a folder and the messages in it.
func (u *User) DeleteFolder(t testing.TB, name string) {
	t.Helper()
	u.do(t, fmt.Sprintf("delete %q", name), func(c *imapclient.Client) error {
		if c.Mailbox() != nil {
			if err := c.Unselect().Wait(); err != nil {
				return err
			}
		}
		return c.Delete(name).Wait()
	})
}

// RenameFolder renames a folder (and its subfolders) as another client
// would.
func (u *User) RenameFolder(t testing.TB, from, to string) {
	t.Helper()
	u.do(t, fmt.Sprintf("rename %q to %q", from, to), func(c *imapclient.Client) error {
		if c.Mailbox() != nil {
			if err := c.Unselect().Wait(); err != nil {
				return err
			}
		}
		return c.Rename(from, to, nil).Wait()
	})
}

// SetFlags adds (add) or removes flags of the message uid in folder.
func (u *User) SetFlags(t testing.TB, folder string, uid uint32, add bool, flags ...imap.Flag) {
	t.Helper()
	op := imap.StoreFlagsDel
	if add {
		op = imap.StoreFlagsAdd
	}
	u.do(t, fmt.Sprintf("store flags of %q UID %d", folder, uid), func(c *imapclient.Client) error {
		if _, err := selectFolder(c, folder, false); err != nil {
			return err
		}
		return c.Store(imap.UIDSetNum(imap.UID(uid)), &imap.StoreFlags{Op: op, Silent: true, Flags: flags}, nil).Close()
	})
}

// Expunge deletes the message uid from folder (\Deleted, then UID EXPUNGE).
func (u *User) Expunge(t testing.TB, folder string, uid uint32) {
	t.Helper()
	u.do(t, fmt.Sprintf("expunge %q UID %d", folder, uid), func(c *imapclient.Client) error {
		if _, err := selectFolder(c, folder, false); err != nil {
			return err
		}
		set := imap.UIDSetNum(imap.UID(uid))
		err := c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close()
		if err != nil {
			return err
		}
		return c.UIDExpunge(set).Close()
	})
}

// Move moves the message uid from one folder to another (UID MOVE) and
// returns its UID in the destination.
func (u *User) Move(t testing.TB, from string, uid uint32, to string) uint32 {
	t.Helper()
	var newUID uint32
	u.do(t, fmt.Sprintf("move %q UID %d to %q", from, uid, to), func(c *imapclient.Client) error {
		if _, err := selectFolder(c, from, false); err != nil {
			return err
		}
		data, err := c.Move(imap.UIDSetNum(imap.UID(uid)), to).Wait()
		if err != nil {
			return err
		}
		dst, ok := data.DestUIDs.(imap.UIDSet)
		if !ok {
			return fmt.Errorf("no COPYUID in the reply")
		}
		uids, ok := dst.Nums()
		if !ok || len(uids) != 1 {
			return fmt.Errorf("COPYUID names %v", dst)
		}
		newUID = uint32(uids[0])
		return nil
	})
	return newUID
}

// Folders lists the user's selectable folders, sorted ("INBOX", "A/B").
func (u *User) Folders(t testing.TB) []string {
	t.Helper()
	var names []string
	u.do(t, "list folders", func(c *imapclient.Client) error {
		list, err := c.List("", "*", nil).Collect()
		if err != nil {
			return err
		}
		for _, l := range list {
			if slices.Contains(l.Attrs, imap.MailboxAttrNoSelect) || slices.Contains(l.Attrs, imap.MailboxAttrNonExistent) {
				continue
			}
			names = append(names, l.Mailbox)
		}
		return nil
	})
	slices.Sort(names)
	return names
}

// Messages lists the messages of a folder in UID order, read-only (EXAMINE:
// no flag changes). Flags leave out \Recent, which depends on the session.
// Date is the INTERNALDATE, Size the RFC822.SIZE.
func (u *User) Messages(t testing.TB, folder string) []Msg {
	t.Helper()
	var msgs []Msg
	u.do(t, fmt.Sprintf("fetch %q", folder), func(c *imapclient.Client) error {
		sel, err := selectFolder(c, folder, true)
		if err != nil {
			return err
		}
		if sel.NumMessages == 0 {
			return nil
		}
		hdr := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Message-ID"}, Peek: true}
		bufs, err := c.Fetch(imap.UIDSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{
			UID: true, Flags: true, RFC822Size: true, InternalDate: true,
			BodySection: []*imap.FetchItemBodySection{hdr},
		}).Collect()
		if err != nil {
			return err
		}
		for _, b := range bufs {
			m := Msg{
				UID:       uint32(b.UID),
				MessageID: messageID(b.FindBodySection(hdr)),
				Size:      b.RFC822Size,
				Date:      b.InternalDate,
			}
			for _, f := range b.Flags {
				if !strings.EqualFold(string(f), `\Recent`) {
					m.Flags = append(m.Flags, string(f))
				}
			}
			slices.Sort(m.Flags)
			msgs = append(msgs, m)
		}
		return nil
	})
	slices.SortFunc(msgs, func(a, b Msg) int { return cmp.Compare(a.UID, b.UID) })
	return msgs
}

// Raw returns a message's full text as the server stores it.
func (u *User) Raw(t testing.TB, folder string, uid uint32) []byte {
	t.Helper()
	var raw []byte
	u.do(t, fmt.Sprintf("fetch %q UID %d", folder, uid), func(c *imapclient.Client) error {
		if _, err := selectFolder(c, folder, true); err != nil {
			return err
		}
		sec := &imap.FetchItemBodySection{Peek: true}
		bufs, err := c.Fetch(imap.UIDSetNum(imap.UID(uid)), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{sec}}).Collect()
		if err != nil {
			return err
		}
		if len(bufs) != 1 {
			return fmt.Errorf("no message with UID %d", uid)
		}
		raw = bufs[0].FindBodySection(sec)
		return nil
	})
	return raw
}
