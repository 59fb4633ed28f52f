package tags

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mailmirror/mailmirror/internal/testenv"
)

// TestDumpAfterRename: Dump reads tags (hex-decoded) from the database
// alone, so it works where Show fails: a file renamed since indexing.
func TestDumpAfterRename(t *testing.T) {
	testenv.RequireNotmuch(t)
	dir := t.TempDir()
	mail := filepath.Join(dir, "m")
	for _, sub := range []string{"cur", "new", "tmp"} {
		os.MkdirAll(filepath.Join(mail, sub), 0o700)
	}
	cfg := filepath.Join(dir, "cfg")
	os.WriteFile(cfg, []byte("[database]\npath="+mail+"\n[new]\ntags=inbox\n"), 0o600)
	file := filepath.Join(mail, "cur", "1:2,S")
	os.WriteFile(file, []byte("Message-Id: <d1@x>\nSubject: s\n\nb\n"), 0o600)
	env := append(os.Environ(), "NOTMUCH_CONFIG="+cfg)
	for _, args := range [][]string{{"new", "--quiet"}, {"tag", "+Work/x y", "--", "id:d1@x"}} {
		cmd := exec.Command("notmuch", args...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("notmuch %v: %v %s", args, err, out)
		}
	}
	os.Rename(file, filepath.Join(mail, "cur", "1:2,RS"))
	n, err := Open(context.Background(), "", env)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Show(context.Background(), "id:d1@x"); err == nil {
		t.Log("notmuch show no longer fails on a renamed file")
	}
	msgs, err := n.Dump(context.Background(), "lastmod:1..")
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].ID != "d1@x" || !slices.Equal(msgs[0].Tags, []string{"Work/x y", "inbox"}) {
		t.Fatalf("Dump = %+v", msgs)
	}
}
