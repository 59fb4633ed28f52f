package config

import (
	"time"
)

// Protocols, TLS modes, layouts and delete modes accepted in the config.
const (
	ProtocolIMAP = "imap"
	ProtocolPOP3 = "pop3"

	TLSImplicit = "implicit"
	TLSStartTLS = "starttls"
	TLSNone     = "none"

	LayoutVerbatim  = "verbatim"
	LayoutMaildirPP = "maildir++"

	DeleteExpunge = "expunge"
	DeleteTrash   = "trash"
)

// Config is a parsed and validated configuration file.
type Config struct {
	Path      string     // the file it was read from ("" when parsed from memory)
	StateDir  string     // state_dir, expanded and absolute
	LogLevel  string     // log_level: debug|info|warn|error (default info)
	LogFormat string     // log_format: text|json (default text)
	Accounts  []*Account // [[account]] tables, in file order
}

// Account is one [[account]] table with every default filled in.
type Account struct {
	Name          string
	Protocol      string // ProtocolIMAP or ProtocolPOP3
	Host          string
	Port          int    // defaulted from protocol and TLS: 993/143 IMAP, 995/110 POP3
	TLS           string // TLSImplicit (default), TLSStartTLS or TLSNone
	TLSCAFile     string // extra CA bundle (PEM), expanded
	AllowInsecure bool   // allow TLSNone to a non-loopback host
	Username      string

	Password        Secret // plaintext password (file must be 0600)
	PasswordCommand string // run through the shell; first line of stdout
	PasswordEnv     string // name of an environment variable

	Maildir        string        // root of this account's Maildir tree, ~ and $VAR expanded, absolute
	Layout         string        // LayoutVerbatim (default) or LayoutMaildirPP
	Folders        []string      // IMAP: glob patterns, "!" prefix excludes; default ["*"]
	IdleFolders    []string      // IMAP: default ["INBOX"]
	PollInterval   time.Duration // default 2m IMAP, 5m POP3
	MaxConnections int           // default 4
	DeleteMode     string        // IMAP: DeleteExpunge (default) or DeleteTrash
	OnNewMail      string        // shell command run after new mail arrived; "" = none

	// POP3 only.
	LeaveOnServer            bool          // default true
	DeleteAfter              time.Duration // 0 = never
	DeleteWhenDeletedLocally bool          // default false
	Folder                   string        // local folder receiving POP3 mail, default "INBOX"

	// Line is the line of the [[account]] header in the config file, for messages.
	Line int
}

// Secret is a string that never prints itself: String, GoString and
// MarshalText give "***" so a password cannot leak through fmt or logs.
type Secret string

// String implements fmt.Stringer and returns "***" (or "" when empty).
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "***"
}

// GoString implements fmt.GoStringer like String.
func (s Secret) GoString() string { return s.String() }

// MarshalText implements encoding.TextMarshaler like String.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Reveal returns the secret itself. Call it only where the value is sent to
// the server.
func (s Secret) Reveal() string { return string(s) }
