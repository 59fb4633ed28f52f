package syncer_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/maildir"
	"github.com/mailmirror/mailmirror/state"
	"github.com/mailmirror/mailmirror/syncer"
)

// One pass of an account against go-imap's in-process server: the
// server's messages come down into the Maildir (unseen ones into new/, seen
// ones into cur/ with their flags), a message written locally goes up, and
// a second pass finds nothing to do.
func ExampleSyncAccount() {
	// The server: alice's INBOX with two messages, one of them seen.
	mem := imapmemserver.New()
	user := imapmemserver.NewUser("alice", "secret")
	user.Create("INBOX", nil)
	mem.AddUser(user)
	srv := imapserver.New(&imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return mem.NewSession(), nil, nil
		},
		Caps:         imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapUIDPlus: {}, imap.CapMove: {}, imap.CapListStatus: {}, imap.CapESearch: {}, imap.CapNamespace: {}},
		InsecureAuth: true,
		Logger:       log.New(io.Discard, "", 0),
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	server, err := imapclient.DialInsecure(ln.Addr().String(), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer server.Close()
	if err := server.Login("alice", "secret").Wait(); err != nil {
		log.Fatal(err)
	}
	for i, flags := range [][]imap.Flag{nil, {imap.FlagSeen}} {
		raw := fmt.Sprintf("Message-Id: <%d@example.org>\r\nSubject: message %d\r\n\r\nbody\r\n", i+1, i+1)
		cmd := server.Append("INBOX", int64(len(raw)), &imap.AppendOptions{Flags: flags})
		io.WriteString(cmd, raw)
		cmd.Close()
		if _, err := cmd.Wait(); err != nil {
			log.Fatal(err)
		}
	}

	// The account, its Maildir (with one message written locally) and its
	// state.
	dir, err := os.MkdirTemp("", "syncer-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	cfg, err := config.Parse([]byte(fmt.Sprintf(`state_dir = %q
[[account]]
name = "mem"
protocol = "imap"
host = "127.0.0.1"
port = %s
tls = "none"
username = "alice"
password_env = "EXAMPLE_PASSWORD"
maildir = %q
`, filepath.Join(dir, "state"), port, filepath.Join(dir, "Mail"))), "example.toml")
	if err != nil {
		log.Fatal(err)
	}
	acct := cfg.Accounts[0]
	store, err := maildir.Open(acct.Maildir, acct.Layout)
	if err != nil {
		log.Fatal(err)
	}
	inbox, err := store.Folder("INBOX")
	if err != nil {
		log.Fatal(err)
	}
	w, err := inbox.NewMessage()
	if err != nil {
		log.Fatal(err)
	}
	io.WriteString(w, "Message-Id: <local@example.org>\nSubject: written here\n\nbody\n")
	if _, err := w.Commit("S", time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)); err != nil {
		log.Fatal(err)
	}
	db, err := state.Open(cfg.StateDir)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	// The pass (the password given here instead of password_env).
	ctx := context.Background()
	opts := syncer.Options{DialOptions: syncer.DialOptions{Password: "secret"}}
	st, err := syncer.SyncAccount(ctx, acct, db, opts)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("first pass: %d down, %d up\n", st.Down.New, st.Up.New)

	ents, err := inbox.Scan()
	if err != nil {
		log.Fatal(err)
	}
	var lines []string
	for _, e := range ents {
		f, err := inbox.Open(e)
		if err != nil {
			log.Fatal(err)
		}
		raw, _ := io.ReadAll(f)
		f.Close()
		subject := strings.TrimPrefix(strings.Split(string(raw), "\n")[1], "Subject: ")
		lines = append(lines, fmt.Sprintf("  %s in %s/ flags %q", subject, e.Sub, e.Flags))
	}
	slices.Sort(lines) // Scan lists new/ before cur/, files in directory order
	for _, l := range lines {
		fmt.Println(l)
	}
	data, err := server.Status("INBOX", &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("server INBOX:", *data.NumMessages, "messages")

	st, err = syncer.SyncAccount(ctx, acct, db, opts)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("second pass:", st.Down == syncer.Counts{} && st.Up == syncer.Counts{})
	// Output:
	// first pass: 2 down, 1 up
	//   message 1 in new/ flags ""
	//   message 2 in cur/ flags "S"
	//   written here in cur/ flags "S"
	// server INBOX: 3 messages
	// second pass: true
}
