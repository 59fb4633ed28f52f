package tags

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mailmirror/mailmirror/internal/testenv"
)

// tempNotmuch makes a Maildir with messages m1..mN in INBOX, a notmuch
// configuration pointing at it, and indexes it.
func tempNotmuch(t *testing.T, n int) (*Notmuch, string) {
	t.Helper()
	testenv.RequireNotmuch(t)
	dir := t.TempDir()
	root := filepath.Join(dir, "mail")
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, "INBOX", sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= n; i++ {
		body := fmt.Sprintf("Message-ID: <m%d@example.org>\nSubject: s%d\nFrom: a@example.org\n\nbody\n", i, i)
		if err := os.WriteFile(filepath.Join(root, "INBOX", "cur", fmt.Sprintf("k%d:2,S", i)), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(dir, "notmuch-config")
	conf := fmt.Sprintf("[database]\npath=%s\n[new]\ntags=inbox;unread;new\n[maildir]\nsynchronize_flags=true\n", root)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "NOTMUCH_CONFIG="+cfg)
	nm, err := Open(context.Background(), "", env)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("sh", "-c", "NOTMUCH_CONFIG="+cfg+" notmuch new --quiet").CombinedOutput(); err != nil {
		t.Fatalf("notmuch new: %v: %s", err, out)
	}
	return nm, root
}

func TestNotmuchOpen(t *testing.T) {
	nm, root := tempNotmuch(t, 0)
	if nm.Path != root {
		t.Errorf("Path = %q, want %q", nm.Path, root)
	}
	if !slices.Equal(nm.NewTags, []string{"inbox", "unread", "new"}) {
		t.Errorf("NewTags = %q", nm.NewTags)
	}
	if !nm.SyncFlags {
		t.Error("SyncFlags = false")
	}
	if nm.Config == "" {
		t.Error("Config not found")
	}
}

func TestNotmuchChangedAndApply(t *testing.T) {
	ctx := context.Background()
	nm, root := tempNotmuch(t, 3)
	r0, err := nm.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	all, err := nm.ChangedSince(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 {
		t.Fatalf("ChangedSince(0) = %d messages, want 3", len(all))
	}
	none, err := nm.ChangedSince(ctx, r0.N)
	if err != nil {
		t.Fatal(err)
	}
	if len(none) != 0 {
		t.Fatalf("ChangedSince(current) = %v, want none", none)
	}
	// One batch: a tag with a space and a quote, a removal.
	err = nm.Apply(ctx, []Change{
		{ID: "m1@example.org", Add: []string{"work", `odd "tag" x`}},
		{ID: "m2@example.org", Remove: []string{"inbox"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	r1, err := nm.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r1.UUID != r0.UUID || r1.N <= r0.N {
		t.Fatalf("revision %v → %v: want a higher one of the same database", r0, r1)
	}
	changed, err := nm.ChangedSince(ctx, r0.N)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, m := range changed {
		got[m.ID] = m.Tags
		if len(m.Files) != 1 || filepath.Dir(filepath.Dir(m.Files[0])) != filepath.Join(root, "INBOX") {
			t.Errorf("%s: files %q", m.ID, m.Files)
		}
	}
	if len(got) != 2 {
		t.Fatalf("changed = %v, want m1 and m2", got)
	}
	if !slices.Contains(got["m1@example.org"], `odd "tag" x`) || !slices.Contains(got["m1@example.org"], "work") {
		t.Errorf("m1 tags %q", got["m1@example.org"])
	}
	if slices.Contains(got["m2@example.org"], "inbox") {
		t.Errorf("m2 tags %q still has inbox", got["m2@example.org"])
	}
	byID, err := nm.ByID(ctx, []string{"m3@example.org", "nosuch@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	if len(byID) != 1 || byID[0].ID != "m3@example.org" || !slices.Contains(byID[0].Tags, "inbox") {
		t.Errorf("ByID = %+v", byID)
	}
}

func TestNotmuchMissing(t *testing.T) {
	_, err := Open(context.Background(), "/nonexistent/notmuch", nil)
	if err == nil {
		t.Fatal("no error for a missing notmuch")
	}
}

func TestNotmuchCovers(t *testing.T) {
	nm, root := tempNotmuch(t, 0)
	if !nm.Covers(filepath.Join(root, "INBOX")) || !nm.Covers(root) {
		t.Error("a Maildir under the database path is not covered")
	}
	if nm.Covers(filepath.Dir(root)) || nm.Covers(root+"x") {
		t.Error("a directory outside the database path is covered")
	}
}

func TestNotmuchStamp(t *testing.T) {
	ctx := context.Background()
	nm, _ := tempNotmuch(t, 1)
	// Open found the configuration before the database existed.
	nm, err := Open(ctx, "", nm.Env)
	if err != nil {
		t.Fatal(err)
	}
	s0 := nm.Stamp()
	if s0 == "" {
		t.Fatal("no stamp: the Xapian directory was not found")
	}
	if err := nm.Apply(ctx, []Change{{ID: "m1@example.org", Add: []string{"x"}}}); err != nil {
		t.Fatal(err)
	}
	if s1 := nm.Stamp(); s1 == s0 {
		t.Errorf("stamp %q unchanged after a tag change", s1)
	}
}

// TestNotmuchChanges: Changes reads the revision and the changes of one
// account's directory (Scope), everything for another database, and only
// the count when nothing in the scope changed.
func TestNotmuchChanges(t *testing.T) {
	nm, root := tempNotmuch(t, 3)
	ctx := context.Background()
	acct := filepath.Join(root, "INBOX")
	scope := nm.Scope(acct)
	if scope != `path:"INBOX/**"` || nm.Scope(root) != "" {
		t.Fatalf("Scope = %q, %q", scope, nm.Scope(root))
	}
	all, err := nm.Changes(ctx, "", 0, scope)
	if err != nil {
		t.Fatal(err)
	}
	if !all.All || len(all.Messages) != 3 {
		t.Fatalf("first read: all %v, %d messages; want all 3", all.All, len(all.Messages))
	}
	none, err := nm.Changes(ctx, all.Rev.UUID, all.Rev.N, scope)
	if err != nil || none.All || len(none.Messages) != 0 || none.Rev != all.Rev {
		t.Fatalf("nothing changed: %+v, %v", none, err)
	}
	if err := nm.Apply(ctx, []Change{{ID: "m2@example.org", Add: []string{"x"}}}); err != nil {
		t.Fatal(err)
	}
	one, err := nm.Changes(ctx, all.Rev.UUID, all.Rev.N, scope)
	if err != nil {
		t.Fatal(err)
	}
	if one.All || len(one.Messages) != 1 || one.Messages[0].ID != "m2@example.org" || one.Rev.N <= all.Rev.N {
		t.Fatalf("one changed: %+v", one)
	}
	other, err := nm.Changes(ctx, "another-uuid", one.Rev.N, scope)
	if err != nil || !other.All || len(other.Messages) != 3 {
		t.Fatalf("another database: %+v, %v", other, err)
	}
	elsewhere, err := nm.Changes(ctx, all.Rev.UUID, all.Rev.N, `path:"Other/**"`)
	if err != nil || len(elsewhere.Messages) != 0 {
		t.Fatalf("another account's scope: %+v, %v", elsewhere, err)
	}
}
