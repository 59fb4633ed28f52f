package state

import (
	"database/sql"
	"errors"
	"fmt"
)

// Partial is a large message whose download was cut: the bytes received
// so far are in File (in the folder's tmp/, LF line ends), and the next
// attempt asks the server only for what follows Offset.
type Partial struct {
	FolderID    int64
	UID         uint32
	UIDValidity uint32
	File        string // file name in the folder's tmp/
	Offset      int64  // server bytes (CRLF line ends) received and kept
	LocalSize   int64  // length of File those bytes make
	Size        int64  // the message's RFC822.SIZE
}

// Partials returns the partial downloads of a folder.
func (d *DB) Partials(folderID int64) ([]Partial, error) {
	rows, err := d.sql.Query(`SELECT folder_id, uid, uidvalidity, file, offset, local_size, size FROM partials WHERE folder_id = ? ORDER BY uid`, folderID)
	if err != nil {
		return nil, fmt.Errorf("state: partials: %w", err)
	}
	defer rows.Close()
	var out []Partial
	for rows.Next() {
		var p Partial
		if err := rows.Scan(&p.FolderID, &p.UID, &p.UIDValidity, &p.File, &p.Offset, &p.LocalSize, &p.Size); err != nil {
			return nil, fmt.Errorf("state: partials: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// PutPartial records (or replaces) a partial download.
func (d *DB) PutPartial(p Partial) error {
	return d.Update(func(tx *Tx) error {
		_, err := tx.tx.Exec(`INSERT OR REPLACE INTO partials (folder_id, uid, uidvalidity, file, offset, local_size, size) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			p.FolderID, p.UID, p.UIDValidity, p.File, p.Offset, p.LocalSize, p.Size)
		if err != nil {
			return fmt.Errorf("state: put partial: %w", err)
		}
		return nil
	})
}

// DeletePartial forgets a partial download.
func (d *DB) DeletePartial(folderID int64, uid uint32) error {
	return d.Update(func(tx *Tx) error {
		if _, err := tx.tx.Exec(`DELETE FROM partials WHERE folder_id = ? AND uid = ?`, folderID, uid); err != nil {
			return fmt.Errorf("state: delete partial: %w", err)
		}
		return nil
	})
}

// Partial returns the partial download of one message, if any.
func (d *DB) Partial(folderID int64, uid uint32) (Partial, bool, error) {
	p := Partial{FolderID: folderID, UID: uid}
	err := d.sql.QueryRow(`SELECT uidvalidity, file, offset, local_size, size FROM partials WHERE folder_id = ? AND uid = ?`, folderID, uid).
		Scan(&p.UIDValidity, &p.File, &p.Offset, &p.LocalSize, &p.Size)
	if errors.Is(err, sql.ErrNoRows) {
		return Partial{}, false, nil
	}
	if err != nil {
		return Partial{}, false, fmt.Errorf("state: partial: %w", err)
	}
	return p, true, nil
}
