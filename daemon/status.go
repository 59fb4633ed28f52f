package daemon

import (
	"fmt"
	"time"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/state"
)

// States of an account, in AccountStatus.State.
const (
	StateStarting     = "starting"     // no pass has finished yet
	StateSyncing      = "syncing"      // a pass is running
	StateConnected    = "connected"    // the last pass succeeded
	StateDisconnected = "disconnected" // the last pass could not reach the server, or failed
	StateAuthFailed   = "auth-failed"  // the server refused the login: waiting at the longest backoff
	StateLocalError   = "local-error"  // the last pass failed on the Maildir or the state DB (Reason says how); the server is reachable
	StateUnknown      = "unknown"      // the daemon is not running
	StateStopped      = "stopped"      // the account is being stopped
)

// Status is the daemon's state as `mailmirror status` shows it.
type Status struct {
	Running  bool            `json:"running"`          // a daemon answered
	PID      int             `json:"pid,omitempty"`    // its process ID
	Started  time.Time       `json:"started,omitzero"` // when it started
	Ready    bool            `json:"ready"`            // every account finished its first pass
	Config   string          `json:"config,omitempty"` // the config file it runs
	StateDir string          `json:"state_dir"`        // its state directory
	Accounts []AccountStatus `json:"accounts"`         // in config order
}

// AccountStatus is one account's part of Status. Without a running daemon
// only what the state DB knows is filled in (Name, Protocol, PendingOps,
// Folders, Messages) and State is StateUnknown.
type AccountStatus struct {
	Name     string `json:"name"`
	Protocol string `json:"protocol"`
	// State is the outcome of the last pass (StateStarting before the
	// first one).
	State string `json:"state"`
	// Syncing: a pass is running.
	Syncing bool `json:"syncing"`
	// Connected: the last pass reached the server.
	Connected bool `json:"connected"`
	// Reason says why the account is not connected (the last error).
	Reason string `json:"reason,omitempty"`
	// LastPass is when the last successful pass ended; LastSummary what
	// it did.
	LastPass    time.Time `json:"last_pass,omitzero"`
	LastSummary string    `json:"last_summary,omitempty"`
	Passes      int       `json:"passes"`
	// Targeted counts the passes that did just what IDLE pushed or the
	// watcher saw, for those messages only (no full pass); they are
	// counted in Passes too.
	Targeted int `json:"targeted_passes"`
	// LastError is the last pass's error, kept after later successes.
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	// NextRetry is when a failed account tries again.
	NextRetry time.Time `json:"next_retry,omitzero"`
	// PendingOps counts what waits in the state DB: the account's
	// write-ahead intents (state.DB.OpCount) plus its folders with a
	// local change recorded while offline (state.DB.LocalChangeCount).
	PendingOps int `json:"pending_ops"`
	// Progress is what the running pass still has to transfer, by folder
	// and direction (only while it runs, and only for transfers big
	// enough to report progress).
	Progress []TransferStatus `json:"progress,omitempty"`
	Idle     []IdleStatus     `json:"idle,omitempty"`
	Folders  []FolderStatus   `json:"folders,omitempty"`
	// Messages is the number of messages the state knows: the sum of the
	// folders for IMAP, the UIDLs downloaded for POP3.
	Messages int `json:"messages"`
	// Quota is the server's quota as the last pass read it (IMAP servers
	// with QUOTA only).
	Quota []QuotaStatus `json:"quota,omitempty"`
	// Problems are what the last POP3 poll could not do, one line each
	// (messages not fetched, "stuck" ones among them, listing lines that
	// were garbage, deletions held back); ProblemsAt is the poll that
	// first reported these same lines.
	Problems   []string  `json:"problems,omitempty"`
	ProblemsAt time.Time `json:"problems_at,omitzero"`
	// Notes are folder conditions that need the user (IMAP): a mass
	// delete the guard refused, a folder deleted on one side that still
	// holds mail on the other, a rename that met an existing name.
	Notes []NoteStatus `json:"notes,omitempty"`
}

// NoteStatus is one folder note (see state.Note).
type NoteStatus struct {
	Folder string    `json:"folder"`
	Kind   string    `json:"kind"` // "delete-guard", "deleted-on-server", "deleted-locally", "rename-conflict"
	Text   string    `json:"text"`
	Since  time.Time `json:"since,omitzero"`
}

// QuotaStatus is one resource of a server quota root (RFC 9208).
type QuotaStatus struct {
	Root     string `json:"root"`
	Resource string `json:"resource"` // "STORAGE" (in KiB), "MESSAGE", ...
	Usage    int64  `json:"usage"`
	Limit    int64  `json:"limit"`
	// Percent is Usage as a percentage of Limit, rounded down.
	Percent int       `json:"percent"`
	Updated time.Time `json:"updated,omitzero"`
}

// QuotaWarnPercent is the usage above which status warns that the server
// is nearly full.
const QuotaWarnPercent = 90

// Full reports whether the resource is used above QuotaWarnPercent.
func (q QuotaStatus) Full() bool {
	return q.Limit > 0 && q.Usage*100 > q.Limit*QuotaWarnPercent
}

// IdleStatus is one IDLE connection.
type IdleStatus struct {
	Folder     string `json:"folder"`
	Connected  bool   `json:"connected"`
	Error      string `json:"error,omitempty"`
	Reconnects int    `json:"reconnects"`
}

// FolderStatus is one folder with the number of messages the state pairs.
type FolderStatus struct {
	Name     string `json:"name"`
	Messages int    `json:"messages"`
}

// OfflineStatus returns what the state DB in cfg.StateDir knows about the
// configured accounts, for when no daemon runs. It opens the DB read-only,
// so it works while another process syncs.
func OfflineStatus(cfg *config.Config) (*Status, error) {
	st := &Status{StateDir: cfg.StateDir, Config: cfg.Path}
	db, err := state.OpenReadOnly(cfg.StateDir)
	if err != nil {
		for _, a := range cfg.Accounts {
			st.Accounts = append(st.Accounts, AccountStatus{Name: a.Name, Protocol: a.Protocol, State: StateUnknown})
		}
		return st, fmt.Errorf("read the state: %w", err)
	}
	defer db.Close()
	for _, a := range cfg.Accounts {
		as := AccountStatus{Name: a.Name, Protocol: a.Protocol, State: StateUnknown}
		if err := fillFromDB(&as, a, db); err != nil {
			return st, err
		}
		st.Accounts = append(st.Accounts, as)
	}
	return st, nil
}

// fillFromDB sets the pending operations, folders and message counts.
func fillFromDB(as *AccountStatus, a *config.Account, db *state.DB) error {
	n, err := db.OpCount(a.Name)
	if err != nil {
		return fmt.Errorf("account %q: pending operations: %w", a.Name, err)
	}
	local, err := db.LocalChangeCount(a.Name)
	if err != nil {
		return fmt.Errorf("account %q: pending operations: %w", a.Name, err)
	}
	as.PendingOps = n + local
	as.Folders, as.Messages = nil, 0
	if a.Protocol == config.ProtocolPOP3 {
		uidls, err := db.POP3UIDLs(a.Name)
		if err != nil {
			return fmt.Errorf("account %q: %w", a.Name, err)
		}
		as.Messages = len(uidls)
		as.Problems, as.ProblemsAt, err = db.POP3Problems(a.Name)
		if err != nil {
			return fmt.Errorf("account %q: %w", a.Name, err)
		}
		return nil
	}
	quota, err := db.Quota(a.Name)
	if err != nil {
		return fmt.Errorf("account %q: %w", a.Name, err)
	}
	notes, err := db.Notes(a.Name)
	if err != nil {
		return fmt.Errorf("account %q: %w", a.Name, err)
	}
	as.Notes = nil
	for _, n := range notes {
		as.Notes = append(as.Notes, NoteStatus{Folder: n.Folder, Kind: n.Kind, Text: n.Text, Since: n.Since})
	}
	as.Quota = nil
	for _, q := range quota {
		as.Quota = append(as.Quota, QuotaStatus{Root: q.Root, Resource: q.Resource, Usage: q.Usage, Limit: q.Limit, Percent: q.Percent(), Updated: q.Updated})
	}
	folders, err := db.Folders(a.Name)
	if err != nil {
		return fmt.Errorf("account %q: %w", a.Name, err)
	}
	for _, f := range folders {
		c, err := db.PairCount(f.ID)
		if err != nil {
			return fmt.Errorf("account %q: folder %q: %w", a.Name, f.Name, err)
		}
		as.Folders = append(as.Folders, FolderStatus{Name: f.Name, Messages: c})
		as.Messages += c
	}
	return nil
}

// TransferStatus is a running pass's progress in one folder and direction.
type TransferStatus struct {
	Folder     string `json:"folder"`
	Direction  string `json:"direction"` // "down", "up" or "read"
	Done       int    `json:"done"`
	Total      int    `json:"total"`
	Bytes      int64  `json:"bytes,omitempty"`
	TotalBytes int64  `json:"total_bytes,omitempty"`
}
