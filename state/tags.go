package state

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// TagBase is the tag state of one pair (the messages of tags =
// "notmuch"). Merged: Tags is the set both sides agreed on at the last
// merge, the base of the next. Not merged: the message was not yet found in
// notmuch (not indexed yet), and Remote holds the server's tags waiting to
// be applied. A TagBase goes away with its pair.
type TagBase struct {
	FolderID  int64
	UID       uint32
	Merged    bool
	Tags      []string
	Remote    []string
	NotmuchID string // the message's id in notmuch, once known
}

// TagBases returns the tag bases of a folder's given UIDs that have one.
func (d *DB) TagBases(folderID int64, uids []uint32) (map[uint32]TagBase, error) {
	out := map[uint32]TagBase{}
	const chunk = 500
	for len(uids) > 0 {
		n := min(len(uids), chunk)
		args := []any{folderID}
		for _, u := range uids[:n] {
			args = append(args, u)
		}
		uids = uids[n:]
		rows, err := d.sql.Query(`SELECT uid, merged, tags, remote, nmid FROM tag_bases WHERE folder_id = ? AND uid IN (?`+strings.Repeat(",?", n-1)+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("state: tag bases: %w", err)
		}
		for rows.Next() {
			b := TagBase{FolderID: folderID}
			var tags, remote string
			if err := rows.Scan(&b.UID, &b.Merged, &tags, &remote, &b.NotmuchID); err != nil {
				rows.Close()
				return nil, fmt.Errorf("state: tag bases: %w", err)
			}
			if json.Unmarshal([]byte(tags), &b.Tags) != nil || json.Unmarshal([]byte(remote), &b.Remote) != nil {
				rows.Close()
				return nil, fmt.Errorf("state: tag base of UID %d in folder %d is corrupt", b.UID, folderID)
			}
			out[b.UID] = b
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("state: tag bases: %w", err)
		}
	}
	return out, nil
}

// PutTagBase inserts or replaces a pair's tag base.
func (t *Tx) PutTagBase(b TagBase) error {
	tags, _ := json.Marshal(nonNil(b.Tags))
	remote, _ := json.Marshal(nonNil(b.Remote))
	_, err := t.tx.Exec(`INSERT OR REPLACE INTO tag_bases (folder_id, uid, merged, tags, remote, nmid) VALUES (?, ?, ?, ?, ?, ?)`,
		b.FolderID, b.UID, b.Merged, string(tags), string(remote), b.NotmuchID)
	if err != nil {
		return fmt.Errorf("state: put tag base: %w", err)
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// TagFolder returns the UIDVALIDITY and HIGHESTMODSEQ up to which a
// folder's keywords were read (0, 0 when never).
func (d *DB) TagFolder(folderID int64) (uidValidity uint32, modSeq uint64, err error) {
	err = d.sql.QueryRow(`SELECT uidvalidity, modseq FROM tag_folders WHERE folder_id = ?`, folderID).Scan(&uidValidity, &modSeq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("state: tag folder: %w", err)
	}
	return uidValidity, modSeq, nil
}

// SetTagFolder records up to which HIGHESTMODSEQ a folder's keywords were
// read.
func (t *Tx) SetTagFolder(folderID int64, uidValidity uint32, modSeq uint64) error {
	_, err := t.tx.Exec(`INSERT OR REPLACE INTO tag_folders (folder_id, uidvalidity, modseq) VALUES (?, ?, ?)`, folderID, uidValidity, modSeq)
	if err != nil {
		return fmt.Errorf("state: set tag folder: %w", err)
	}
	return nil
}

// TagRevision is how far an account's local tag changes were read: the
// notmuch database (UUID) and its revision, and the stamp of its files
// then (see tags.Notmuch.Stamp; "" when unknown).
type TagRevision struct {
	UUID     string
	Revision uint64
	Stamp    string
}

// TagRevision returns how far an account's local tag changes were read
// (the zero value when never).
func (d *DB) TagRevision(account string) (TagRevision, error) {
	var r TagRevision
	err := d.sql.QueryRow(`SELECT uuid, revision, stamp FROM tag_revisions WHERE account = ?`, account).Scan(&r.UUID, &r.Revision, &r.Stamp)
	if errors.Is(err, sql.ErrNoRows) {
		return TagRevision{}, nil
	}
	if err != nil {
		return TagRevision{}, fmt.Errorf("state: tag revision: %w", err)
	}
	return r, nil
}

// SetTagRevision records how far an account's local tag changes were
// read.
func (t *Tx) SetTagRevision(account string, r TagRevision) error {
	_, err := t.tx.Exec(`INSERT OR REPLACE INTO tag_revisions (account, uuid, revision, stamp) VALUES (?, ?, ?, ?)`, account, r.UUID, r.Revision, r.Stamp)
	if err != nil {
		return fmt.Errorf("state: set tag revision: %w", err)
	}
	return nil
}
