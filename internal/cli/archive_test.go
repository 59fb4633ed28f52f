package cli

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/internal/testenv"
)

// TestArchiveCommand: `archive --dry-run` lists the messages that would go
// and changes nothing; `archive` moves them and exits 0.
func TestArchiveCommand(t *testing.T) {
	testenv.RequireDovecot(t)
	u := testenv.Shared(t).NewUser(t)
	dir := t.TempDir()
	root := filepath.Join(dir, "Mail")
	cfg := writeIMAPConfig(t, u, u.Server().IMAPPort, dir)
	c := u.Dial(t)
	rng := rand.New(rand.NewPCG(3, 4))
	for i, date := range []time.Time{time.Now().AddDate(-3, 0, 0), time.Now().AddDate(-2, 0, 0), time.Now()} {
		raw := testenv.GenMessage(rng, &testenv.GenOptions{Subject: fmt.Sprintf("message %d", i), BodySize: 800})
		cmd := c.Append("INBOX", int64(len(raw)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagSeen}, Time: date})
		cmd.Write(raw)
		cmd.Close()
		if _, err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	if code, _, errOut := runMain(t, "--config", cfg, "sync"); code != 0 {
		t.Fatalf("sync: %d %s", code, errOut)
	}
	text, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg2 := writeConfig(t, string(text)+`
[[account.folder_policy]]
match = "INBOX"
archive_after = "365d"
archive_to = "Old"
`)
	code, out, errOut := runMain(t, "--config", cfg2, "archive", "--dry-run")
	if code != 0 || !strings.Contains(out, "work: INBOX -> Old") || !strings.Contains(out, "message 0") ||
		!strings.Contains(out, "message 1") || strings.Contains(out, "message 2") || !strings.Contains(out, "2 messages") ||
		!strings.Contains(out, "would be archived") {
		t.Fatalf("dry run: %d\n%s%s", code, out, errOut)
	}
	if n := len(u.Messages(t, "INBOX")); n != 3 {
		t.Fatalf("dry run: server INBOX holds %d", n)
	}
	if local := testenv.ReadMaildir(t, root, "verbatim"); len(local["INBOX"]) != 3 || len(local["Old"]) != 0 {
		t.Fatalf("dry run changed the Maildir: %d in INBOX, %d in Old", len(local["INBOX"]), len(local["Old"]))
	}
	code, out, errOut = runMain(t, "--config", cfg2, "archive")
	if code != 0 || !strings.Contains(out, "2 messages") || !strings.Contains(out, " archived") {
		t.Fatalf("archive: %d\n%s%s", code, out, errOut)
	}
	if n := len(u.Messages(t, "INBOX")); n != 1 {
		t.Errorf("server INBOX holds %d, want 1", n)
	}
	if local := testenv.ReadMaildir(t, root, "verbatim"); len(local["INBOX"]) != 1 || len(local["Old"]) != 2 {
		t.Errorf("Maildir: %d in INBOX, %d in Old", len(local["INBOX"]), len(local["Old"]))
	}
}
