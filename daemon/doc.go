// Package daemon keeps every account of a configuration in step
// continuously: it is what `mailmirror run` runs.
//
// One supervisor goroutine per account drives passes of the sync engine
// (syncer.Syncer for IMAP, pop3pull for POP3) from a select over the
// context, a coalescing trigger (many triggers while a pass runs give
// exactly one more pass afterwards), a poll ticker (poll_interval), IMAP
// IDLE pushes (one connection per folder of idle_folders, within
// max_connections, with a NOOP watchdog), local Maildir changes (a Watcher:
// fsnotify, or directory modification times on macOS), explicit requests
// over the control socket and configuration reloads. A pass that fails is
// retried with exponential backoff and jitter (1 s to 5 min); an
// authentication failure goes straight to the maximum. Accounts never wait
// for each other.
//
// While the server cannot be reached, local changes stay in the Maildir
// (relative to the base the state DB keeps) and the next successful pass
// pushes them with the engine's conflict rules; the daemon records one
// pending operation per changed folder so that status shows them. A jump of
// the wall clock (resume from sleep) or a change of the network addresses
// reconnects at once.
//
// The control socket (a Unix socket in the state directory; a loopback TCP
// listener with a token file on Windows) answers status and sync requests:
// see RequestStatus and RequestSync. Hooks (on_new_mail) run through the
// shell after new mail is durably stored, coalesced.
//
// The package logs through the *slog.Logger it is given, one logger per
// account (attribute account=NAME), and never logs secrets.
package daemon
