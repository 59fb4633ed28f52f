package state

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// Pair binds a server message (folder, UID) to a local file (Maildir key)
// with the flags both sides agreed on at the last sync (the base of the
// three-way merge), as Maildir letters of the mapped flags.
type Pair struct {
	FolderID int64
	UID      uint32
	Key      string
	Flags    string
	Size     int64
	MsgID    string // hash of the Message-ID header (see syncer)
	// Placeholder is set when the local file is a placeholder of a
	// message above max_size (its header and a note), not the message:
	// it is never uploaded, and Size is the server message's size.
	Placeholder bool
}

// Pairs returns every pair of a folder, by UID.
func (d *DB) Pairs(folderID int64) ([]Pair, error) {
	return d.queryPairs(`folder_id = ?`, folderID)
}

// PairsFrom returns the pairs of a folder whose UID is at least uid: the
// messages a pass paired at or above the UIDNEXT it recorded (its own
// APPENDs and MOVEs), which a later look at the new UIDs must not take for
// new messages.
func (d *DB) PairsFrom(folderID int64, uid uint32) ([]Pair, error) {
	return d.queryPairs(`folder_id = ? AND uid >= ?`, folderID, uid)
}

// queryPairs returns the pairs matching a condition, by UID.
func (d *DB) queryPairs(where string, args ...any) ([]Pair, error) {
	rows, err := d.sql.Query(`SELECT folder_id, uid, key, flags, size, msgid, placeholder FROM pairs WHERE `+where+` ORDER BY uid`, args...)
	if err != nil {
		return nil, fmt.Errorf("state: pairs: %w", err)
	}
	defer rows.Close()
	var out []Pair
	for rows.Next() {
		var p Pair
		if err := rows.Scan(&p.FolderID, &p.UID, &p.Key, &p.Flags, &p.Size, &p.MsgID, &p.Placeholder); err != nil {
			return nil, fmt.Errorf("state: pairs: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// PairsOf returns the pairs of a folder's given UIDs (those that have
// one), by UID: a few pairs without reading the whole folder's.
func (d *DB) PairsOf(folderID int64, uids []uint32) ([]Pair, error) {
	var out []Pair
	const chunk = 500 // SQLite allows 32766 parameters; keep statements small
	for len(uids) > 0 {
		n := min(len(uids), chunk)
		args := make([]any, 0, n+1)
		args = append(args, folderID)
		for _, u := range uids[:n] {
			args = append(args, u)
		}
		uids = uids[n:]
		ps, err := d.queryPairs(`folder_id = ? AND uid IN (?`+strings.Repeat(",?", n-1)+`)`, args...)
		if err != nil {
			return nil, err
		}
		out = append(out, ps...)
	}
	return out, nil
}

// PairCount returns the number of pairs of a folder.
func (d *DB) PairCount(folderID int64) (int, error) {
	var n int
	err := d.sql.QueryRow(`SELECT count(*) FROM pairs WHERE folder_id = ?`, folderID).Scan(&n)
	return n, err
}

// PairByKey finds the pair of a Maildir key among an account's folders.
func (d *DB) PairByKey(account, key string) (Pair, Folder, bool, error) {
	row := d.sql.QueryRow(`SELECT p.folder_id, p.uid, p.key, p.flags, p.size, p.msgid, p.placeholder, `+prefixed("f.", folderCols)+`
		FROM pairs p JOIN folders f ON f.id = p.folder_id WHERE f.account = ? AND p.key = ?`, account, key)
	var p Pair
	var f Folder
	err := row.Scan(append([]any{&p.FolderID, &p.UID, &p.Key, &p.Flags, &p.Size, &p.MsgID, &p.Placeholder}, f.dest()...)...)
	if errors.Is(err, sql.ErrNoRows) {
		return Pair{}, Folder{}, false, nil
	}
	if err != nil {
		return Pair{}, Folder{}, false, fmt.Errorf("state: pair by key: %w", err)
	}
	return p, f, true, nil
}

func prefixed(prefix, cols string) string {
	return prefix + strings.ReplaceAll(cols, ", ", ", "+prefix)
}

// PutPair inserts or replaces a pair.
func (t *Tx) PutPair(p Pair) error {
	_, err := t.tx.Exec(`INSERT OR REPLACE INTO pairs (folder_id, uid, key, flags, size, msgid, placeholder) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		p.FolderID, p.UID, p.Key, p.Flags, p.Size, p.MsgID, p.Placeholder)
	if err != nil {
		return fmt.Errorf("state: put pair: %w", err)
	}
	return nil
}

// SetPairFlags stores new base flags of a pair.
func (t *Tx) SetPairFlags(folderID int64, uid uint32, flags string) error {
	_, err := t.tx.Exec(`UPDATE pairs SET flags = ? WHERE folder_id = ? AND uid = ?`, flags, folderID, uid)
	if err != nil {
		return fmt.Errorf("state: set pair flags: %w", err)
	}
	return nil
}

// SetPairPlaceholder records whether a pair's local file is a placeholder.
func (t *Tx) SetPairPlaceholder(folderID int64, uid uint32, placeholder bool) error {
	_, err := t.tx.Exec(`UPDATE pairs SET placeholder = ? WHERE folder_id = ? AND uid = ?`, placeholder, folderID, uid)
	if err != nil {
		return fmt.Errorf("state: set pair placeholder: %w", err)
	}
	return nil
}

// DeletePair forgets a pair.
func (t *Tx) DeletePair(folderID int64, uid uint32) error {
	_, err := t.tx.Exec(`DELETE FROM pairs WHERE folder_id = ? AND uid = ?`, folderID, uid)
	if err != nil {
		return fmt.Errorf("state: delete pair: %w", err)
	}
	return nil
}

// DeletePairs forgets every pair of a folder (UIDVALIDITY changed).
func (t *Tx) DeletePairs(folderID int64) error {
	_, err := t.tx.Exec(`DELETE FROM pairs WHERE folder_id = ?`, folderID)
	if err != nil {
		return fmt.Errorf("state: delete pairs: %w", err)
	}
	return nil
}

// KeyPairedIn reports whether a folder has a pair for a Maildir key.
func (d *DB) KeyPairedIn(folderID int64, key string) (bool, error) {
	var n int
	err := d.sql.QueryRow(`SELECT count(*) FROM pairs WHERE folder_id = ? AND key = ?`, folderID, key).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("state: key paired: %w", err)
	}
	return n > 0, nil
}

// PairsByIdent returns the pairs of an account whose identity (MsgID) is
// ident and whose size is one of sizes, each with its folder, placeholders
// and tombstones (no key) left out: the server copies a new local file
// may be copied from instead of uploaded. It reads the whole pairs table
// (no index on msgid): meant for single new files, not for every file of
// a folder.
func (d *DB) PairsByIdent(account, ident string, sizes ...int64) ([]Pair, []Folder, error) {
	if ident == "" || len(sizes) == 0 {
		return nil, nil, nil
	}
	args := []any{account, ident}
	for _, s := range sizes {
		args = append(args, s)
	}
	rows, err := d.sql.Query(`SELECT p.folder_id, p.uid, p.key, p.flags, p.size, p.msgid, p.placeholder, `+prefixed("f.", folderCols)+`
		FROM pairs p JOIN folders f ON f.id = p.folder_id
		WHERE f.account = ? AND p.msgid = ? AND p.key != '' AND p.placeholder = 0 AND p.size IN (?`+strings.Repeat(",?", len(sizes)-1)+`)
		ORDER BY p.folder_id, p.uid`, args...)
	if err != nil {
		return nil, nil, fmt.Errorf("state: pairs by identity: %w", err)
	}
	defer rows.Close()
	var ps []Pair
	var fs []Folder
	for rows.Next() {
		var p Pair
		var f Folder
		if err := rows.Scan(append([]any{&p.FolderID, &p.UID, &p.Key, &p.Flags, &p.Size, &p.MsgID, &p.Placeholder}, f.dest()...)...); err != nil {
			return nil, nil, fmt.Errorf("state: pairs by identity: %w", err)
		}
		ps, fs = append(ps, p), append(fs, f)
	}
	return ps, fs, rows.Err()
}
