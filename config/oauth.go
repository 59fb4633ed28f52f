package config

import (
	"net/url"
	"strings"
)

// validateOAuth checks an account with auth = "xoauth2" or "oauthbearer":
// no password key, and either token_command or the built-in client with
// its endpoints.
func (s *section) validateOAuth(a *Account) {
	header := s.p.lines.accountHeader(s.index)
	for _, k := range []string{"password", "password_command", "password_env"} {
		if s.has(k) {
			s.errorf(k, "cannot be combined with auth = %q, which signs in with an OAuth access token (remove it, or set auth = \"password\")", a.Auth)
		}
	}
	if s.has("token_command") {
		if s.ok("token_command") && strings.TrimSpace(a.TokenCommand) == "" {
			s.errorf("token_command", "must not be empty")
		}
		for _, k := range oauthKeys {
			if s.has(k) {
				s.errorf(k, "has no effect with token_command, which supplies the access tokens (set one of token_command and oauth_client_id)")
			}
		}
		return
	}
	if !s.has("oauth_client_id") {
		s.errorAt(header, "auth = %q needs token_command (a command printing an access token) or oauth_client_id (for mailmirror auth login; see docs/oauth.md)", a.Auth)
		return
	}
	if s.ok("oauth_client_id") && strings.TrimSpace(a.OAuthClientID) == "" {
		s.errorf("oauth_client_id", "must not be empty")
	}
	if s.ok("oauth_client_secret") && a.OAuthClientSecret == "" {
		s.errorf("oauth_client_secret", "must not be empty (leave it out for a client without a secret)")
	}
	for _, u := range []struct {
		key string
		val string
	}{{"oauth_auth_url", a.OAuthAuthURL}, {"oauth_token_url", a.OAuthTokenURL}, {"oauth_device_url", a.OAuthDeviceURL}} {
		if s.bad[u.key] || u.val == "" {
			continue
		}
		if msg := checkEndpointURL(u.val); msg != "" {
			if s.has(u.key) {
				s.errorf(u.key, "%s, got %s", msg, s.got(u.key))
			} else {
				s.errorf(u.key, "%s, got %q", msg, u.val)
			}
		}
	}
	if a.OAuthTokenURL == "" && !s.bad["oauth_token_url"] {
		if s.has("oauth_token_url") {
			s.errorf("oauth_token_url", "must not be empty")
		} else {
			s.errorAt(header, "oauth_token_url: required with oauth_client_id (or set provider)")
		}
	}
	if a.OAuthAuthURL == "" && a.OAuthDeviceURL == "" && !s.bad["oauth_auth_url"] && !s.bad["oauth_device_url"] {
		s.errorAt(header, "oauth_auth_url or oauth_device_url: one is required with oauth_client_id, to sign in (or set provider)")
	}
	if s.ok("oauth_scopes") {
		for _, sc := range a.OAuthScopes {
			if sc == "" || strings.ContainsAny(sc, " \t\r\n\"\\") {
				s.errorf("oauth_scopes", "each scope must be one word without spaces, quotes or backslashes, got %q", sc)
			}
		}
	}
}

// checkEndpointURL returns what is wrong with an OAuth endpoint URL: it
// must be https, or http to a loopback host (a local test server).
func checkEndpointURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return "must be an absolute https URL"
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	case u.Scheme == "http":
		return "must be an https URL (http only to a loopback host): tokens would cross the network in clear text"
	default:
		return "must be an https URL"
	}
	if u.Fragment != "" {
		return "must not have a #fragment"
	}
	return ""
}
