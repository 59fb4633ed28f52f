package state

import (
	"fmt"
	"time"
)

// UIDL is a POP3 message this device has stored.
type UIDL struct {
	UIDL      string
	Key       string    // Maildir key of the stored file
	FirstSeen time.Time // when it was stored
	Deleted   bool      // deleted from the server by this device
}

// POP3UIDLs returns the UIDLs an account has stored, by UIDL.
func (d *DB) POP3UIDLs(account string) (map[string]UIDL, error) {
	rows, err := d.sql.Query(`SELECT uidl, key, first_seen, deleted FROM pop3_uidls WHERE account = ?`, account)
	if err != nil {
		return nil, fmt.Errorf("state: uidls: %w", err)
	}
	defer rows.Close()
	out := map[string]UIDL{}
	for rows.Next() {
		var u UIDL
		var seen int64
		if err := rows.Scan(&u.UIDL, &u.Key, &seen, &u.Deleted); err != nil {
			return nil, fmt.Errorf("state: uidls: %w", err)
		}
		u.FirstSeen = fromUnix(seen)
		out[u.UIDL] = u
	}
	return out, rows.Err()
}

// AddPOP3UIDLs records stored messages in one transaction.
func (d *DB) AddPOP3UIDLs(account string, uidls []UIDL) error {
	return d.Update(func(tx *Tx) error { return tx.AddPOP3UIDLs(account, uidls) })
}

// AddPOP3UIDLs is DB.AddPOP3UIDLs inside a transaction.
func (t *Tx) AddPOP3UIDLs(account string, uidls []UIDL) error {
	st, err := t.tx.Prepare(`INSERT OR REPLACE INTO pop3_uidls (account, uidl, key, first_seen, deleted) VALUES (?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("state: add uidls: %w", err)
	}
	defer st.Close()
	for _, u := range uidls {
		if _, err := st.Exec(account, u.UIDL, u.Key, unixTime(u.FirstSeen), u.Deleted); err != nil {
			return fmt.Errorf("state: add uidls: %w", err)
		}
	}
	return nil
}

// MarkPOP3Deleted records that this device deleted these messages from the
// server.
func (d *DB) MarkPOP3Deleted(account string, uidls []string) error {
	return d.Update(func(tx *Tx) error {
		for _, u := range uidls {
			if _, err := tx.tx.Exec(`UPDATE pop3_uidls SET deleted = 1 WHERE account = ? AND uidl = ?`, account, u); err != nil {
				return fmt.Errorf("state: mark deleted: %w", err)
			}
		}
		return nil
	})
}

// ForgetPOP3UIDLs removes records of messages no longer on the server.
func (d *DB) ForgetPOP3UIDLs(account string, uidls []string) error {
	return d.Update(func(tx *Tx) error {
		for _, u := range uidls {
			if _, err := tx.tx.Exec(`DELETE FROM pop3_uidls WHERE account = ? AND uidl = ?`, account, u); err != nil {
				return fmt.Errorf("state: forget uidls: %w", err)
			}
		}
		return nil
	})
}
