package syncer

import (
	"context"

	"github.com/emersion/go-imap/v2"

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

// maxRetries bounds the passes run again after an optional extension
// failed (one per extension the engine uses, at most).
const maxRetries = 4

// tolerant runs a pass, and runs it again when it failed because go-imap
// gave up on a connection on a reply of an optional extension: the
// connection layer turned that extension off (imapconn.Link.Disable), and
// a pass is safe to repeat (intents, pairs). The transport's warnings (an
// extension turned off, a folder name that is not modified UTF-7) are
// added to the pass's, once per Syncer.
func (s *Syncer) tolerant(ctx context.Context, pass func(context.Context) (Stats, error)) (Stats, error) {
	link := s.pool.p.Link()
	var st Stats
	var err error
	for i := 0; ; i++ {
		before := len(link.Disabled())
		st, err = pass(ctx)
		if err == nil || ctx.Err() != nil || i == maxRetries || len(link.Disabled()) == before {
			break
		}
	}
	st.Warnings = append(st.Warnings, link.TakeWarnings()...)
	return st, err
}

// Link is the state the Syncer's connections share (quirks of the server,
// health of the link): give it to other connections of the account (the
// daemon's IDLE) through DialOptions.Link.
func (s *Syncer) Link() *imapconn.Link { return s.pool.p.Link() }

// brokenQuota reports whether a GETQUOTAROOT failed because go-imap could
// not parse the reply: QUOTA is then off, and the pass goes on.
func brokenQuota(c *Conn) bool { return c.NoteFailure() == imap.CapQuota }
