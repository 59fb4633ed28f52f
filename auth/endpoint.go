package auth

import (
	"github.com/mailmirror/mailmirror/config"
)

// Endpoint is an OAuth 2.0 client registration with the provider's URLs.
type Endpoint struct {
	ClientID     string
	ClientSecret config.Secret // "" for a public client
	AuthURL      string        // authorization endpoint (code flow); "" when unused
	TokenURL     string        // token endpoint
	DeviceURL    string        // device authorization endpoint; "" when the provider has none
	Scopes       []string
	// RedirectHost is the host name of the loopback redirect URI of the
	// code flow: "127.0.0.1" (the default) or "localhost" (which some
	// providers require).
	RedirectHost string
}

// EndpointOf returns the endpoint configured for acct (its oauth_* keys,
// with the provider preset already applied by the config package). It
// does no I/O.
func EndpointOf(acct *config.Account) Endpoint {
	return Endpoint{
		ClientID:     acct.OAuthClientID,
		ClientSecret: acct.OAuthClientSecret,
		AuthURL:      acct.OAuthAuthURL,
		TokenURL:     acct.OAuthTokenURL,
		DeviceURL:    acct.OAuthDeviceURL,
		Scopes:       append([]string(nil), acct.OAuthScopes...),
		RedirectHost: acct.OAuthRedirectHost,
	}
}
