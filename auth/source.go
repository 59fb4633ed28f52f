package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mailmirror/mailmirror/config"
)

// Source supplies the access tokens of one account. Implementations are
// safe for concurrent use.
type Source interface {
	// Token returns an access token that is valid for a while yet,
	// refreshing it when it is about to expire.
	Token(ctx context.Context) (config.Secret, error)
	// Reject tells the Source that a server refused tok: the next Token
	// gets a new one.
	Reject(tok config.Secret)
}

// defaultLifetime is assumed for an access token whose expiry the provider
// did not give.
const defaultLifetime = time.Hour

// refreshMargin is how long before its expiry an access token is replaced:
// five minutes, or a quarter of the token's lifetime when that is shorter.
func refreshMargin(lifetime time.Duration) time.Duration {
	return min(5*time.Minute, lifetime/4)
}

// OAuthSource is the built-in Source: it redeems the refresh token that
// mailmirror auth login stored, keeps the access token in memory and
// refreshes it before it expires. A rotated refresh token is stored back.
type OAuthSource struct {
	Account    string // account name: the key in Store, and for messages
	Username   string // the account's username
	Endpoint   Endpoint
	Store      Store
	HTTPClient *http.Client     // nil: a client with a 60 s timeout
	Now        func() time.Time // nil: time.Now

	mu       sync.Mutex
	access   config.Secret
	expiry   time.Time
	lifetime time.Duration
	unsaved  *Grant // a rotated grant the Store did not take yet
	refreshs int
}

func (s *OAuthSource) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Refreshes reports how many times the Source redeemed the refresh token.
func (s *OAuthSource) Refreshes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refreshs
}

// Expiry is when the access token in memory expires (zero when there is
// none).
func (s *OAuthSource) Expiry() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.access == "" {
		return time.Time{}
	}
	return s.expiry
}

// Token implements Source. Errors that only a new sign-in cures wrap
// ErrLoginRequired and tell the user to run mailmirror auth login.
func (s *OAuthSource) Token(ctx context.Context) (config.Secret, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.access != "" && now.Before(s.expiry.Add(-refreshMargin(s.lifetime))) {
		return s.access, nil
	}
	s.access = ""
	g := s.unsaved
	if g == nil {
		var err error
		g, err = s.loadGrant(ctx)
		if err != nil {
			return "", err
		}
	}
	s.refreshs++
	tok, err := Refresh(ctx, s.HTTPClient, s.Endpoint, g.RefreshToken, now)
	if err != nil {
		var pe *ProviderError
		if errors.As(err, &pe) && pe.Code == "invalid_grant" {
			s.unsaved = nil
			return "", s.loginRequired("the provider refused the stored sign-in, which has expired or was revoked (%v)", pe)
		}
		return "", fmt.Errorf("account %q: refresh the access token: %w", s.Account, err)
	}
	if tok.RefreshToken != "" && tok.RefreshToken != g.RefreshToken {
		ng := *g
		ng.RefreshToken = tok.RefreshToken
		ng.Obtained = now
		if _, err := s.Store.Save(ctx, s.Account, &ng); err != nil {
			s.unsaved = &ng // use it, and try to save it again next time
		} else {
			s.unsaved = nil
		}
	} else if s.unsaved != nil {
		if _, err := s.Store.Save(ctx, s.Account, s.unsaved); err == nil {
			s.unsaved = nil
		}
	}
	s.access = tok.AccessToken
	s.expiry = tok.Expiry
	if s.expiry.IsZero() {
		s.expiry = now.Add(defaultLifetime)
	}
	s.lifetime = s.expiry.Sub(now)
	return s.access, nil
}

// loadGrant reads the stored grant and checks it belongs to this
// configuration.
func (s *OAuthSource) loadGrant(ctx context.Context) (*Grant, error) {
	g, _, err := s.Store.Load(ctx, s.Account)
	if errors.Is(err, ErrNotFound) {
		return nil, s.loginRequired("not signed in (%v)", err)
	}
	if err != nil {
		return nil, fmt.Errorf("account %q: %w", s.Account, err)
	}
	if g.ClientID != s.Endpoint.ClientID || g.TokenURL != s.Endpoint.TokenURL {
		return nil, s.loginRequired("the stored sign-in was made with another OAuth client (oauth_client_id or oauth_token_url changed since)")
	}
	if g.Username != "" && !strings.EqualFold(g.Username, s.Username) {
		return nil, s.loginRequired("the stored sign-in was made for username %q, the account now says %q", g.Username, s.Username)
	}
	return g, nil
}

func (s *OAuthSource) loginRequired(format string, args ...any) error {
	return &LoginRequiredError{Account: s.Account, Reason: fmt.Sprintf(format, args...)}
}

// LoginRequiredError says that an account must be signed in again. It
// wraps ErrLoginRequired.
type LoginRequiredError struct {
	Account string
	Reason  string
}

// Error implements the error interface; the message ends with the command
// to run.
func (e *LoginRequiredError) Error() string {
	return fmt.Sprintf("account %q: %s: %s: run \"mailmirror auth login %s\"", e.Account, ErrLoginRequired, e.Reason, e.Account)
}

// Unwrap returns ErrLoginRequired.
func (e *LoginRequiredError) Unwrap() error { return ErrLoginRequired }

// Reject implements Source.
func (s *OAuthSource) Reject(tok config.Secret) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.access == tok {
		s.access = ""
	}
}

// CommandSource runs the account's token_command for every token: the
// helper it names keeps its own tokens and refreshes them.
type CommandSource struct {
	Account string
	Command string
}

// Token implements Source.
func (s *CommandSource) Token(ctx context.Context) (config.Secret, error) {
	return runTokenCommand(ctx, s.Account, s.Command)
}

// Reject implements Source; the next Token runs the command again.
func (s *CommandSource) Reject(config.Secret) {}

// NewSource returns a new Source for an account with auth = "xoauth2" or
// "oauthbearer": a CommandSource for token_command, else an OAuthSource
// whose grant is in store (nil: OpenStore(acct.StateDir)).
func NewSource(acct *config.Account, store Store) (Source, error) {
	if MechanismOf(acct.Auth) == "" {
		return nil, fmt.Errorf("account %q: auth is %q, not an OAuth mechanism", acct.Name, acct.Auth)
	}
	if acct.TokenCommand != "" {
		return &CommandSource{Account: acct.Name, Command: acct.TokenCommand}, nil
	}
	if store == nil {
		var err error
		if store, err = OpenStore(acct.StateDir); err != nil {
			return nil, fmt.Errorf("account %q: %w", acct.Name, err)
		}
	}
	return &OAuthSource{Account: acct.Name, Username: acct.Username, Endpoint: EndpointOf(acct), Store: store}, nil
}

// registry holds the process-wide Source of each account configuration.
var registry struct {
	mu sync.Mutex
	m  map[string]Source
}

// registryKey identifies an account configuration: a change of any
// setting that matters gives a new Source.
func registryKey(acct *config.Account) string {
	return strings.Join([]string{acct.StateDir, acct.Name, acct.Username, acct.Auth, acct.TokenCommand,
		acct.OAuthClientID, acct.OAuthClientSecret.Reveal(), acct.OAuthTokenURL, strings.Join(acct.OAuthScopes, " ")}, "\x00")
}

// ForAccount returns the Source of the account, the same for every caller
// in the process (so that all its connections share one access token and
// refresh it once), made by NewSource on first use.
func ForAccount(acct *config.Account) (Source, error) {
	key := registryKey(acct)
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if src, ok := registry.m[key]; ok {
		return src, nil
	}
	src, err := NewSource(acct, nil)
	if err != nil {
		return nil, err
	}
	if registry.m == nil {
		registry.m = map[string]Source{}
	}
	registry.m[key] = src
	return src, nil
}

// Register makes src the Source ForAccount returns for acct (tests, and
// programs that build their own), and returns a function that undoes it.
func Register(acct *config.Account, src Source) (undo func()) {
	key := registryKey(acct)
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if registry.m == nil {
		registry.m = map[string]Source{}
	}
	old, had := registry.m[key]
	registry.m[key] = src
	return func() {
		registry.mu.Lock()
		defer registry.mu.Unlock()
		if had {
			registry.m[key] = old
		} else {
			delete(registry.m, key)
		}
	}
}

// IsPermanent reports whether a token error needs the user (a new
// sign-in, a fixed configuration) rather than a retry later: it wraps
// ErrLoginRequired, or is a provider's refusal other than a temporary
// one.
func IsPermanent(err error) bool {
	if errors.Is(err, ErrLoginRequired) {
		return true
	}
	var pe *ProviderError
	if errors.As(err, &pe) {
		return !slices.Contains([]string{"temporarily_unavailable", "server_error", "slow_down", "authorization_pending"}, pe.Code)
	}
	return false
}
