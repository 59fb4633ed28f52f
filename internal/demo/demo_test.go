package demo

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/pop3pull"
	"github.com/mailmirror/mailmirror/state"
	"github.com/mailmirror/mailmirror/syncer"
)

func count(t *testing.T, dir string) int {
	n := 0
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && (filepath.Base(filepath.Dir(p)) == "cur" || filepath.Base(filepath.Dir(p)) == "new") {
			n++
		}
		return nil
	})
	return n
}

// The demo's servers and config work with the sync engine and the POP3
// poller (the daemon-driven run is tested through the CLI).
func TestServersAndConfigSync(t *testing.T) {
	s, err := StartServers(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	dir := t.TempDir()
	path, err := WriteConfig(dir, s)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("the demo config does not load: %v", err)
	}
	db, err := state.Open(cfg.StateDir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := syncer.SyncAccount(ctx, cfg.Account("demo"), db, syncer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Down.New != 48 {
		t.Errorf("IMAP: %d downloaded, want 48", st.Down.New)
	}
	res, err := pop3pull.SyncAccount(ctx, cfg, cfg.Account("demo-pop"), db)
	if err != nil {
		t.Fatal(err)
	}
	if res.Downloaded != 6 {
		t.Errorf("POP3: %d downloaded, want 6", res.Downloaded)
	}
	if _, err := s.Deliver(); err != nil {
		t.Fatal(err)
	}
	st, err = syncer.SyncAccount(ctx, cfg.Account("demo"), db, syncer.Options{})
	if err != nil || st.Down.New != 1 {
		t.Errorf("after Deliver: %v %v", st, err)
	}
	if n := count(t, filepath.Join(dir, "Mail", "demo")); n != 49 {
		t.Errorf("Maildir holds %d messages, want 49", n)
	}
}

// Fresh empties only a directory a previous demo made, and refuses any
// other non-empty one without touching it.
func TestFresh(t *testing.T) {
	if again, err := Fresh(filepath.Join(t.TempDir(), "new")); again || err != nil {
		t.Errorf("missing dir: %v, %v", again, err)
	}
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "notes.txt"), []byte("mine"), 0o600)
	if _, err := Fresh(other); err == nil || !strings.Contains(err.Error(), "was not made by mailmirror demo") {
		t.Errorf("foreign dir: %v", err)
	}
	if data, err := os.ReadFile(filepath.Join(other, "notes.txt")); err != nil || string(data) != "mine" {
		t.Errorf("foreign dir touched")
	}
	s, err := StartServers(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	dir := t.TempDir()
	if _, err := WriteConfig(dir, s); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "Mail", "demo", "INBOX", "cur"), 0o700)
	os.WriteFile(filepath.Join(dir, "keep.txt"), nil, 0o600)
	if again, err := Fresh(dir); !again || err != nil {
		t.Fatalf("demo dir: %v, %v", again, err)
	}
	for name, want := range map[string]bool{"config.toml": false, "Mail": false, "keep.txt": true} {
		if _, err := os.Stat(filepath.Join(dir, name)); (err == nil) != want {
			t.Errorf("%s: present %v, want %v", name, err == nil, want)
		}
	}
}
