package config

// preset holds what a provider setting fills in.
type preset struct {
	imapHost, pop3Host string
	authURL            string
	tokenURL           string
	deviceURL          string
	imapScopes         []string
	pop3Scopes         []string
	redirectHost       string
	excludeFolders     []string // IMAP: "!" patterns added to the default folders
	deleteMode         string   // IMAP: default delete_mode
	trash, sent        string   // server folder names, hints behind SPECIAL-USE
	// labelFolders and labelIdle (IMAP, tags = "notmuch"): the folders
	// mirrored and watched when the provider's labels are synced as tags
	// (Gmail: All Mail is the one local copy; see docs/tags.md).
	labelFolders, labelIdle []string
}

// presets are the providers the provider key accepts.
var presets = map[string]preset{
	ProviderGmail: {
		imapHost:   "imap.gmail.com",
		pop3Host:   "pop.gmail.com",
		authURL:    "https://accounts.google.com/o/oauth2/v2/auth",
		tokenURL:   "https://oauth2.googleapis.com/token",
		imapScopes: []string{"https://mail.google.com/"},
		pop3Scopes: []string{"https://mail.google.com/"},
		// Every message is in All Mail, and many in Important too: they
		// would download each message two or three times. Accounts in the
		// UK and Germany used "[Google Mail]" for a while.
		excludeFolders: []string{"![Gmail]/All Mail", "![Gmail]/Important", "![Google Mail]/All Mail", "![Google Mail]/Important"},
		// Expunging a message in a Gmail folder only removes that label;
		// moving it to the Trash deletes it.
		deleteMode: DeleteTrash,
		trash:      "[Gmail]/Trash",
		sent:       "[Gmail]/Sent Mail",
		// With tags = "notmuch" the labels are tags: All Mail is the one
		// copy of each message, Trash and Spam (not in All Mail) are
		// mirrored as folders, the label folders are not.
		labelFolders: []string{"[Gmail]/All Mail", "[Gmail]/Trash", "[Gmail]/Spam", "[Google Mail]/All Mail", "[Google Mail]/Trash", "[Google Mail]/Spam"},
		labelIdle:    []string{"[Gmail]/All Mail", "[Google Mail]/All Mail"},
	},
	ProviderOutlook: {
		imapHost:     "outlook.office365.com",
		pop3Host:     "outlook.office365.com",
		authURL:      "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
		tokenURL:     "https://login.microsoftonline.com/common/oauth2/v2.0/token",
		deviceURL:    "https://login.microsoftonline.com/common/oauth2/v2.0/devicecode",
		imapScopes:   []string{"https://outlook.office.com/IMAP.AccessAsUser.All", "offline_access"},
		pop3Scopes:   []string{"https://outlook.office.com/POP.AccessAsUser.All", "offline_access"},
		redirectHost: "localhost",
		trash:        "Deleted Items",
		sent:         "Sent Items",
	},
}

// oauthKeys are the keys of the built-in OAuth client.
var oauthKeys = []string{"oauth_client_id", "oauth_client_secret", "oauth_auth_url", "oauth_token_url", "oauth_device_url", "oauth_scopes"}

func isOAuth(auth string) bool { return auth == AuthXOAuth2 || auth == AuthOAuthBearer }

// applyPreset fills in what the account's provider presets, for every key
// the file did not set. It runs before the other defaults.
func (s *section) applyPreset(a *Account) {
	a.StateDir = s.p.cfg.StateDir
	p, ok := presets[a.Provider]
	if !ok || s.bad["provider"] {
		if !s.has("auth") {
			a.Auth = AuthPassword
		}
		return
	}
	if !s.has("host") {
		a.Host = p.imapHost
		if a.Protocol == ProtocolPOP3 {
			a.Host = p.pop3Host
		}
	}
	if !s.has("auth") {
		a.Auth = AuthXOAuth2
		if s.has("password") || s.has("password_command") || s.has("password_env") {
			a.Auth = AuthPassword
		}
	}
	a.TrashFolder, a.SentFolder = p.trash, p.sent
	if a.Protocol == ProtocolIMAP {
		labels := len(p.labelFolders) > 0 && s.vals["tags"] == TagsNotmuch
		if !s.has("folders") {
			a.Folders = append([]string{"*"}, p.excludeFolders...)
			if labels {
				a.Folders = append([]string(nil), p.labelFolders...)
			}
		}
		if !s.has("idle_folders") && labels {
			a.IdleFolders = append([]string(nil), p.labelIdle...)
		}
		if !s.has("delete_mode") && p.deleteMode != "" {
			a.DeleteMode = p.deleteMode
		}
	}
	if !isOAuth(a.Auth) || s.has("token_command") {
		return
	}
	if !s.has("oauth_auth_url") {
		a.OAuthAuthURL = p.authURL
	}
	if !s.has("oauth_token_url") {
		a.OAuthTokenURL = p.tokenURL
	}
	if !s.has("oauth_device_url") {
		a.OAuthDeviceURL = p.deviceURL
	}
	if !s.has("oauth_scopes") {
		a.OAuthScopes = p.imapScopes
		if a.Protocol == ProtocolPOP3 {
			a.OAuthScopes = p.pop3Scopes
		}
		a.OAuthScopes = append([]string(nil), a.OAuthScopes...)
	}
	a.OAuthRedirectHost = p.redirectHost
}
