package config

// KeyDoc describes one configuration key. KeyDocs is the single list of
// keys the package accepts: the parser rejects every other key, and a test
// checks that docs/config-reference.md shows each one with its default.
type KeyDoc struct {
	Name     string // the key as written in the file
	Table    string // "" for top-level keys, "account" for keys of [[account]] tables
	Protocol string // "" when the key applies to every protocol, else ProtocolIMAP or ProtocolPOP3
	Default  string // the default as shown in the reference (Markdown)
	Doc      string // what the key means (Markdown)
}

// Table names used in KeyDoc.Table.
const (
	TableTop     = ""
	TableAccount = "account"
	// TableFolderPolicy is for keys of [[account.folder_policy]] tables.
	TableFolderPolicy = "account.folder_policy"
)

var keyDocs = []KeyDoc{
	{Name: "state_dir", Default: "`~/.local/state/mailmirror` on Linux (`$XDG_STATE_HOME/mailmirror` when set), `~/Library/Application Support/mailmirror` on macOS, `%LocalAppData%\\mailmirror` on Windows",
		Doc: "Directory holding the sync state database. `~` and `$VAR` are expanded; a relative path is relative to the directory of the config file."},
	{Name: "log_level", Default: "`\"info\"`",
		Doc: "Least severe level logged: `\"debug\"`, `\"info\"`, `\"warn\"` or `\"error\"`."},
	{Name: "log_format", Default: "`\"text\"`",
		Doc: "Log line format: `\"text\"` or `\"json\"`."},

	{Name: "name", Table: TableAccount, Default: "required",
		Doc: "Name of the account, unique in the file, made of `A-Z a-z 0-9 . _ -`. Used in commands, logs and the state database."},
	{Name: "protocol", Table: TableAccount, Default: "required",
		Doc: "`\"imap\"` (two-way sync) or `\"pop3\"` (pull)."},
	{Name: "host", Table: TableAccount, Default: "required",
		Doc: "Server host name or IP address."},
	{Name: "port", Table: TableAccount, Default: "`993` (IMAP), `995` (POP3); `143` (IMAP) and `110` (POP3) when `tls` is `\"starttls\"` or `\"none\"`",
		Doc: "Server TCP port, 1 to 65535."},
	{Name: "tls", Table: TableAccount, Default: "`\"implicit\"`",
		Doc: "`\"implicit\"` (TLS from the first byte), `\"starttls\"` (upgrade a plain connection; fails if the server cannot) or `\"none\"` (clear text: refused for a host that is not loopback unless `allow_insecure = true`). Certificates are always verified."},
	{Name: "tls_ca_file", Table: TableAccount, Default: "none",
		Doc: "PEM file of extra CA certificates trusted for this server, in addition to the system's. `~` and `$VAR` are expanded."},
	{Name: "allow_insecure", Table: TableAccount, Default: "`false`",
		Doc: "Allow `tls = \"none\"` to a host that is not loopback (`localhost`, `127.0.0.0/8`, `::1`). The password then crosses the network in clear text."},
	{Name: "username", Table: TableAccount, Default: "required",
		Doc: "Login name on the server."},
	{Name: "password", Table: TableAccount, Default: "none",
		Doc: "The password itself. The file must then be readable by its owner only (`chmod 600`), else mailmirror refuses to start. Exactly one of `password`, `password_command` and `password_env` is required."},
	{Name: "password_command", Table: TableAccount, Default: "none",
		Doc: "Shell command (`sh -c`) whose first line of output is the password, e.g. `\"pass show mail/work\"`. Run each time the account logs in."},
	{Name: "password_env", Table: TableAccount, Default: "none",
		Doc: "Name of an environment variable holding the password."},
	{Name: "provider", Table: TableAccount, Default: "none",
		Doc: "Preset for a big provider: `\"gmail\"` (Gmail, Google Workspace) or `\"outlook\"` (Outlook.com, Microsoft 365). It fills in `host`, `port`, `tls`, `auth = \"xoauth2\"` (unless a password key is set), the `oauth_*` URLs and scopes, and the provider's quirks; keys set in the file win. Gmail: `folders` defaults to `[\"*\", \"![Gmail]/All Mail\", \"![Gmail]/Important\"]` (plus the same under `[Google Mail]`), since those folders hold a copy of every message, and `delete_mode` to `\"trash\"` (`[Gmail]/Trash`: an expunge in Gmail only removes a label). With `tags = \"notmuch\"` Gmail's labels are tags instead: `folders` defaults to `[\"[Gmail]/All Mail\", \"[Gmail]/Trash\", \"[Gmail]/Spam\"]` (and `[Google Mail]`), `idle_folders` to All Mail, and All Mail is the one local copy of each message (see `docs/tags.md`, \"Gmail labels\"). Outlook: Sent and Trash are `Sent Items` and `Deleted Items`, marked with SPECIAL-USE. You still register your own OAuth client: see `docs/oauth.md`."},
	{Name: "auth", Table: TableAccount, Default: "`\"password\"`; `\"xoauth2\"` with `provider` and no password key",
		Doc: "How to sign in: `\"password\"` (IMAP LOGIN or AUTHENTICATE PLAIN, POP3 AUTH PLAIN or USER/PASS), or with an OAuth 2.0 access token `\"xoauth2\"` (Gmail, Microsoft) or `\"oauthbearer\"` (RFC 7628). With OAuth, `password`, `password_command` and `password_env` are not used: the token comes from `token_command`, or from the sign-in `mailmirror auth login ACCOUNT` stored, and is refreshed before it expires and once more when the server refuses it."},
	{Name: "token_command", Table: TableAccount, Default: "none",
		Doc: "With OAuth: shell command (`sh -c`) whose first line of output is a valid access token, for users who already have a helper (`\"oama access you@gmail.com\"`). Run at each login with `MAILMIRROR_ACCOUNT` set to the account's name, and once more when the server refuses the token. Set either this or `oauth_client_id`."},
	{Name: "oauth_client_id", Table: TableAccount, Default: "none",
		Doc: "With OAuth and no `token_command`: the client ID of the OAuth application you registered with the provider (`docs/oauth.md` has the steps). `mailmirror auth login ACCOUNT` then signs in once and keeps the refresh token in the OS credential store (Secret Service, Keychain, Credential Manager), or, where there is none, in a file readable by you only in `state_dir`, and says so."},
	{Name: "oauth_client_secret", Table: TableAccount, Default: "none",
		Doc: "The client secret of that application, when it has one (Google's desktop clients do; for an installed application it is not really secret)."},
	{Name: "oauth_auth_url", Table: TableAccount, Default: "from `provider`, else none",
		Doc: "Authorization endpoint, for the authorization-code flow with PKCE: `auth login` opens the browser there and receives the answer on a loopback port (`http://127.0.0.1:PORT/`, `http://localhost:PORT/` for Outlook). An `https` URL (`http` only to a loopback host)."},
	{Name: "oauth_token_url", Table: TableAccount, Default: "from `provider`, else required with `oauth_client_id`",
		Doc: "Token endpoint, where sign-ins are redeemed and access tokens refreshed. An `https` URL (`http` only to a loopback host)."},
	{Name: "oauth_device_url", Table: TableAccount, Default: "from `provider` (Outlook), else none",
		Doc: "Device authorization endpoint (RFC 8628). When set, `auth login` uses the device flow (a code you enter in any browser, also on another device) unless given `--browser`. One of `oauth_auth_url` and `oauth_device_url` is required with `oauth_client_id`."},
	{Name: "oauth_scopes", Table: TableAccount, Default: "from `provider`, else `[]`",
		Doc: "Scopes to ask for, e.g. `[\"https://mail.google.com/\"]`."},
	{Name: "maildir", Table: TableAccount, Default: "required",
		Doc: "Root directory of this account's Maildir tree. `~` and `$VAR` are expanded; a relative path is relative to the directory of the config file. Two accounts may not share or nest their maildirs."},
	{Name: "layout", Table: TableAccount, Default: "`\"verbatim\"`",
		Doc: "On-disk folder naming: `\"verbatim\"` (`Lists/golang` is the directory `<maildir>/Lists/golang`, INBOX is `<maildir>/INBOX`) or `\"maildir++\"` (INBOX is `<maildir>` itself, `Lists/golang` is `<maildir>/.Lists.golang`, as Dovecot and Courier do)."},
	{Name: "folders", Table: TableAccount, Protocol: ProtocolIMAP, Default: "`[\"*\"]`",
		Doc: "Folders to sync, as patterns matched against folder names written with `/` as the hierarchy separator (`\"Lists/golang\"`) whatever the server uses. `*` matches any run of characters, including `/`, so `\"Lists/*\"` takes every folder below `Lists` at any depth; `%` matches any run of characters except `/`. A pattern starting with `!` excludes the folders it matches, and exclusions win over inclusions whatever their order: `[\"*\", \"!Spam\", \"!Lists/*\"]`. A list of exclusions only means everything else. `INBOX` is matched case-insensitively."},
	{Name: "idle_folders", Table: TableAccount, Protocol: ProtocolIMAP, Default: "`[\"INBOX\"]`",
		Doc: "Folders watched with IMAP IDLE for immediate delivery (one connection each, within `max_connections`); same pattern syntax as `folders`. Other folders are checked every `poll_interval`. `[]` turns IDLE off."},
	{Name: "poll_interval", Table: TableAccount, Default: "`\"2m\"` (IMAP), `\"5m\"` (POP3)",
		Doc: "How often the server is checked for changes IDLE does not report (IMAP) or for new mail (POP3). A duration: Go syntax (`\"90s\"`, `\"5m\"`, `\"1h30m\"`) plus `d` for days (`\"1d12h\"`); must be positive."},
	{Name: "max_connections", Table: TableAccount, Protocol: ProtocolIMAP, Default: "`4`",
		Doc: "Most connections opened to the server at once, 1 to 64."},
	{Name: "delete_mode", Table: TableAccount, Protocol: ProtocolIMAP, Default: "`\"expunge\"`",
		Doc: "What a message deleted locally becomes on the server: `\"expunge\"` (flagged `\\Deleted` and expunged) or `\"trash\"` (moved to the server's Trash folder)."},
	{Name: "delete_guard_count", Table: TableAccount, Protocol: ProtocolIMAP, Default: "`50`",
		Doc: "Mass-delete guard: a pass that would delete more than this many messages of one folder (on the server or locally), when they are also more than `delete_guard_percent` of it, does nothing to that folder, says so and shows it in `mailmirror status`; `mailmirror sync --allow-deletes ACCOUNT[/FOLDER]` lets it through once. A folder deleted on one side while the other still holds messages always counts. See `docs/folders.md`."},
	{Name: "delete_guard_percent", Table: TableAccount, Protocol: ProtocolIMAP, Default: "`25`",
		Doc: "Mass-delete guard, with `delete_guard_count`: the share of a folder (1 to 100) a pass may delete at most once it deletes more than `delete_guard_count` messages. `100` turns the guard off for single messages."},
	{Name: "direction", Table: TableAccount, Protocol: ProtocolIMAP, Default: "`\"both\"`",
		Doc: "`\"both\"` (two-way), `\"pull\"` (server → local only: the server is never changed; flag changes, deletes, moves and new files made here stay here, are never sent, and the log and `sync` report them as held) or `\"push\"` (local → server only: the Maildir is never changed by what happens on the server; new server messages are not downloaded, server flag changes not applied, and a message removed from the server but still here is uploaded again). mbsync's `Sync Pull` is `\"pull\"`, `Sync Push` is `\"push\"`. A `[[account.folder_policy]]` may set its own."},
	{Name: "max_age", Table: TableAccount, Protocol: ProtocolIMAP, Default: "`\"0\"` (all)",
		Doc: "Download only messages whose server date (INTERNALDATE) is newer than this (`\"180d\"`). Older ones stay on the server untouched; their absence here is never taken for a delete. Messages already downloaded stay. `\"0\"` mirrors everything."},
	{Name: "folder_policy", Table: TableAccount, Protocol: ProtocolIMAP, Default: "none",
		Doc: "Settings for some folders (their own `max_age`, `archive_after`), as `[[account.folder_policy]]` tables after the account's keys; their keys are in `docs/config-reference.md`. The first table whose `match` selects a folder applies to it."},
	{Name: "max_size", Table: TableAccount, Protocol: ProtocolIMAP, Default: "`\"0\"` (no limit)",
		Doc: "Largest message downloaded in full (`\"10MB\"`; KB, MB, GB are powers of 1000, KiB, MiB, GiB of 1024). A larger server message becomes a *placeholder* in the Maildir: its real header, an `X-Mailmirror-Placeholder` field with its size, and a short note saying how to get it. Flags, deletes and moves of a placeholder sync like those of any message; it is never uploaded. `mailmirror fetch FILE` (or the `fetch_flag`) replaces it with the full message. `\"0\"` downloads everything."},
	{Name: "fetch_flag", Table: TableAccount, Protocol: ProtocolIMAP, Default: "`\"F\"` (flagged)",
		Doc: "Maildir flag letter (`P R S T D F`) that asks for a placeholder's full message: a placeholder carrying it, set here or on the server, is downloaded in full at the next pass (the flag stays); a message above `max_size` that has it already is downloaded in full. `\"\"` turns this off."},
	{Name: "tags", Table: TableAccount, Protocol: ProtocolIMAP, Default: "`\"\"` (off)",
		Doc: "`\"notmuch\"` syncs IMAP keywords with notmuch tags both ways (see `docs/tags.md`): every keyword that is not a system flag is a tag, merged three-way like flags. notmuch is run as you run it (`NOTMUCH_CONFIG` or its default configuration); the Maildir must be under its `database.path` (`mailmirror check` says so). The tags notmuch mirrors from Maildir flags (`unread`, `replied`, `flagged`, `passed`, `draft`) stay flags, and `inbox`, `new`, `attachment`, `signed`, `encrypted` and notmuch's `new.tags` never go to the server. With `provider = \"gmail\"` the tags are Gmail's labels instead of keywords: `INBOX` is `inbox`, a user label its name, a tag added is a copy into the label's folder, removed an expunge there."},
	{Name: "tag_map", Table: TableAccount, Protocol: ProtocolIMAP, Default: "`{}`",
		Doc: "Renames keywords to tags, as a table of keyword = \"tag\": `tag_map = { \"$label1\" = \"important\", \"$Junk\" = \"spam\" }`. Keywords are matched case-insensitively; other keywords keep their name as the tag."},
	{Name: "tags_allow", Table: TableAccount, Protocol: ProtocolIMAP, Default: "`[]` (every tag)",
		Doc: "Tags that sync, as patterns (`*` matches any run of characters): `[\"work\", \"project-*\"]`. Empty means every tag."},
	{Name: "tags_deny", Table: TableAccount, Protocol: ProtocolIMAP, Default: "`[]`",
		Doc: "Tags that never sync, as patterns; they win over `tags_allow`: `[\"private*\"]`."},
	{Name: "compress", Table: TableAccount, Protocol: ProtocolIMAP, Default: "`true`",
		Doc: "Compress the connection (IMAP `COMPRESS=DEFLATE`, RFC 4978) when the server offers it, after the login: text deflates to about a third, so a slow link carries mail faster (on the benchmark corpus, with its share of attachments, a first sync moves 0.58 of the bytes). It costs the server CPU: on a fast local network `false` may be quicker. Servers that do not offer it are used as they are; a server that refuses it or sends a broken stream is used uncompressed from then on (a warning says so). `false` never asks for it."},
	{Name: "on_new_mail", Table: TableAccount, Default: "none",
		Doc: "Shell command (`sh -c`) run after new mail was stored for this account, e.g. `\"notmuch new\"`."},
	{Name: "leave_on_server", Table: TableAccount, Protocol: ProtocolPOP3, Default: "`true`",
		Doc: "Keep messages on the server after download, remembered by UIDL, so that other devices get them too. With `false` each message is deleted from the server once it is safely on disk."},
	{Name: "delete_after", Table: TableAccount, Protocol: ProtocolPOP3, Default: "`\"0\"` (never)",
		Doc: "With `leave_on_server = true`, delete a message from the server this long after it was downloaded (`\"14d\"`); `\"0\"` means never."},
	{Name: "delete_when_deleted_locally", Table: TableAccount, Protocol: ProtocolPOP3, Default: "`false`",
		Doc: "With `leave_on_server = true`, delete a message from the server once it was deleted from the local Maildir."},
	{Name: "folder", Table: TableAccount, Protocol: ProtocolPOP3, Default: "`\"INBOX\"`",
		Doc: "Local folder receiving POP3 mail, hierarchy separated by `/`."},

	{Name: "match", Table: TableFolderPolicy, Protocol: ProtocolIMAP, Default: "required",
		Doc: "The folders this policy applies to: one pattern in the syntax of `folders` (`\"Lists/*\"`, `\"INBOX\"`), without `!`. The first policy of the account that matches a folder applies; keys it leaves out keep the account's value."},
	{Name: "max_age", Table: TableFolderPolicy, Protocol: ProtocolIMAP, Default: "the account's `max_age`",
		Doc: "`max_age` for these folders (`\"30d\"`; `\"0\"` downloads everything here even when the account sets one)."},
	{Name: "direction", Table: TableFolderPolicy, Protocol: ProtocolIMAP, Default: "the account's `direction`",
		Doc: "`direction` for these folders (`\"pull\"` makes them a read-only backup of the server's, say)."},
	{Name: "archive_after", Table: TableFolderPolicy, Protocol: ProtocolIMAP, Default: "none (never)",
		Doc: "Relieve the server: messages of these folders whose server date (INTERNALDATE) is older than this (`\"365d\"`) and that are fully stored here are moved into the local folder `archive_to`, then deleted from the server. Each pass (at most once an hour in the daemon) and `mailmirror archive` do it; `mailmirror archive --dry-run` lists what would go. Messages never downloaded (left out by `max_age`) are never deleted. Needs a server with UIDPLUS; without it nothing is archived and a warning says so."},
	{Name: "archive_to", Table: TableFolderPolicy, Protocol: ProtocolIMAP, Default: "required with `archive_after`",
		Doc: "The local folder receiving archived messages (`\"Archive/old\"`). It is local only: never created on the server nor synced, whatever `folders` says; it must not be INBOX nor a folder `folders` or a `match` names."},
}

// KeyDocs returns every accepted key, top-level keys first, in the order of
// the reference documentation. The caller may modify the returned slice.
func KeyDocs() []KeyDoc {
	return append([]KeyDoc(nil), keyDocs...)
}

// keyDoc returns the entry for name in table, or nil.
func keyDoc(table, name string) *KeyDoc {
	for i := range keyDocs {
		if keyDocs[i].Table == table && keyDocs[i].Name == name {
			return &keyDocs[i]
		}
	}
	return nil
}
