package cli

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/internal/testenv"
)

// `mailmirror sync --dry-run` before any sync (no state, no Maildir)
// prints the plan and creates neither; a mass delete is refused by a
// pass, shown by `status`, and `sync --allow-deletes ACCOUNT/FOLDER` lets
// it through.
func TestSyncDryRunAndAllowDeletes(t *testing.T) {
	testenv.RequireDovecot(t)
	d := testenv.Shared(t)
	u := d.NewUser(t)
	dir := t.TempDir()
	cfg := writeIMAPConfig(t, u, d.IMAPPort, dir)
	rng := rand.New(rand.NewPCG(3, 4))
	for range 60 {
		u.Append(t, "INBOX", testenv.GenMessage(rng, &testenv.GenOptions{BodySize: 800}), imap.FlagSeen)
	}

	code, out, errOut := runMain(t, "--config", cfg, "sync", "--dry-run")
	if code != 0 || !strings.Contains(out, "work/INBOX: create local folder \"INBOX\"") || !strings.Contains(out, "work/INBOX: download 60 (") {
		t.Fatalf("dry run: %d\n%s%s", code, out, errOut)
	}
	for _, p := range []string{"state", "Mail"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
			t.Errorf("the dry run created %s", p)
		}
	}

	if code, out, errOut := runMain(t, "--config", cfg, "sync"); code != 0 {
		t.Fatalf("sync: %d %s%s", code, out, errOut)
	}
	inbox := filepath.Join(dir, "Mail", "INBOX")
	for _, sub := range []string{"cur", "new"} {
		ents, _ := os.ReadDir(filepath.Join(inbox, sub))
		for _, e := range ents {
			os.Remove(filepath.Join(inbox, sub, e.Name()))
		}
	}
	code, out, errOut = runMain(t, "--config", cfg, "sync", "--dry-run")
	if code != 0 || !strings.Contains(out, "work/INBOX: would be refused: ") {
		t.Errorf("dry run after the files went: %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runMain(t, "--config", cfg, "sync")
	if code != 0 || !strings.Contains(out, `account "work", folder "INBOX": not synced`) {
		t.Errorf("sync after the files went: %d\n%s%s", code, out, errOut)
	}
	if n := len(u.Messages(t, "INBOX")); n != 60 {
		t.Fatalf("server INBOX has %d messages, want 60", n)
	}
	_, out, _ = runMain(t, "--config", cfg, "status")
	if !strings.Contains(out, "attention:   account \"work\", folder \"INBOX\": not synced") {
		t.Errorf("status:\n%s", out)
	}
	if code, _, errOut := runMain(t, "--config", cfg, "sync", "--allow-deletes", "nosuch/INBOX"); code != ExitUsage || !strings.Contains(errOut, `no account named "nosuch"`) {
		t.Errorf("--allow-deletes nosuch: %d %s", code, errOut)
	}
	code, out, errOut = runMain(t, "--config", cfg, "sync", "--allow-deletes", "work/INBOX")
	if code != 0 || !strings.Contains(out, "60 deleted") {
		t.Errorf("sync --allow-deletes: %d\n%s%s", code, out, errOut)
	}
	if n := len(u.Messages(t, "INBOX")); n != 0 {
		t.Errorf("server INBOX has %d messages after --allow-deletes, want 0", n)
	}
	_, out, _ = runMain(t, "--config", cfg, "status")
	if strings.Contains(out, "attention:") {
		t.Errorf("status still shows the guard:\n%s", out)
	}
}
