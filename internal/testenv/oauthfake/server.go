// Package oauthfake is a local OAuth 2.0 authorization server for tests:
// the authorization code grant with PKCE (S256), the device authorization
// grant (RFC 8628), refresh tokens (optionally rotated), expired and
// revoked tokens, and a token introspection endpoint (RFC 7662) that
// Dovecot's oauth2 passdb can use to check the tokens mail clients
// present.
//
// The "user" of the fake is a name: the code flow approves the login_hint
// the client sent (or Options.DefaultUser) at once; a device code is
// approved by ApproveDevice or by a POST to the verification URI. Tokens
// are random strings known only to the server and the client.
package oauthfake

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Paths of the endpoints below Server.URL.
const (
	PathAuthorize  = "/authorize"
	PathToken      = "/token"
	PathDevice     = "/device"
	PathVerify     = "/verify" // the device flow's verification URI
	PathIntrospect = "/introspect"
)

// GrantDeviceCode is the grant_type of device flow polls.
const GrantDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"

// Options configure a Server. A nil *Options means defaults.
type Options struct {
	// ClientID is the only client accepted; default "mailmirror-test".
	ClientID string
	// ClientSecret, when set, must be sent with every token request (in
	// the form or with HTTP Basic).
	ClientSecret string
	// AccessTokenLifetime is the expires_in of access tokens; default 1h.
	AccessTokenLifetime time.Duration
	// RotateRefreshTokens makes every refresh issue a new refresh token
	// and revoke the old one.
	RotateRefreshTokens bool
	// DefaultUser is approved by the code flow when the client sent no
	// login_hint; default "user".
	DefaultUser string
	// DeviceInterval is the polling interval the device flow asks for, in
	// seconds; default 0 (poll at will: the tests shorten the client's
	// waits).
	DeviceInterval int
	// OnDevice, when set, is called (in its own goroutine) with each user
	// code the device endpoint issues.
	OnDevice func(userCode string)
}

// Stats counts what the server did.
type Stats struct {
	CodeGrants      int // authorization codes redeemed
	DeviceGrants    int // device codes redeemed
	Refreshes       int // successful refresh grants
	RefusedRefresh  int // refresh grants refused (revoked or unknown)
	PendingPolls    int // device polls answered authorization_pending
	Introspections  int // introspection requests
	ActiveAnswers   int // introspections answered active
	InactiveAnswers int // introspections answered inactive
}

// Server is a running fake authorization server.
type Server struct {
	// URL is the base URL, http://127.0.0.1:PORT.
	URL string

	opts Options
	hs   *httptest.Server

	mu       sync.Mutex
	codes    map[string]*authCode
	devices  map[string]*deviceAuth // by device code
	byUser   map[string]*deviceAuth // by user code
	access   map[string]*grant
	refresh  map[string]*grant
	stats    Stats
	denyNext bool
}

type authCode struct {
	user, clientID, redirectURI, challenge, scope string
	used                                          bool
}

type deviceAuth struct {
	deviceCode, userCode, scope string
	user                        string // set when approved
	denied, expired, used       bool
}

type grant struct {
	user, scope string
	expiry      time.Time
	revoked     bool
}

// Start starts a server on 127.0.0.1. Call Close when done.
func Start(opts *Options) *Server {
	s := &Server{
		codes: map[string]*authCode{}, devices: map[string]*deviceAuth{}, byUser: map[string]*deviceAuth{},
		access: map[string]*grant{}, refresh: map[string]*grant{},
	}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.ClientID == "" {
		s.opts.ClientID = "mailmirror-test"
	}
	if s.opts.AccessTokenLifetime == 0 {
		s.opts.AccessTokenLifetime = time.Hour
	}
	if s.opts.DefaultUser == "" {
		s.opts.DefaultUser = "user"
	}
	mux := http.NewServeMux()
	mux.HandleFunc(PathAuthorize, s.authorize)
	mux.HandleFunc(PathToken, s.token)
	mux.HandleFunc(PathDevice, s.device)
	mux.HandleFunc(PathVerify, s.verify)
	mux.HandleFunc(PathIntrospect, s.introspect)
	s.hs = httptest.NewServer(mux)
	s.URL = s.hs.URL
	return s
}

// New starts a server that is closed when the test ends.
func New(t testing.TB, opts *Options) *Server {
	t.Helper()
	s := Start(opts)
	t.Cleanup(s.Close)
	return s
}

// Close stops the server.
func (s *Server) Close() { s.hs.Close() }

// ClientID is the client the server accepts.
func (s *Server) ClientID() string { return s.opts.ClientID }

// AuthURL, TokenURL, DeviceURL and IntrospectURL are the endpoints.
func (s *Server) AuthURL() string       { return s.URL + PathAuthorize }
func (s *Server) TokenURL() string      { return s.URL + PathToken }
func (s *Server) DeviceURL() string     { return s.URL + PathDevice }
func (s *Server) VerifyURL() string     { return s.URL + PathVerify }
func (s *Server) IntrospectURL() string { return s.URL + PathIntrospect }

// Stats returns the counters so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

func random(prefix string) string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// issue makes a new access token (and a refresh token when withRefresh)
// for user. The caller holds s.mu.
func (s *Server) issue(user, scope string, withRefresh bool) (access, refresh string) {
	access = random("at-")
	s.access[access] = &grant{user: user, scope: scope, expiry: time.Now().Add(s.opts.AccessTokenLifetime)}
	if withRefresh {
		refresh = random("rt-")
		s.refresh[refresh] = &grant{user: user, scope: scope}
	}
	return access, refresh
}

// Issue makes tokens for user directly, as if the user had signed in.
func (s *Server) Issue(user string, scopes ...string) (access, refresh string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issue(user, strings.Join(scopes, " "), true)
}

// ExpireAccessTokens expires every access token issued so far: the
// introspection endpoint calls them inactive from now on.
func (s *Server) ExpireAccessTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	past := time.Now().Add(-time.Second)
	for _, g := range s.access {
		g.expiry = past
	}
}

// RevokeUser revokes every refresh and access token of user, as a user
// removing the application's access at the provider does.
func (s *Server) RevokeUser(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, g := range s.refresh {
		if g.user == user {
			g.revoked = true
		}
	}
	for _, g := range s.access {
		if g.user == user {
			g.revoked = true
		}
	}
}

// DenyNextAuthorization makes the next authorization (code flow) end with
// error=access_denied, as a user clicking "Cancel" does.
func (s *Server) DenyNextAuthorization() {
	s.mu.Lock()
	s.denyNext = true
	s.mu.Unlock()
}

// ApproveDevice approves the device authorization with userCode as user.
func (s *Server) ApproveDevice(userCode, user string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.byUser[userCode]
	if !ok {
		return fmt.Errorf("oauthfake: no device authorization with user code %q", userCode)
	}
	d.user = user
	return nil
}

// DenyDevice denies the device authorization with userCode.
func (s *Server) DenyDevice(userCode string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.byUser[userCode]
	if !ok {
		return fmt.Errorf("oauthfake: no device authorization with user code %q", userCode)
	}
	d.denied = true
	return nil
}

// ExpireDevice makes the device authorization with userCode expire.
func (s *Server) ExpireDevice(userCode string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.byUser[userCode]
	if !ok {
		return fmt.Errorf("oauthfake: no device authorization with user code %q", userCode)
	}
	d.expired = true
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// isLoopbackRedirect accepts http redirect URIs to 127.0.0.1, [::1] or
// localhost on any port, as RFC 8252 section 7.3 asks.
func isLoopbackRedirect(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.Port() == "" {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// authorize is the authorization endpoint: it approves at once and
// redirects the browser back with a code.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirect := q.Get("redirect_uri")
	if q.Get("client_id") != s.opts.ClientID {
		http.Error(w, "unknown client_id", http.StatusBadRequest)
		return
	}
	if !isLoopbackRedirect(redirect) {
		http.Error(w, "redirect_uri must be a loopback http URI with a port", http.StatusBadRequest)
		return
	}
	back, _ := url.Parse(redirect)
	bq := back.Query()
	bq.Set("state", q.Get("state"))
	fail := func(code, desc string) {
		bq.Set("error", code)
		bq.Set("error_description", desc)
		back.RawQuery = bq.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	}
	s.mu.Lock()
	deny := s.denyNext
	s.denyNext = false
	s.mu.Unlock()
	switch {
	case deny:
		fail("access_denied", "The user denied the request.")
		return
	case q.Get("response_type") != "code":
		fail("unsupported_response_type", "response_type must be code")
		return
	case q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		fail("invalid_request", "PKCE with S256 is required")
		return
	}
	user := q.Get("login_hint")
	if user == "" {
		user = s.opts.DefaultUser
	}
	code := random("code-")
	s.mu.Lock()
	s.codes[code] = &authCode{user: user, clientID: q.Get("client_id"), redirectURI: redirect,
		challenge: q.Get("code_challenge"), scope: q.Get("scope")}
	s.mu.Unlock()
	bq.Set("code", code)
	back.RawQuery = bq.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

// clientOK checks the client's id and secret (form or HTTP Basic).
func (s *Server) clientOK(r *http.Request) bool {
	id, secret, basic := r.BasicAuth()
	if !basic {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	if id != s.opts.ClientID {
		return false
	}
	return s.opts.ClientSecret == "" || subtle.ConstantTimeCompare([]byte(secret), []byte(s.opts.ClientSecret)) == 1
}

func (s *Server) tokenAnswer(w http.ResponseWriter, access, refresh, scope string) {
	resp := map[string]any{
		"access_token": access,
		"token_type":   "Bearer",
		"expires_in":   int(s.opts.AccessTokenLifetime / time.Second),
		"scope":        scope,
	}
	if refresh != "" {
		resp["refresh_token"] = refresh
	}
	writeJSON(w, http.StatusOK, resp)
}

// token is the token endpoint.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "POST required")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "bad form")
		return
	}
	if !s.clientOK(r) {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "unknown client or wrong secret")
		return
	}
	f := r.PostForm
	s.mu.Lock()
	defer s.mu.Unlock()
	switch f.Get("grant_type") {
	case "authorization_code":
		c, ok := s.codes[f.Get("code")]
		if !ok || c.used {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "unknown or used code")
			return
		}
		c.used = true
		if f.Get("redirect_uri") != c.redirectURI {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri differs from the authorization request")
			return
		}
		sum := sha256.Sum256([]byte(f.Get("code_verifier")))
		if base64.RawURLEncoding.EncodeToString(sum[:]) != c.challenge {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "PKCE verification failed")
			return
		}
		s.stats.CodeGrants++
		a, rt := s.issue(c.user, c.scope, true)
		s.tokenAnswer(w, a, rt, c.scope)
	case "refresh_token":
		g, ok := s.refresh[f.Get("refresh_token")]
		if !ok || g.revoked {
			s.stats.RefusedRefresh++
			oauthError(w, http.StatusBadRequest, "invalid_grant", "Token has been expired or revoked.")
			return
		}
		s.stats.Refreshes++
		a, _ := s.issue(g.user, g.scope, false)
		rt := ""
		if s.opts.RotateRefreshTokens {
			g.revoked = true
			_, rt = s.issue(g.user, g.scope, true)
			// issue made a second access token with the refresh token;
			// only a is handed out.
		}
		s.tokenAnswer(w, a, rt, g.scope)
	case GrantDeviceCode:
		d, ok := s.devices[f.Get("device_code")]
		switch {
		case !ok || d.used:
			oauthError(w, http.StatusBadRequest, "invalid_grant", "unknown or used device code")
		case d.denied:
			oauthError(w, http.StatusBadRequest, "access_denied", "The user denied the request.")
		case d.expired:
			oauthError(w, http.StatusBadRequest, "expired_token", "The device code expired.")
		case d.user == "":
			s.stats.PendingPolls++
			oauthError(w, http.StatusBadRequest, "authorization_pending", "")
		default:
			d.used = true
			s.stats.DeviceGrants++
			a, rt := s.issue(d.user, d.scope, true)
			s.tokenAnswer(w, a, rt, d.scope)
		}
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "")
	}
}

// device is the device authorization endpoint.
func (s *Server) device(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "POST required")
		return
	}
	if err := r.ParseForm(); err != nil || !s.clientOK(r) {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "unknown client or wrong secret")
		return
	}
	d := &deviceAuth{deviceCode: random("dc-"), userCode: userCode(), scope: r.PostForm.Get("scope")}
	s.mu.Lock()
	s.devices[d.deviceCode] = d
	s.byUser[d.userCode] = d
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"device_code":               d.deviceCode,
		"user_code":                 d.userCode,
		"verification_uri":          s.VerifyURL(),
		"verification_uri_complete": s.VerifyURL() + "?user_code=" + d.userCode,
		"expires_in":                900,
		"interval":                  s.opts.DeviceInterval,
	})
	if s.opts.OnDevice != nil {
		go s.opts.OnDevice(d.userCode)
	}
}

// userCode returns a code like "BCDF-GHJK".
func userCode() string {
	const letters = "BCDFGHJKLMNPQRSTVWXZ"
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return string(b[:4]) + "-" + string(b[4:])
}

// verify is the device flow's verification page: a POST with user_code
// and user approves (deny=1 denies).
func (s *Server) verify(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "POST user_code=CODE&user=NAME to approve, add deny=1 to deny")
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	var err error
	if r.PostForm.Get("deny") != "" {
		err = s.DenyDevice(r.PostForm.Get("user_code"))
	} else {
		err = s.ApproveDevice(r.PostForm.Get("user_code"), r.PostForm.Get("user"))
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	fmt.Fprintln(w, "done")
}

// introspect is the token introspection endpoint (RFC 7662), in the form
// Dovecot's oauth2 passdb reads with introspection_mode = post.
func (s *Server) introspect(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	tok := r.Form.Get("token")
	if tok == "" {
		// introspection_mode = auth sends the token as a Bearer header.
		tok, _ = strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Introspections++
	g, ok := s.access[tok]
	if !ok || g.revoked || !time.Now().Before(g.expiry) {
		s.stats.InactiveAnswers++
		writeJSON(w, http.StatusOK, map[string]any{"active": false})
		return
	}
	s.stats.ActiveAnswers++
	writeJSON(w, http.StatusOK, map[string]any{
		"active":     true,
		"username":   g.user,
		"scope":      g.scope,
		"client_id":  s.opts.ClientID,
		"token_type": "Bearer",
		"exp":        g.expiry.Unix(),
	})
}

// ErrUnknown is returned for tokens the server never issued.
var ErrUnknown = errors.New("oauthfake: unknown token")

// Active reports whether the access token tok is valid now, and for whom.
func (s *Server) Active(tok string) (user string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.access[tok]
	if !ok {
		return "", ErrUnknown
	}
	if g.revoked || !time.Now().Before(g.expiry) {
		return g.user, errors.New("oauthfake: token inactive")
	}
	return g.user, nil
}

// Tokens returns every access and refresh token the server issued, for
// tests that check none leaked into logs or messages.
func (s *Server) Tokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.access)+len(s.refresh))
	for t := range s.access {
		out = append(out, t)
	}
	for t := range s.refresh {
		out = append(out, t)
	}
	return out
}
