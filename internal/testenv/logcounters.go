package testenv

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// LogCounters sums what Dovecot logged about one user's finished sessions.
// Dovecot writes a session's line when it ends (logout or disconnection),
// from the serving process, a moment after the client has gone.
type LogCounters struct {
	IMAPSessions int // finished IMAP sessions
	POP3Sessions int // finished POP3 sessions

	In  int64 // bytes received from clients (IMAP and POP3)
	Out int64 // bytes sent to clients (IMAP and POP3)

	// IMAP (imap_logout_format).
	BodyCount int64 // FETCH items returning a body (fetch_body_count)
	BodyBytes int64 // bytes of those bodies (fetch_body_bytes)
	HdrCount  int64 // FETCH items returning a header (fetch_hdr_count)
	HdrBytes  int64 // bytes of those headers (fetch_hdr_bytes)
	Expunged  int64 // messages expunged
	Deleted   int64 // messages marked \Deleted

	// POP3 (pop3_logout_format).
	Retr      int64 // RETR commands
	RetrBytes int64 // bytes sent by RETR
	Top       int64 // TOP commands
	Dele      int64 // messages deleted (DELE then QUIT)
}

// DovecotLogCounters parses a Dovecot log (Dovecot.LogPath) and sums the
// counters of the finished IMAP and POP3 sessions of user. It relies on the
// imap_logout_format and pop3_logout_format StartDovecot configures.
func DovecotLogCounters(path, user string) (LogCounters, error) {
	var c LogCounters
	f, err := os.Open(path)
	if err != nil {
		return c, fmt.Errorf("testenv: %w", err)
	}
	defer f.Close()
	imapTag, pop3Tag := "imap("+user+")", "pop3("+user+")"
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		isIMAP := strings.Contains(line, " "+imapTag+"<") || strings.Contains(line, " "+imapTag+":")
		isPOP3 := strings.Contains(line, " "+pop3Tag+"<") || strings.Contains(line, " "+pop3Tag+":")
		if (!isIMAP && !isPOP3) || !strings.Contains(line, " in=") || !strings.Contains(line, " out=") {
			continue
		}
		if isIMAP {
			c.IMAPSessions++
		} else {
			c.POP3Sessions++
		}
		for _, tok := range strings.Fields(line) {
			k, v, ok := strings.Cut(tok, "=")
			if !ok {
				continue
			}
			v = strings.TrimSuffix(v, ",")
			first, second, _ := strings.Cut(v, "/")
			n, _ := strconv.ParseInt(first, 10, 64)
			n2, _ := strconv.ParseInt(second, 10, 64)
			switch k {
			case "in":
				c.In += n
			case "out":
				c.Out += n
			}
			if isIMAP {
				switch k {
				case "body_count":
					c.BodyCount += n
				case "body_bytes":
					c.BodyBytes += n
				case "hdr_count":
					c.HdrCount += n
				case "hdr_bytes":
					c.HdrBytes += n
				case "expunged":
					c.Expunged += n
				case "deleted":
					c.Deleted += n
				}
				continue
			}
			switch k {
			case "retr":
				c.Retr += n
				c.RetrBytes += n2
			case "top":
				c.Top += n
			case "del":
				c.Dele += n
			}
		}
	}
	if err := sc.Err(); err != nil {
		return c, fmt.Errorf("testenv: read %s: %w", path, err)
	}
	return c, nil
}

// LogCounters returns the user's counters (see DovecotLogCounters) once at
// least sessions sessions (IMAP and POP3) have finished; the helper
// connection of the User methods only finishes when the test ends. It
// fails the test when that does not happen within a minute.
func (u *User) LogCounters(t testing.TB, sessions int) LogCounters {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		c, err := DovecotLogCounters(u.d.LogPath, u.Name)
		if err != nil {
			t.Fatalf("%v", err)
		}
		if c.IMAPSessions+c.POP3Sessions >= sessions {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("Dovecot logged %d finished sessions of %s, want %d", c.IMAPSessions+c.POP3Sessions, u.Name, sessions)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
