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

	// Directions of an IMAP account or folder (direction key).
	DirectionBoth = "both" // two-way (the default)
	DirectionPull = "pull" // server → local only: the server is never changed
	DirectionPush = "push" // local → server only: the Maildir is never changed by the server's changes

	AuthPassword    = "password"    // LOGIN / AUTH PLAIN / USER+PASS with a password
	AuthXOAuth2     = "xoauth2"     // SASL XOAUTH2 with an OAuth 2.0 access token
	AuthOAuthBearer = "oauthbearer" // SASL OAUTHBEARER (RFC 7628) with an OAuth 2.0 access token

	ProviderGmail   = "gmail"   // Google Mail and Google Workspace
	ProviderOutlook = "outlook" // Outlook.com and Microsoft 365 (Exchange Online)
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

	// Provider is the preset the account uses ("" for none, ProviderGmail,
	// ProviderOutlook); its values are already filled into the fields
	// below that the file did not set.
	Provider string
	// Auth is how the account signs in: AuthPassword (the default without
	// a provider), AuthXOAuth2 (the default with one) or AuthOAuthBearer.
	Auth string
	// TokenCommand, with an OAuth Auth, is run through the shell; its
	// first line of output is the access token. When set, the oauth_*
	// fields are empty.
	TokenCommand string
	// The built-in OAuth 2.0 client (mailmirror auth login), with an OAuth
	// Auth and no TokenCommand.
	OAuthClientID     string
	OAuthClientSecret Secret   // "" for a public client
	OAuthAuthURL      string   // authorization endpoint (code flow with PKCE)
	OAuthTokenURL     string   // token endpoint
	OAuthDeviceURL    string   // device authorization endpoint; when set, auth login uses the device flow
	OAuthScopes       []string // scopes asked for
	// OAuthRedirectHost is the host of the code flow's loopback redirect
	// URI: "" (127.0.0.1) or "localhost" (Microsoft's rule). Set by presets.
	OAuthRedirectHost string
	// TrashFolder and SentFolder name the server's Trash and Sent folders
	// when a provider preset knows them ("[Gmail]/Trash"; "Deleted Items"
	// and "Sent Items" on Outlook): a hint for servers that do not mark
	// them with SPECIAL-USE attributes, which win. "" when unknown.
	TrashFolder string
	SentFolder  string
	// StateDir is the configuration's state_dir, repeated here for code
	// that gets only the account (the OAuth token store).
	StateDir string

	Maildir        string        // root of this account's Maildir tree, ~ and $VAR expanded, absolute
	Layout         string        // LayoutVerbatim (default) or LayoutMaildirPP
	Folders        []string      // IMAP: glob patterns, "!" prefix excludes; default ["*"]
	IdleFolders    []string      // IMAP: default ["INBOX"]
	PollInterval   time.Duration // default 2m IMAP, 5m POP3
	MaxConnections int           // default 4
	DeleteMode     string        // IMAP: DeleteExpunge (default) or DeleteTrash
	// DeleteGuardCount and DeleteGuardPercent (IMAP, defaults 50 and 25):
	// a pass that would delete more than DeleteGuardCount messages of a
	// folder that are also more than DeleteGuardPercent of it, on either
	// side, leaves that folder alone (see docs/folders.md).
	DeleteGuardCount   int
	DeleteGuardPercent int
	// Direction is DirectionBoth (default), DirectionPull or
	// DirectionPush (IMAP); a folder policy may set its own (DirectionFor).
	Direction string
	OnNewMail string        // shell command run after new mail arrived; "" = none
	MaxAge    time.Duration // IMAP: only messages newer than this are downloaded; 0 = all
	// FolderPolicies are the [[account.folder_policy]] tables (IMAP), in
	// file order: the first that matches a folder applies (see Policy).
	FolderPolicies []FolderPolicy
	MaxSize        int64  // IMAP: larger messages become placeholders; 0 = no limit
	FetchFlag      string // IMAP: Maildir letter that fetches a placeholder in full; default "F", "" = off
	// Tags is TagsNotmuch when IMAP keywords sync with notmuch tags, ""
	// (the default) when they do not. TagMap renames keywords to tags
	// ("$label1" → "important"); TagsAllow and TagsDeny are tag patterns
	// that choose which tags sync (see package tags).
	Tags                string
	TagMap              map[string]string
	TagsAllow, TagsDeny []string
	// NoCompress (IMAP) is compress = false: COMPRESS=DEFLATE (RFC 4978)
	// is never asked for. The zero value, compress = true, compresses
	// wherever the server offers it.
	NoCompress bool

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
