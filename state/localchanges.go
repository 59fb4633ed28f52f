package state

import (
	"fmt"
	"time"
)

// Local changes are information, not intents: a record that a folder
// changed locally while its account could not reach the server (the
// daemon's watcher saw it while offline). The Maildir and the pairs' base
// hold the change itself; the next full pass finds and pushes it whether or
// not a record exists. The records only tell `status` that something waits
// for the server, and survive a restart. They are kept apart from the ops
// table so that OpCount, which decides whether a targeted pass may run,
// counts write-ahead intents only.

// legacyLocalChangeKind is the op kind the daemon used for these records
// before they had a table of their own (schema 8 and older); the
// migration to schema 9 moves such ops into local_changes.
const legacyLocalChangeKind = "local-change"

// migrateLocalChanges is migration 9: the local_changes table, filled with
// the local-change ops of older versions (one row per folder, the earliest
// record's time), which leave the ops table.
const migrateLocalChanges = `CREATE TABLE local_changes (
		account TEXT NOT NULL,
		folder TEXT NOT NULL,
		since INTEGER NOT NULL,
		PRIMARY KEY (account, folder)
	);
	INSERT INTO local_changes (account, folder, since)
		SELECT account, folder, min(created) FROM ops WHERE kind = '` + legacyLocalChangeKind + `' GROUP BY account, folder;
	DELETE FROM ops WHERE kind = '` + legacyLocalChangeKind + `';`

// localChangesSchema is the schema version that has the local_changes
// table.
const localChangesSchema = 9

// noLocalChangesTable reports a database opened read-only (OpenReadOnly
// does not migrate: an older daemon may be running) whose schema predates
// local_changes; its local-change records are still ops, which OpCount
// counts.
func (d *DB) noLocalChangesTable() bool {
	if !d.readOnly {
		return false
	}
	var v int
	return d.sql.QueryRow(`PRAGMA user_version`).Scan(&v) == nil && v < localChangesSchema
}

// MarkLocalChange records that folder of account changed locally while the
// account was offline. A folder already marked keeps its first time.
func (d *DB) MarkLocalChange(account, folder string) error {
	return d.Update(func(tx *Tx) error {
		_, err := tx.tx.Exec(`INSERT OR IGNORE INTO local_changes (account, folder, since) VALUES (?, ?, ?)`,
			account, folder, time.Now().UnixNano())
		if err != nil {
			return fmt.Errorf("state: account %q: mark a local change of %q: %w", account, folder, err)
		}
		return nil
	})
}

// LocalChanges returns the folders of account marked by MarkLocalChange
// and not cleared since, with the time each was first marked.
func (d *DB) LocalChanges(account string) (map[string]time.Time, error) {
	if d.noLocalChangesTable() {
		return map[string]time.Time{}, nil
	}
	rows, err := d.sql.Query(`SELECT folder, since FROM local_changes WHERE account = ?`, account)
	if err != nil {
		return nil, fmt.Errorf("state: account %q: local changes: %w", account, err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var folder string
		var since int64
		if err := rows.Scan(&folder, &since); err != nil {
			return nil, fmt.Errorf("state: account %q: local changes: %w", account, err)
		}
		out[folder] = time.Unix(0, since)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("state: account %q: local changes: %w", account, err)
	}
	return out, nil
}

// LocalChangeCount returns the number of folders of account with a local
// change record.
func (d *DB) LocalChangeCount(account string) (int, error) {
	if d.noLocalChangesTable() {
		return 0, nil
	}
	var n int
	if err := d.sql.QueryRow(`SELECT count(*) FROM local_changes WHERE account = ?`, account).Scan(&n); err != nil {
		return 0, fmt.Errorf("state: account %q: local changes: %w", account, err)
	}
	return n, nil
}

// ClearLocalChanges forgets the local change records of the named folders
// of account (after a pass pushed the changes), in one transaction. A
// folder without a record is no error.
func (d *DB) ClearLocalChanges(account string, folders ...string) error {
	if len(folders) == 0 {
		return nil
	}
	return d.Update(func(tx *Tx) error {
		for _, folder := range folders {
			if _, err := tx.tx.Exec(`DELETE FROM local_changes WHERE account = ? AND folder = ?`, account, folder); err != nil {
				return fmt.Errorf("state: account %q: clear the local change of %q: %w", account, folder, err)
			}
		}
		return nil
	})
}
