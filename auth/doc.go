// Package auth signs mailmirror in to mail servers with OAuth 2.0: it
// obtains a refresh token once (the device authorization grant of RFC 8628,
// or the authorization code grant with PKCE, RFC 7636, and a redirect to a
// loopback listener, RFC 8252), keeps it in the operating system's
// credential store (or, where there is none, in a file readable by its
// owner only), refreshes access tokens before they expire, and presents
// them to IMAP and POP3 servers with the SASL mechanisms XOAUTH2 and
// OAUTHBEARER (RFC 7628).
//
// A Source supplies access tokens for one account: the built-in one
// (OAuthSource, from the stored refresh token) or a token_command
// (CommandSource). ForAccount returns the process-wide Source of an
// account, shared by every connection so that a token is refreshed once.
// Login runs one sign-in on a connection and, when the server refuses the
// token, gets a fresh one and tries once more.
//
// Tokens are config.Secret values: they print as "***", and no error of
// this package contains one.
package auth
