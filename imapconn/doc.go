// Package imapconn is mailmirror's IMAP transport: everything below the
// sync engine and above go-imap's client.
//
// Dial connects to an account's server (implicit TLS, STARTTLS, or plain
// TCP when the account says tls = "none"), verifies the certificate
// unless the account turns that off, logs in (LOGIN, AUTHENTICATE PLAIN
// when LOGIN is disabled, XOAUTH2 or OAUTHBEARER with a token from the
// auth package) and returns a Conn: the go-imap client plus what the
// engine needs of the connection (the selected mailbox, whether CONDSTORE
// is on, the read timeout). After the login it turns COMPRESS=DEFLATE
// (RFC 4978) on where the server offers it and the account does not say
// compress = false: go-imap, which has no COMPRESS, keeps speaking plain
// IMAP to the connection wrapper, which deflates and inflates below it
// (compress.go). Every byte on the wire is counted (Counters);
// a protocol trace (DebugWriter) never shows a password or token.
//
// Pool keeps an account's logged-in connections between passes and hands
// out at most max_connections at once; a connection that rested for a
// while is checked with a NOOP before it is handed out again.
//
// The package never logs: failures are returned as errors (ErrAuth,
// ErrNoStartTLS, wrapped network errors).
package imapconn
