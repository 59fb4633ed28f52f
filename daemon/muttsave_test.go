package daemon_test

import (
	"bytes"
	"os"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/internal/testenv"
	"github.com/mailmirror/mailmirror/internal/testenv/faultproxy"
)

// mutt's save (`s`) writes a copy into the other folder at once and
// deletes the original only at `$`: the daemon copies the message on the
// server (UID COPY) instead of uploading it, then expunges the original.
// The body never goes up (counted at a proxy in front of Dovecot) and the
// copy keeps its server date.
func TestMuttSaveThenPurgeDoesNotUpload(t *testing.T) {
	u := testenv.Shared(t).NewUser(t)
	u.CreateFolder(t, "Archive")
	proxy := faultproxy.New(t, u.IMAPAddr())
	f := newFixture(t, u, proxy.Port(), "")
	raw := testenv.GenMessage(f.rnd, &testenv.GenOptions{Subject: "save me", BodySize: 200_000})
	date := time.Date(2019, 3, 4, 5, 6, 7, 0, time.UTC)
	c := u.Dial(t)
	cmd := c.Append("INBOX", int64(len(raw)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagSeen}, Time: date})
	cmd.Write(raw)
	cmd.Close()
	if _, err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	c.Logout().Wait()
	id := msgID(raw)

	f.start(testOptions())
	f.waitInSync()
	f.settle()
	proxy.Record(true)

	// s: a new file with the original's bytes in Archive.
	orig := f.local("INBOX")[id][0].path
	data, err := os.ReadFile(orig)
	if err != nil {
		t.Fatal(err)
	}
	f.writeLocal("Archive", data, "S")
	eventually(t, func() string { return "the copy never reached Archive on the server" }, func() bool {
		return f.serverIDs("Archive")[id] == 1
	})
	// $: the original goes.
	if err := os.Remove(orig); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() string { return "the original is still in INBOX on the server" }, func() bool {
		return f.serverIDs("INBOX")[id] == 0
	})
	f.waitInSync()

	sent := proxy.ClientBytes()
	marker := bytes.ReplaceAll(raw[len(raw)-2000:len(raw)-1000], []byte("\r\n"), []byte("\n"))
	marker = bytes.SplitN(marker, []byte("\n"), 3)[1] // one whole body line
	if len(sent) > 50_000 || bytes.Contains(sent, marker) {
		t.Errorf("the daemon sent %d bytes to the server for a 200 kB message it should have copied there (body line found: %v)", len(sent), bytes.Contains(sent, marker))
	}
	msgs := u.Messages(t, "Archive")
	if len(msgs) != 1 || msgs[0].MessageID != id || !msgs[0].Date.Equal(date) || len(msgs[0].Flags) != 1 || msgs[0].Flags[0] != `\Seen` {
		t.Errorf("Archive on the server: %+v, want the message with its date %v and \\Seen", msgs, date)
	}
	if !testenv.CompareAccount(t, u, f.acct.Maildir, f.acct.Layout) {
		t.Fatal("server and Maildir differ")
	}
}
