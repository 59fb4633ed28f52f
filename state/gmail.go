package state

import (
	"fmt"
	"strings"
)

// GmailLabel is a Gmail label folder as the label sync last read it: its
// server name, counters, the UIDVALIDITY of All Mail its members' All
// Mail UIDs refer to, All Mail's UIDNEXT then, and how many members were
// not found in All Mail (AllMail 0).
type GmailLabel struct {
	Name          string
	UIDValidity   uint32
	UIDNext       uint32
	Messages      uint32
	ModSeq        uint64
	AllMailUIDVal uint32
	AllMailNext   uint32
	Unresolved    int
}

// GmailMember is one message of a label folder: its UID there and the UID
// of the same message in All Mail (0 when not found there yet).
type GmailMember struct {
	Label   string
	UID     uint32
	AllMail uint32
}

// GmailLabels returns an account's label folders by name.
func (d *DB) GmailLabels(account string) (map[string]GmailLabel, error) {
	rows, err := d.sql.Query(`SELECT name, uidvalidity, uidnext, messages, modseq, allmail_uv, allmail_next, unresolved FROM gmail_labels WHERE account = ?`, account)
	if err != nil {
		return nil, fmt.Errorf("state: gmail labels: %w", err)
	}
	defer rows.Close()
	out := map[string]GmailLabel{}
	for rows.Next() {
		var l GmailLabel
		if err := rows.Scan(&l.Name, &l.UIDValidity, &l.UIDNext, &l.Messages, &l.ModSeq, &l.AllMailUIDVal, &l.AllMailNext, &l.Unresolved); err != nil {
			return nil, fmt.Errorf("state: gmail labels: %w", err)
		}
		out[l.Name] = l
	}
	return out, rows.Err()
}

// GmailMembers returns a label folder's members: UID there → All Mail UID.
func (d *DB) GmailMembers(account, label string) (map[uint32]uint32, error) {
	rows, err := d.sql.Query(`SELECT uid, allmail_uid FROM gmail_members WHERE account = ? AND label = ?`, account, label)
	if err != nil {
		return nil, fmt.Errorf("state: gmail members: %w", err)
	}
	defer rows.Close()
	out := map[uint32]uint32{}
	for rows.Next() {
		var uid, all uint32
		if err := rows.Scan(&uid, &all); err != nil {
			return nil, fmt.Errorf("state: gmail members: %w", err)
		}
		out[uid] = all
	}
	return out, rows.Err()
}

// GmailMembersOf returns the label memberships of the given All Mail UIDs.
func (d *DB) GmailMembersOf(account string, allMail []uint32) ([]GmailMember, error) {
	var out []GmailMember
	const chunk = 500
	for len(allMail) > 0 {
		n := min(len(allMail), chunk)
		args := []any{account}
		for _, u := range allMail[:n] {
			args = append(args, u)
		}
		allMail = allMail[n:]
		rows, err := d.sql.Query(`SELECT label, uid, allmail_uid FROM gmail_members WHERE account = ? AND allmail_uid IN (?`+strings.Repeat(",?", n-1)+`) ORDER BY label, uid`, args...)
		if err != nil {
			return nil, fmt.Errorf("state: gmail members: %w", err)
		}
		for rows.Next() {
			var m GmailMember
			if err := rows.Scan(&m.Label, &m.UID, &m.AllMail); err != nil {
				rows.Close()
				return nil, fmt.Errorf("state: gmail members: %w", err)
			}
			out = append(out, m)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("state: gmail members: %w", err)
		}
	}
	return out, nil
}

// PutGmailLabel records a label folder's counters.
func (t *Tx) PutGmailLabel(account string, l GmailLabel) error {
	_, err := t.tx.Exec(`INSERT OR REPLACE INTO gmail_labels (account, name, uidvalidity, uidnext, messages, modseq, allmail_uv, allmail_next, unresolved) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		account, l.Name, l.UIDValidity, l.UIDNext, l.Messages, l.ModSeq, l.AllMailUIDVal, l.AllMailNext, l.Unresolved)
	if err != nil {
		return fmt.Errorf("state: put gmail label: %w", err)
	}
	return nil
}

// DeleteGmailLabel forgets a label folder and its members.
func (t *Tx) DeleteGmailLabel(account, name string) error {
	if _, err := t.tx.Exec(`DELETE FROM gmail_members WHERE account = ? AND label = ?`, account, name); err != nil {
		return fmt.Errorf("state: delete gmail label: %w", err)
	}
	if _, err := t.tx.Exec(`DELETE FROM gmail_labels WHERE account = ? AND name = ?`, account, name); err != nil {
		return fmt.Errorf("state: delete gmail label: %w", err)
	}
	return nil
}

// PutGmailMember records a message of a label folder.
func (t *Tx) PutGmailMember(account string, m GmailMember) error {
	_, err := t.tx.Exec(`INSERT OR REPLACE INTO gmail_members (account, label, uid, allmail_uid) VALUES (?, ?, ?, ?)`, account, m.Label, m.UID, m.AllMail)
	if err != nil {
		return fmt.Errorf("state: put gmail member: %w", err)
	}
	return nil
}

// DeleteGmailMember forgets a message of a label folder.
func (t *Tx) DeleteGmailMember(account, label string, uid uint32) error {
	_, err := t.tx.Exec(`DELETE FROM gmail_members WHERE account = ? AND label = ? AND uid = ?`, account, label, uid)
	if err != nil {
		return fmt.Errorf("state: delete gmail member: %w", err)
	}
	return nil
}
