package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/mailmirror/mailmirror/config"
)

// Grant is what a sign-in leaves behind: the refresh token and what it was
// issued for, so that a changed configuration is noticed.
type Grant struct {
	RefreshToken config.Secret
	Username     string   // the account's username at sign-in
	ClientID     string   // the client the token was issued to
	TokenURL     string   // the token endpoint it is redeemed at
	Scopes       []string // the scopes asked for
	Obtained     time.Time
}

// grantJSON is the stored form of a Grant (config.Secret marshals as "***").
type grantJSON struct {
	RefreshToken string    `json:"refresh_token"`
	Username     string    `json:"username"`
	ClientID     string    `json:"client_id"`
	TokenURL     string    `json:"token_url"`
	Scopes       []string  `json:"scopes,omitempty"`
	Obtained     time.Time `json:"obtained"`
}

func encodeGrant(g *Grant) ([]byte, error) {
	return json.Marshal(grantJSON{
		RefreshToken: g.RefreshToken.Reveal(), Username: g.Username, ClientID: g.ClientID,
		TokenURL: g.TokenURL, Scopes: g.Scopes, Obtained: g.Obtained.UTC(),
	})
}

func decodeGrant(b []byte) (*Grant, error) {
	var j grantJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, errors.New("the stored sign-in is not valid JSON")
	}
	if j.RefreshToken == "" {
		return nil, errors.New("the stored sign-in holds no refresh token")
	}
	return &Grant{RefreshToken: config.Secret(j.RefreshToken), Username: j.Username, ClientID: j.ClientID,
		TokenURL: j.TokenURL, Scopes: j.Scopes, Obtained: j.Obtained}, nil
}

// ErrNotFound is returned by Store.Load when no grant is stored for the
// account.
var ErrNotFound = errors.New("no stored sign-in")

// Location says where a grant is kept, for messages.
type Location struct {
	Keyring string // name of the OS credential store holding it; "" when in a file
	Path    string // the file holding it, when not in the credential store
	// Fallback is set when the grant went to a file because the OS
	// credential store could not be used; it says why.
	Fallback string
}

// String describes the location for a person.
func (l Location) String() string {
	if l.Keyring != "" {
		return l.Keyring
	}
	return fmt.Sprintf("the file %s (readable by you only)", l.Path)
}

// Store keeps one grant per account.
type Store interface {
	// Load returns the account's grant and where it was found; an error
	// wrapping ErrNotFound when there is none.
	Load(ctx context.Context, account string) (*Grant, Location, error)
	// Save stores the account's grant, replacing any other, and says
	// where it went.
	Save(ctx context.Context, account string, g *Grant) (Location, error)
	// Delete removes the account's grant from every place it may be in;
	// no grant is not an error.
	Delete(ctx context.Context, account string) error
}

// Credential store selection, from the environment variable
// MAILMIRROR_CREDENTIAL_STORE.
const (
	EnvCredentialStore = "MAILMIRROR_CREDENTIAL_STORE"
	StoreAuto          = "auto"    // the OS credential store, else a file (the default)
	StoreKeyring       = "keyring" // the OS credential store only
	StoreFile          = "file"    // a file in state_dir only
)

// OpenStore returns the credential store for a state directory, as chosen
// by $MAILMIRROR_CREDENTIAL_STORE (StoreAuto when unset). It does no I/O.
func OpenStore(stateDir string) (Store, error) {
	file := &FileStore{Dir: filepath.Join(stateDir, "oauth")}
	kr := &KeyringStore{Prefix: stateDir}
	switch v := strings.ToLower(os.Getenv(EnvCredentialStore)); v {
	case "", StoreAuto:
		return &AutoStore{Keyring: kr, File: file}, nil
	case StoreKeyring:
		return kr, nil
	case StoreFile:
		return file, nil
	default:
		return nil, fmt.Errorf("%s=%q: must be %q, %q or %q", EnvCredentialStore, v, StoreAuto, StoreKeyring, StoreFile)
	}
}

// FileStore keeps each grant in Dir/<account>.json, mode 0600, in a
// directory of mode 0700.
type FileStore struct {
	Dir string
}

func (f *FileStore) path(account string) (string, error) {
	if account == "" || account == "." || account == ".." || strings.ContainsAny(account, `/\`+"\x00") {
		return "", fmt.Errorf("account name %q cannot name a file", account)
	}
	return filepath.Join(f.Dir, account+".json"), nil
}

// Load implements Store.
func (f *FileStore) Load(_ context.Context, account string) (*Grant, Location, error) {
	p, err := f.path(account)
	if err != nil {
		return nil, Location{}, err
	}
	loc := Location{Path: p}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, loc, fmt.Errorf("%w for account %q", ErrNotFound, account)
	}
	if err != nil {
		return nil, loc, fmt.Errorf("read the stored sign-in: %w", err)
	}
	g, err := decodeGrant(b)
	if err != nil {
		return nil, loc, fmt.Errorf("%s: %w", p, err)
	}
	return g, loc, nil
}

// Save implements Store: it writes a temporary file, syncs it and renames
// it into place.
func (f *FileStore) Save(_ context.Context, account string, g *Grant) (Location, error) {
	p, err := f.path(account)
	if err != nil {
		return Location{}, err
	}
	loc := Location{Path: p}
	b, err := encodeGrant(g)
	if err != nil {
		return loc, err
	}
	if err := os.MkdirAll(f.Dir, 0o700); err != nil {
		return loc, fmt.Errorf("store the sign-in: %w", err)
	}
	tmp, err := os.CreateTemp(f.Dir, "."+account+".*.tmp")
	if err != nil {
		return loc, fmt.Errorf("store the sign-in: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		tmp.Close()
		return loc, fmt.Errorf("store the sign-in: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return loc, fmt.Errorf("store the sign-in: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return loc, fmt.Errorf("store the sign-in: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return loc, fmt.Errorf("store the sign-in: %w", err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return loc, fmt.Errorf("store the sign-in: %w", err)
	}
	if d, err := os.Open(f.Dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return loc, nil
}

// Delete implements Store.
func (f *FileStore) Delete(_ context.Context, account string) error {
	p, err := f.path(account)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove the stored sign-in: %w", err)
	}
	return nil
}

// noBus is sessionBusMissing; tests that mock the keyring replace it.
var noBus = sessionBusMissing

// keyringService is the service name of mailmirror's entries in the OS
// credential store.
const keyringService = "mailmirror"

// KeyringStore keeps grants in the OS credential store: the Secret Service
// (GNOME Keyring, KWallet, KeePassXC) over D-Bus on Linux and the BSDs, the
// Keychain on macOS, the Credential Manager on Windows. Entries are named
// service "mailmirror", user "ACCOUNT (PREFIX)", where Prefix is the state
// directory, so that two configurations never share an entry.
type KeyringStore struct {
	Prefix string
}

// KeyringName names the OS credential store for messages.
func KeyringName() string {
	switch runtime.GOOS {
	case "darwin":
		return "the macOS Keychain"
	case "windows":
		return "the Windows Credential Manager"
	default:
		return "the Secret Service keyring"
	}
}

func (k *KeyringStore) user(account string) string {
	if k.Prefix == "" {
		return account
	}
	return account + " (" + k.Prefix + ")"
}

// errNoSessionBus says why there is no Secret Service: no D-Bus session.
var errNoSessionBus = errors.New("no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set, as on a server without a desktop session), so no Secret Service")

// sessionBusMissing reports, on systems that use the Secret Service,
// whether there is no D-Bus session bus to reach it: then the keyring is
// not tried at all (it would try to launch a bus of its own).
func sessionBusMissing() bool {
	if runtime.GOOS == "darwin" || runtime.GOOS == "windows" {
		return false
	}
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") != "" {
		return false
	}
	if dir := os.Getenv("XDG_RUNTIME_DIR"); dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "bus")); err == nil {
			return false
		}
	}
	return true
}

// keyringCall runs f, giving up when ctx ends: a locked keyring may wait
// for the user to unlock it.
func keyringCall[T any](ctx context.Context, f func() (T, error)) (T, error) {
	if noBus() {
		var zero T
		return zero, errNoSessionBus
	}
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := f()
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// Load implements Store.
func (k *KeyringStore) Load(ctx context.Context, account string) (*Grant, Location, error) {
	loc := Location{Keyring: KeyringName()}
	s, err := keyringCall(ctx, func() (string, error) { return keyring.Get(keyringService, k.user(account)) })
	if errors.Is(err, keyring.ErrNotFound) {
		return nil, loc, fmt.Errorf("%w for account %q", ErrNotFound, account)
	}
	if err != nil {
		return nil, loc, fmt.Errorf("%s: %w", KeyringName(), err)
	}
	g, err := decodeGrant([]byte(s))
	if err != nil {
		return nil, loc, fmt.Errorf("%s: %w", KeyringName(), err)
	}
	return g, loc, nil
}

// Save implements Store.
func (k *KeyringStore) Save(ctx context.Context, account string, g *Grant) (Location, error) {
	loc := Location{Keyring: KeyringName()}
	b, err := encodeGrant(g)
	if err != nil {
		return loc, err
	}
	_, err = keyringCall(ctx, func() (struct{}, error) {
		return struct{}{}, keyring.Set(keyringService, k.user(account), string(b))
	})
	if err != nil {
		return loc, fmt.Errorf("%s: %w", KeyringName(), err)
	}
	return loc, nil
}

// Delete implements Store.
func (k *KeyringStore) Delete(ctx context.Context, account string) error {
	_, err := keyringCall(ctx, func() (struct{}, error) {
		return struct{}{}, keyring.Delete(keyringService, k.user(account))
	})
	if err != nil && !errors.Is(err, keyring.ErrNotFound) {
		return fmt.Errorf("%s: %w", KeyringName(), err)
	}
	return nil
}

// AutoStore uses the OS credential store and falls back to a file when it
// cannot be used (no Secret Service running, as on a headless server; an
// entry too big for it). Save reports the fallback in Location.Fallback.
type AutoStore struct {
	Keyring Store
	File    *FileStore
}

// Load implements Store: the credential store first, then the file.
func (a *AutoStore) Load(ctx context.Context, account string) (*Grant, Location, error) {
	g, loc, kerr := a.Keyring.Load(ctx, account)
	if kerr == nil {
		return g, loc, nil
	}
	g, loc, ferr := a.File.Load(ctx, account)
	if ferr == nil {
		return g, loc, nil
	}
	if errors.Is(ferr, ErrNotFound) && !errors.Is(kerr, ErrNotFound) && ctx.Err() == nil {
		// Not in the file, and the credential store could not be read:
		// say both.
		return nil, loc, fmt.Errorf("%w for account %q (and %v)", ErrNotFound, account, kerr)
	}
	return nil, loc, ferr
}

// Save implements Store: the credential store when it works (and then the
// file is removed), else the file.
func (a *AutoStore) Save(ctx context.Context, account string, g *Grant) (Location, error) {
	loc, kerr := a.Keyring.Save(ctx, account, g)
	if kerr == nil {
		_ = a.File.Delete(ctx, account)
		return loc, nil
	}
	if ctx.Err() != nil {
		return loc, kerr
	}
	loc, err := a.File.Save(ctx, account, g)
	if err != nil {
		return loc, err
	}
	loc.Fallback = kerr.Error()
	return loc, nil
}

// Delete implements Store: from both places. A credential store that
// cannot be reached holds nothing to remove.
func (a *AutoStore) Delete(ctx context.Context, account string) error {
	if err := a.File.Delete(ctx, account); err != nil {
		return err
	}
	if _, _, err := a.Keyring.Load(ctx, account); err != nil {
		return nil
	}
	return a.Keyring.Delete(ctx, account)
}
