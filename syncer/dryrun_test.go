package syncer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/state"
)

// snapshot is everything a dry run must leave as it was: every server
// message (folder, UID, Message-ID, flags), every file under the Maildir
// root (path and content hash) and the state DB's bytes.
func (f *fixture) snapshot() string {
	f.t.Helper()
	var b strings.Builder
	for _, folder := range f.u.Folders(f.t) {
		for _, m := range f.u.Messages(f.t, folder) {
			fmt.Fprintf(&b, "server %s %d %s %v\n", folder, m.UID, m.MessageID, m.Flags)
		}
		fmt.Fprintf(&b, "server folder %s\n", folder)
	}
	err := filepath.WalkDir(f.acct.Maildir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(f.acct.Maildir, p)
		if d.IsDir() {
			fmt.Fprintf(&b, "dir %s\n", rel)
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "file %s %x\n", rel, sha256.Sum256(data))
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
	dir := filepath.Dir(f.db.Path())
	for _, name := range []string{state.FileName, state.FileName + "-wal"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err == nil {
			fmt.Fprintf(&b, "state %s %x\n", name, sha256.Sum256(data))
		}
	}
	return b.String()
}

// A dry run with changes of every kind pending on both sides prints them
// per folder and changes nothing: not the server, not the Maildir, not
// the state (which it opens read-only, so any write would fail the pass).
// The real pass after it then does what the plan said.
func TestDryRunChangesNothing(t *testing.T) {
	f := newFixture(t)
	for _, name := range []string{"Archive", "Lists", "Big"} {
		f.u.CreateFolder(t, name)
	}
	f.fill("INBOX", 10)
	f.fill("Archive", 3)
	f.fill("Lists", 2)
	f.fill("Big", 60)
	f.sync()

	// Server: two new messages, a flag change, a new folder, a rename.
	f.u.Append(t, "INBOX", f.msg("new one"))
	f.u.Append(t, "INBOX", f.msg("new two"))
	inbox := f.u.Messages(t, "INBOX")
	f.u.SetFlags(t, "INBOX", inbox[0].UID, true, imap.FlagFlagged)
	f.u.CreateFolder(t, "News")
	f.u.Append(t, "News", f.msg("news"))
	f.u.RenameFolder(t, "Lists", "Groups")
	// Local: a new file, a deleted one, a new folder, Big emptied.
	lf, _, _ := f.store.ExistingFolder("INBOX")
	if err := os.WriteFile(filepath.Join(lf.Path, "new", "1700000000.dry.host"), f.msg("written here"), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Remove(f.file("INBOX", inbox[5].MessageID))
	nf, err := f.store.Folder("Drafts2")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(nf.Path, "cur", "1700000001.dry.host:2,S"), f.msg("draft"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, m := range f.local("Big") {
		os.Remove(m.Path)
	}
	time.Sleep(1100 * time.Millisecond) // the folders' stamps settle

	before := f.snapshot()
	ro, err := state.OpenReadOnly(filepath.Dir(f.db.Path()))
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := New(f.acct, f.store, ro, Options{DialOptions: DialOptions{Password: config.Secret(f.u.Password)}, DryRun: true})
	st, err := s.Sync(ctx)
	s.Close()
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	var out bytes.Buffer
	st.Plan.Write(&out, "test")
	t.Logf("plan:\n%s", out.String())
	if after := f.snapshot(); after != before {
		t.Errorf("the dry run changed something:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	for _, want := range []string{
		"test/INBOX: download 2 (",
		"upload 1 (",
		"flags here 1",
		"delete on the server 1",
		`test/Groups: rename folder "Lists" to "Groups" locally`,
		`test/News: create local folder "News"`,
		"test/News: download 1 (",
		`test/Drafts2: create server folder "Drafts2"`,
		"test/Drafts2: upload 1 (",
		`test/Big: would be refused: account "test", folder "Big": not synced: this pass would delete 60 of its 60`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("plan lacks %q", want)
		}
	}

	// The real pass does what the plan said.
	real := f.sync()
	if real.Down.New != 3 || real.Up.New != 2 || real.Up.Deleted != 1 || real.Down.Flags != 1 {
		t.Errorf("real pass: %v", real)
	}
	if !slices.Contains(f.u.Folders(t), "Drafts2") || len(f.local("Groups")) != 2 {
		t.Errorf("real pass: server folders %q, local Groups %d", f.u.Folders(t), len(f.local("Groups")))
	}
}
