package corpus

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailmirror/mailmirror/internal/testenv"
)

// Server is a private Dovecot (internal/testenv) with one user, for
// benchmarks. Its fields must not be changed.
type Server struct {
	Dovecot *testenv.Dovecot
	User    *testenv.User
	t       *TB
}

// StartServer starts a private Dovecot on 127.0.0.1 (see
// testenv.StartDovecot; a nil opts means plain IMAP and POP3) and adds a
// user with a random password. The caller must call Close.
func StartServer(opts *testenv.DovecotOptions) (*Server, error) {
	d, err := testenv.StartDovecot(opts)
	if err != nil {
		return nil, fmt.Errorf("corpus: %w", err)
	}
	s := &Server{Dovecot: d, t: &TB{}}
	s.t.Cleanup(d.Stop)
	if err := s.t.run(func() { s.User = d.NewUser(s.t) }); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close removes the user and stops the server; the server's directory is
// kept when testenv.Kept() (MAILMIRROR_KEEP_DOVECOT=1).
func (s *Server) Close() { s.t.Close() }

// Addr is the plain IMAP address, "127.0.0.1:port".
func (s *Server) Addr() string { return s.Dovecot.IMAPAddr() }

// MailRoot is the user's Maildir on the server (LAYOUT=fs: INBOX is the
// root itself, other folders are directories below it).
func (s *Server) MailRoot() string { return filepath.Join(s.Dovecot.MailDir, s.User.Name) }

// Dial opens an IMAP connection logged in as the user. The caller closes it
// with Logout (so that Dovecot logs the session's counters) and Close.
func (s *Server) Dial() (*imapclient.Client, error) {
	c, err := imapclient.DialInsecure(s.Addr(), nil)
	if err != nil {
		return nil, fmt.Errorf("corpus: dial %s: %w", s.Addr(), err)
	}
	if err := c.Login(s.User.Name, s.User.Password).Wait(); err != nil {
		c.Close()
		return nil, fmt.Errorf("corpus: login: %w", err)
	}
	return c, nil
}

// logout ends a connection Dial opened.
func logout(c *imapclient.Client) {
	_ = c.Logout().Wait()
	_ = c.Close()
}

// SettledCounters waits until Dovecot has logged at least minSessions
// finished sessions of the user (IMAP and POP3), every session that
// logged in has finished, and the log has not changed for settleQuiet,
// and returns the sums (testenv.DovecotLogCounters). Dovecot writes a
// session's lines through its log process, a moment after the client has
// gone, later still on a busy machine: a caller that just ran a client
// passes the count it had before plus the sessions that client opened at
// least (1), so that lines not yet written are waited for. A client still
// connected, or fewer sessions, after timeout make it fail.
func (s *Server) SettledCounters(minSessions int, timeout time.Duration) (testenv.LogCounters, error) {
	deadline := time.Now().Add(timeout)
	var last testenv.LogCounters
	lastLogins := -1
	since := time.Now()
	for {
		logins, err := s.logins()
		if err != nil {
			return testenv.LogCounters{}, err
		}
		c, err := testenv.DovecotLogCounters(s.Dovecot.LogPath, s.User.Name)
		if err != nil {
			return c, fmt.Errorf("corpus: %w", err)
		}
		if c != last || logins != lastLogins {
			last, lastLogins, since = c, logins, time.Now()
		}
		finished := c.IMAPSessions + c.POP3Sessions
		if finished >= logins && finished >= minSessions && time.Since(since) >= settleQuiet {
			return c, nil
		}
		if time.Now().After(deadline) {
			return c, fmt.Errorf("corpus: %d sessions of %s finished, %d logged in, %d expected, after %v", finished, s.User.Name, logins, minSessions, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// settleQuiet is how long Dovecot's log must stay unchanged before
// SettledCounters trusts its sums.
const settleQuiet = 200 * time.Millisecond

// logins counts the user's successful logins in Dovecot's log.
func (s *Server) logins() (int, error) {
	f, err := os.Open(s.Dovecot.LogPath)
	if err != nil {
		return 0, fmt.Errorf("corpus: %w", err)
	}
	defer f.Close()
	tag := "Login: user=<" + s.User.Name + ">"
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		if strings.Contains(sc.Text(), tag) {
			n++
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("corpus: read %s: %w", s.Dovecot.LogPath, err)
	}
	return n, nil
}

// Append adds m to its folder on the server with its flags and date, over
// a connection of its own, and returns its UID.
func (s *Server) Append(m Message) (imap.UID, error) {
	c, err := s.Dial()
	if err != nil {
		return 0, err
	}
	defer logout(c)
	return appendMessage(c, m)
}

func appendMessage(c *imapclient.Client, m Message) (imap.UID, error) {
	cmd := c.Append(m.Folder, int64(len(m.Data)), &imap.AppendOptions{Flags: m.IMAPFlags(), Time: m.Date})
	if _, err := cmd.Write(m.Data); err != nil {
		cmd.Close()
		return 0, fmt.Errorf("corpus: append message %d to %q: %w", m.Index, m.Folder, err)
	}
	if err := cmd.Close(); err != nil {
		return 0, fmt.Errorf("corpus: append message %d to %q: %w", m.Index, m.Folder, err)
	}
	data, err := cmd.Wait()
	if err != nil {
		return 0, fmt.Errorf("corpus: append message %d to %q: %w", m.Index, m.Folder, err)
	}
	return data.UID, nil
}
