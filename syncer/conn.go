package syncer

import (
	"context"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/imapconn"
)

// The transport lives in imapconn; these names keep the engine's callers
// (and errors.Is checks) working unchanged.
type (
	// Conn is a logged-in IMAP connection (imapconn.Conn).
	Conn = imapconn.Conn
	// DialOptions tune a connection (imapconn.DialOptions).
	DialOptions = imapconn.DialOptions
	// Counters count bytes on the wire (imapconn.Counters).
	Counters = imapconn.Counters
)

// ErrAuth wraps a login the server refused (imapconn.ErrAuth).
var ErrAuth = imapconn.ErrAuth

// ErrNoStartTLS: tls = "starttls" and the server does not offer STARTTLS
// (imapconn.ErrNoStartTLS).
var ErrNoStartTLS = imapconn.ErrNoStartTLS

// Dial connects and logs in (imapconn.Dial).
func Dial(ctx context.Context, acct *config.Account, opts DialOptions) (*Conn, error) {
	return imapconn.Dial(ctx, acct, opts)
}
