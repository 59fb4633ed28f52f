// Package demo runs mailmirror against servers of its own: go-imap's
// in-process IMAP server (imapserver + imapmemserver) and the project's
// POP3 server, both on 127.0.0.1, filled with a few dozen realistic sample
// messages. It writes a config for them and lets the daemon keep a Maildir
// in step while a new message arrives on the server every few seconds.
// Nothing leaves the machine.
package demo

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"github.com/mailmirror/mailmirror/internal/testenv/pop3srv"
)

// Credentials of the demo servers.
const (
	User     = "demo"
	Password = "demo"
)

// Options tune a demo run. The zero value is usable.
type Options struct {
	Dir      string        // where the config, state and Maildirs go; default ./mailmirror-demo
	IMAPAddr string        // listen address of the IMAP server; default 127.0.0.1:0
	POP3Addr string        // listen address of the POP3 server; default 127.0.0.1:0
	Every    time.Duration // a new message arrives this often; default 5s
	Out      io.Writer     // what the demo tells the user; default os.Stdout
}

// Servers are the demo's running servers.
type Servers struct {
	IMAPAddr string
	POP3Addr string

	imap *imapserver.Server
	user *imapmemserver.User
	pop  *pop3srv.Server
	rnd  *rand.Rand
	n    int
}

// Folders of the demo IMAP account.
var Folders = []string{"INBOX", "Archive", "Sent", "Lists/golang", "Trash"}

// StartServers starts the IMAP and POP3 servers with sample mail.
func StartServers(opts Options) (*Servers, error) {
	if opts.IMAPAddr == "" {
		opts.IMAPAddr = "127.0.0.1:0"
	}
	if opts.POP3Addr == "" {
		opts.POP3Addr = "127.0.0.1:0"
	}
	s := &Servers{rnd: rand.New(rand.NewPCG(2026, 11))}
	mem := imapmemserver.New()
	s.user = imapmemserver.NewUser(User, Password)
	for _, f := range Folders {
		if err := s.user.Create(f, nil); err != nil {
			return nil, fmt.Errorf("demo: create %s: %w", f, err)
		}
	}
	mem.AddUser(s.user)
	s.imap = imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps: imap.CapSet{
			imap.CapIMAP4rev1: {}, imap.CapUIDPlus: {}, imap.CapMove: {}, imap.CapListStatus: {},
			imap.CapESearch: {}, imap.CapNamespace: {}, imap.CapIdle: {},
		},
		InsecureAuth: true,
		Logger:       quietLogger{},
	})
	ln, err := net.Listen("tcp", opts.IMAPAddr)
	if err != nil {
		return nil, fmt.Errorf("demo: IMAP server: %w", err)
	}
	go s.imap.Serve(ln)
	s.IMAPAddr = ln.Addr().String()

	s.pop = pop3srv.New(pop3srv.Options{Users: map[string]string{User: Password}})
	if s.POP3Addr, err = s.pop.Start(opts.POP3Addr); err != nil {
		s.imap.Close()
		return nil, fmt.Errorf("demo: POP3 server: %w", err)
	}

	// A mailbox that looks lived in.
	for i := 0; i < 24; i++ {
		var flags []imap.Flag
		if i < 18 {
			flags = append(flags, imap.FlagSeen)
		}
		if i%7 == 0 {
			flags = append(flags, imap.FlagFlagged)
		}
		if err := s.deliver("INBOX", time.Now().Add(-time.Duration(24-i)*9*time.Hour), flags...); err != nil {
			return nil, err
		}
	}
	for i := 0; i < 12; i++ {
		s.deliver("Archive", time.Now().AddDate(0, -i-1, 0), imap.FlagSeen)
	}
	for i := 0; i < 8; i++ {
		s.deliver("Lists/golang", time.Now().Add(-time.Duration(i)*30*time.Hour), imap.FlagSeen)
	}
	for i := 0; i < 4; i++ {
		s.deliver("Sent", time.Now().Add(-time.Duration(i)*50*time.Hour), imap.FlagSeen)
	}
	for i := 0; i < 6; i++ {
		s.pop.Mailbox.Add(s.sample(time.Now().Add(-time.Duration(i) * 5 * time.Hour)))
	}
	return s, nil
}

// Close stops both servers.
func (s *Servers) Close() {
	s.imap.Close()
	s.pop.Close()
}

// Deliver puts a new message into the IMAP INBOX (and every third one into
// the POP3 maildrop) and returns its subject.
func (s *Servers) Deliver() (string, error) {
	s.n++
	if s.n%3 == 0 {
		s.pop.Mailbox.Add(s.sample(time.Now()))
	}
	msg := s.sample(time.Now())
	if err := s.appendRaw("INBOX", msg, time.Now()); err != nil {
		return "", err
	}
	return subjectOf(msg), nil
}

func (s *Servers) deliver(folder string, date time.Time, flags ...imap.Flag) error {
	return s.appendRaw(folder, s.sample(date), date, flags...)
}

func (s *Servers) appendRaw(folder string, msg []byte, date time.Time, flags ...imap.Flag) error {
	_, err := s.user.Append(folder, bytes.NewReader(msg), &imap.AppendOptions{Flags: flags, Time: date})
	if err != nil {
		return fmt.Errorf("demo: deliver to %s: %w", folder, err)
	}
	return nil
}

type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

// WriteConfig writes the config for the demo servers into dir and returns
// its path. The file is 0600 (it holds the demo password).
func WriteConfig(dir string, s *Servers) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	ih, ip, _ := net.SplitHostPort(s.IMAPAddr)
	ph, pp, _ := net.SplitHostPort(s.POP3Addr)
	text := fmt.Sprintf(configHeader+`, written by "mailmirror demo".
# Both servers run inside the demo process on 127.0.0.1; they vanish when it stops.
state_dir = %q

[[account]]
name = "demo"
protocol = "imap"
host = %q
port = %s
tls = "none"          # loopback only: mailmirror refuses plain text to other hosts
username = %q
password = %q
maildir = %q
idle_folders = ["INBOX"]
poll_interval = "30s"

[[account]]
name = "demo-pop"
protocol = "pop3"
host = %q
port = %s
tls = "none"
username = %q
password = %q
maildir = %q
poll_interval = "10s"
`, filepath.Join(abs, "state"), ih, ip, User, Password, filepath.Join(abs, "Mail", "demo"),
		ph, pp, User, Password, filepath.Join(abs, "Mail", "demo-pop"))
	path := filepath.Join(abs, "config.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	return path, nil
}

// Run starts the servers, writes the config and runs daemon on it until
// ctx ends, delivering a new message every opts.Every.
func Run(ctx context.Context, opts Options, daemon func(ctx context.Context, configPath string) error) error {
	if opts.Dir == "" {
		opts.Dir = "mailmirror-demo"
	}
	if opts.Every <= 0 {
		opts.Every = 5 * time.Second
	}
	out := opts.Out
	if out == nil {
		out = os.Stdout
	}
	again, err := Fresh(opts.Dir)
	if err != nil {
		return err
	}
	s, err := StartServers(opts)
	if err != nil {
		return err
	}
	defer s.Close()
	cfg, err := WriteConfig(opts.Dir, s)
	if err != nil {
		return err
	}
	muttrc, err := WriteMuttrc(opts.Dir)
	if err != nil {
		return err
	}
	abs, _ := filepath.Abs(opts.Dir)
	if again {
		fmt.Fprintf(out, "Starting fresh: removed the previous demo's Maildir and state in %s\n(the demo servers live in memory and start with new mail each time).\n\n", abs)
	}
	fmt.Fprintf(out, `mailmirror demo
  IMAP server (in this process): %s, user %q, password %q, folders %v
  POP3 server (in this process): %s
  config:  %s
  Maildir: %s
  muttrc:  %s (every folder listed)

Syncing now; afterwards a new message arrives on the server every %s and is pushed
into the Maildir. Look at it with:

  mutt -F %s
  mutt -f %s
  ls %s/new

Read, flag, delete or move messages there: the changes go back to the demo server,
and the lines starting with "server:" below say what the server now has.
Ctrl-C stops the demo.

`, s.IMAPAddr, User, Password, Folders, s.POP3Addr, cfg, filepath.Join(abs, "Mail"), muttrc, opts.Every,
		muttrc, filepath.Join(abs, "Mail", "demo", "INBOX"), filepath.Join(abs, "Mail", "demo", "INBOX"))

	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- daemon(dctx, cfg) }()
	watched := make(chan struct{})
	go func() { watch(dctx, out, s, filepath.Join(abs, "Mail")); close(watched) }()
	defer func() { cancel(); <-watched }()
	tick := time.NewTicker(opts.Every)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			return err
		case <-ctx.Done():
			cancel()
			return <-done
		case <-tick.C:
			if _, err := s.Deliver(); err != nil {
				fmt.Fprintf(out, "demo: %v\n", err)
			}
		}
	}
}
