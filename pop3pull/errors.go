package pop3pull

import (
	"errors"
	"net"
	"strings"
)

// Sentinel errors. Errors returned by this package wrap them, so test them
// with errors.Is.
var (
	// ErrInUse means the server answered -ERR [IN-USE]: another session
	// holds the maildrop. Back off and retry later.
	ErrInUse = errors.New("pop3: mailbox in use")
	// ErrLoginDelay means the server answered -ERR [LOGIN-DELAY]: it
	// refuses logins more often than its LOGIN-DELAY capability allows.
	ErrLoginDelay = errors.New("pop3: login delay")
	// ErrAuth means the server rejected the credentials.
	ErrAuth = errors.New("pop3: authentication failed")
	// ErrInsecure means the client refused to send credentials over a
	// connection without TLS that the configuration did not allow.
	ErrInsecure = errors.New("pop3: refusing to send credentials without TLS")
	// ErrNoSTLS means tls = "starttls" but the server does not offer STLS.
	ErrNoSTLS = errors.New("pop3: server does not offer STLS")
	// ErrClosed means the client was used after Close, Quit or a broken
	// connection.
	ErrClosed = errors.New("pop3: connection closed")
	// ErrProtocol means the server sent something that is not POP3.
	ErrProtocol = errors.New("pop3: protocol error")
	// ErrUnsupported means the server does not implement a command the
	// caller needs (UIDL and TOP both missing, for instance).
	ErrUnsupported = errors.New("pop3: command not supported by server")
)

// maxErrText caps how much of a server's -ERR text goes into an error.
const maxErrText = 200

// ServerError is a -ERR answer. Command holds only the command verb (never
// its arguments, so a password cannot leak), Code the RFC 2449 response code
// ("IN-USE", "LOGIN-DELAY", "AUTH", "SYS/TEMP", "SYS/PERM" or ""), and Text
// the rest of the line, cleaned of control characters and capped.
type ServerError struct {
	Command string
	Code    string
	Text    string
}

// Error implements error.
func (e *ServerError) Error() string {
	var b strings.Builder
	b.WriteString("pop3: ")
	b.WriteString(e.Command)
	b.WriteString(": -ERR")
	if e.Code != "" {
		b.WriteString(" [")
		b.WriteString(e.Code)
		b.WriteString("]")
	}
	if e.Text != "" {
		b.WriteString(" ")
		b.WriteString(e.Text)
	}
	return b.String()
}

// Unwrap maps the response code to a sentinel error: IN-USE to ErrInUse,
// LOGIN-DELAY to ErrLoginDelay and AUTH to ErrAuth.
func (e *ServerError) Unwrap() error {
	switch strings.ToUpper(e.Code) {
	case "IN-USE":
		return ErrInUse
	case "LOGIN-DELAY":
		return ErrLoginDelay
	case "AUTH":
		return ErrAuth
	}
	return nil
}

// newServerError parses the text after "-ERR" of a response to verb.
func newServerError(verb string, text string) *ServerError {
	text = strings.TrimSpace(text)
	e := &ServerError{Command: verb}
	if strings.HasPrefix(text, "[") {
		if end := strings.IndexByte(text, ']'); end > 0 {
			e.Code = cleanText(text[1:end], 40)
			text = strings.TrimSpace(text[end+1:])
		}
	}
	e.Text = cleanText(text, maxErrText)
	return e
}

// cleanText replaces control and non-ASCII bytes by '?' and caps s at max
// bytes.
func cleanText(s string, max int) string {
	if len(s) > max {
		s = s[:max]
	}
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	return string(b)
}

// Temporary reports whether err is worth retrying later with the same
// configuration: network failures, a mailbox in use, a login delay, a
// server's [SYS/TEMP]. Authentication failures, refused plaintext logins,
// missing STLS and certificate errors are permanent: the user must act.
func Temporary(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrInUse) || errors.Is(err, ErrLoginDelay) {
		return true
	}
	if errors.Is(err, ErrAuth) || errors.Is(err, ErrInsecure) || errors.Is(err, ErrNoSTLS) ||
		errors.Is(err, ErrUnsupported) {
		return false
	}
	var se *ServerError
	if errors.As(err, &se) {
		return !strings.EqualFold(se.Code, "SYS/PERM")
	}
	if isCertError(err) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	return errors.Is(err, ErrClosed) || errors.Is(err, ErrProtocol) ||
		strings.Contains(err.Error(), "EOF")
}
