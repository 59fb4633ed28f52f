package state

import (
	"fmt"
	"time"
)

// Note is a condition of one folder that a pass reported and that status
// shows until a later pass finds it cleared: a mass delete the guard
// refused, a folder deleted on one side that still holds messages on the
// other, a rename that met a folder of the same name.
type Note struct {
	Account string
	Folder  string // local folder name
	Kind    string // the syncer's name for the condition
	Text    string // one line for a person
	Since   time.Time
}

// Notes returns an account's notes, by folder and kind.
func (d *DB) Notes(account string) ([]Note, error) {
	rows, err := d.sql.Query(`SELECT account, folder, kind, text, since FROM folder_notes WHERE account = ? ORDER BY folder, kind`, account)
	if err != nil {
		return nil, fmt.Errorf("state: notes: %w", err)
	}
	defer rows.Close()
	var out []Note
	for rows.Next() {
		var n Note
		var since int64
		if err := rows.Scan(&n.Account, &n.Folder, &n.Kind, &n.Text, &since); err != nil {
			return nil, fmt.Errorf("state: notes: %w", err)
		}
		n.Since = time.Unix(0, since)
		out = append(out, n)
	}
	return out, rows.Err()
}

// PutNote records a note, replacing the folder's note of the same kind.
func (t *Tx) PutNote(n Note) error {
	if n.Since.IsZero() {
		n.Since = time.Now()
	}
	_, err := t.tx.Exec(`INSERT OR REPLACE INTO folder_notes (account, folder, kind, text, since) VALUES (?, ?, ?, ?, ?)`,
		n.Account, n.Folder, n.Kind, n.Text, n.Since.UnixNano())
	if err != nil {
		return fmt.Errorf("state: put note: %w", err)
	}
	return nil
}

// DeleteNote forgets a folder's note of one kind.
func (t *Tx) DeleteNote(account, folder, kind string) error {
	_, err := t.tx.Exec(`DELETE FROM folder_notes WHERE account = ? AND folder = ? AND kind = ?`, account, folder, kind)
	if err != nil {
		return fmt.Errorf("state: delete note: %w", err)
	}
	return nil
}
