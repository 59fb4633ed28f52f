package auth

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/mailmirror/mailmirror/config"
)

func testGrant() *Grant {
	return &Grant{RefreshToken: "rt-secret-value", Username: "me@example.com", ClientID: "cid",
		TokenURL: "https://id.example.com/token", Scopes: []string{"a", "b"}, Obtained: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func TestFileStore(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "state", "oauth")
	f := &FileStore{Dir: dir}
	if _, _, err := f.Load(ctx, "work"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Load of nothing: %v", err)
	}
	loc, err := f.Save(ctx, "work", testGrant())
	if err != nil {
		t.Fatal(err)
	}
	if loc.Path != filepath.Join(dir, "work.json") || loc.Keyring != "" || loc.Fallback != "" {
		t.Errorf("location %+v", loc)
	}
	if runtime.GOOS != "windows" {
		for p, want := range map[string]os.FileMode{dir: 0o700, loc.Path: 0o600} {
			st, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != want {
				t.Errorf("%s: mode %04o, want %04o", p, st.Mode().Perm(), want)
			}
		}
	}
	g, _, err := f.Load(ctx, "work")
	if err != nil {
		t.Fatal(err)
	}
	if want := testGrant(); g.RefreshToken != want.RefreshToken || g.Username != want.Username || g.ClientID != want.ClientID ||
		g.TokenURL != want.TokenURL || strings.Join(g.Scopes, " ") != "a b" || !g.Obtained.Equal(want.Obtained) {
		t.Errorf("loaded %+v", g)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("the directory holds %d entries (temporary files left?)", len(entries))
	}
	if err := f.Delete(ctx, "work"); err != nil {
		t.Fatal(err)
	}
	if err := f.Delete(ctx, "work"); err != nil {
		t.Errorf("second Delete: %v", err)
	}
	if _, err := f.Save(ctx, "../evil", testGrant()); err == nil {
		t.Error("an account name with a slash was accepted")
	}
}

// mockKeyring makes the keyring functions use go-keyring's in-memory mock,
// with no D-Bus check.
func mockKeyring(t *testing.T, err error) {
	if err != nil {
		keyring.MockInitWithError(err)
	} else {
		keyring.MockInit()
	}
	old := noBus
	noBus = func() bool { return false }
	t.Cleanup(func() { noBus = old })
}

func TestKeyringStore(t *testing.T) {
	mockKeyring(t, nil)
	ctx := context.Background()
	k := &KeyringStore{Prefix: "/state"}
	if _, _, err := k.Load(ctx, "work"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Load of nothing: %v", err)
	}
	loc, err := k.Save(ctx, "work", testGrant())
	if err != nil || loc.Keyring == "" {
		t.Fatalf("Save: %+v %v", loc, err)
	}
	if s, err := keyring.Get("mailmirror", "work (/state)"); err != nil || !strings.Contains(s, "rt-secret-value") {
		t.Errorf("entry %q, %v", s, err)
	}
	g, _, err := k.Load(ctx, "work")
	if err != nil || g.RefreshToken != "rt-secret-value" {
		t.Errorf("Load: %v", err)
	}
	if err := k.Delete(ctx, "work"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := k.Load(ctx, "work"); !errors.Is(err, ErrNotFound) {
		t.Errorf("after Delete: %v", err)
	}
}

// TestAutoStoreFallback: without a usable credential store the grant goes
// to the file and Save says why; with one, it goes there and the file is
// removed.
func TestAutoStoreFallback(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a := &AutoStore{Keyring: &KeyringStore{Prefix: dir}, File: &FileStore{Dir: filepath.Join(dir, "oauth")}}

	mockKeyring(t, errors.New("org.freedesktop.secrets was not provided by any .service files"))
	loc, err := a.Save(ctx, "work", testGrant())
	if err != nil {
		t.Fatal(err)
	}
	if loc.Path == "" || !strings.Contains(loc.Fallback, "org.freedesktop.secrets") {
		t.Errorf("location %+v, want the file with the reason", loc)
	}
	g, loc, err := a.Load(ctx, "work")
	if err != nil || g.RefreshToken != "rt-secret-value" || loc.Path == "" {
		t.Fatalf("Load: %+v %v", loc, err)
	}
	if err := a.Delete(ctx, "work"); err != nil {
		t.Errorf("Delete without a credential store: %v", err)
	}

	a.File.Save(ctx, "work", testGrant())
	mockKeyring(t, nil)
	loc, err = a.Save(ctx, "work", testGrant())
	if err != nil || loc.Keyring == "" || loc.Fallback != "" {
		t.Fatalf("Save: %+v %v", loc, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "oauth", "work.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the file copy was not removed: %v", err)
	}
	if _, loc, err := a.Load(ctx, "work"); err != nil || loc.Keyring == "" {
		t.Errorf("Load: %+v %v", loc, err)
	}
	if err := a.Delete(ctx, "work"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Load(ctx, "work"); !errors.Is(err, ErrNotFound) {
		t.Errorf("after Delete: %v", err)
	}
}

func TestOpenStore(t *testing.T) {
	for v, want := range map[string]string{"": "*auth.AutoStore", "auto": "*auth.AutoStore", "file": "*auth.FileStore", "keyring": "*auth.KeyringStore"} {
		t.Setenv(EnvCredentialStore, v)
		s, err := OpenStore("/state")
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		if got := strings.TrimSpace(typeName(s)); got != want {
			t.Errorf("%s=%q: %s, want %s", EnvCredentialStore, v, got, want)
		}
	}
	t.Setenv(EnvCredentialStore, "cloud")
	if _, err := OpenStore("/state"); err == nil {
		t.Error("an unknown store was accepted")
	}
}

func typeName(v any) string {
	switch v.(type) {
	case *AutoStore:
		return "*auth.AutoStore"
	case *FileStore:
		return "*auth.FileStore"
	case *KeyringStore:
		return "*auth.KeyringStore"
	}
	return "?"
}

func TestXOAuth2Client(t *testing.T) {
	c := NewXOAuth2Client("me@example.com", "tok")
	mech, ir, err := c.Start()
	if err != nil || mech != "XOAUTH2" || string(ir) != "user=me@example.com\x01auth=Bearer tok\x01\x01" {
		t.Errorf("Start = %q %q %v", mech, ir, err)
	}
	_, err = c.Next([]byte(`{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}`))
	status, ok := IsSASLFailure(err)
	if !ok || status != "400" {
		t.Errorf("Next: %v (%q %v)", err, status, ok)
	}
	a, err := NewAttempt(OAuthBearer, "me", config.Secret("tok2"), "imap.example.com", 993)
	if err != nil {
		t.Fatal(err)
	}
	_, ir, _ = a.Client.Start()
	if !strings.Contains(string(ir), "auth=Bearer tok2") || !strings.Contains(string(ir), "host=imap.example.com") || len(a.Masks) != 2 {
		t.Errorf("OAUTHBEARER ir %q, masks %d", ir, len(a.Masks))
	}
}

func TestRefreshMargin(t *testing.T) {
	for lifetime, want := range map[time.Duration]time.Duration{
		time.Hour: 5 * time.Minute, 10 * time.Minute: 150 * time.Second, 0: 0,
	} {
		if got := refreshMargin(lifetime); got != want {
			t.Errorf("refreshMargin(%v) = %v, want %v", lifetime, got, want)
		}
	}
}

// TestNoSessionBus: without a D-Bus session the keyring is not tried and
// the fallback says why.
func TestNoSessionBus(t *testing.T) {
	if runtime.GOOS == "darwin" || runtime.GOOS == "windows" {
		t.Skip("no Secret Service on " + runtime.GOOS)
	}
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "")
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	if !sessionBusMissing() {
		t.Fatal("a session bus was found")
	}
	dir := t.TempDir()
	a := &AutoStore{Keyring: &KeyringStore{Prefix: dir}, File: &FileStore{Dir: dir}}
	loc, err := a.Save(context.Background(), "work", testGrant())
	if err != nil || !strings.Contains(loc.Fallback, "no D-Bus session bus") {
		t.Errorf("Save: %+v %v", loc, err)
	}
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
	if sessionBusMissing() {
		t.Error("DBUS_SESSION_BUS_ADDRESS was ignored")
	}
}
