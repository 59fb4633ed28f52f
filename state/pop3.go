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
	// HeaderHash identifies the message's content (a hash of its header),
	// to tell apart messages that share a UIDL; empty for messages stored
	// before it was kept.
	HeaderHash string
}

// POP3UIDLs returns the UIDLs an account has stored, by UIDL.
func (d *DB) POP3UIDLs(account string) (map[string]UIDL, error) {
	rows, err := d.sql.Query(`SELECT uidl, key, first_seen, deleted, header_hash FROM pop3_uidls WHERE account = ?`, account)
	if err != nil {
		return nil, fmt.Errorf("state: uidls: %w", err)
	}
	defer rows.Close()
	out := map[string]UIDL{}
	for rows.Next() {
		var u UIDL
		var seen int64
		if err := rows.Scan(&u.UIDL, &u.Key, &seen, &u.Deleted, &u.HeaderHash); err != nil {
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

// AddPOP3UIDLs is DB.AddPOP3UIDLs inside a transaction. A stored message
// is no longer failing: its failure record goes.
func (t *Tx) AddPOP3UIDLs(account string, uidls []UIDL) error {
	st, err := t.tx.Prepare(`INSERT OR REPLACE INTO pop3_uidls (account, uidl, key, first_seen, deleted, header_hash) VALUES (?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("state: add uidls: %w", err)
	}
	defer st.Close()
	for _, u := range uidls {
		if _, err := st.Exec(account, u.UIDL, u.Key, unixTime(u.FirstSeen), u.Deleted, u.HeaderHash); err != nil {
			return fmt.Errorf("state: add uidls: %w", err)
		}
		if _, err := t.tx.Exec(`DELETE FROM pop3_failures WHERE account = ? AND uidl = ?`, account, u.UIDL); err != nil {
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

// POP3Failure is a message of a POP3 account whose download failed (the
// server refused RETR, or the connection broke while it was being sent).
type POP3Failure struct {
	UIDL       string
	Failures   int       // consecutive failed attempts
	LastError  string    // the last attempt's error
	LastFailed time.Time // when it failed last
	NextTry    time.Time // no attempt before then (the back-off)
}

// POP3Failures returns an account's failing messages, by UIDL.
func (d *DB) POP3Failures(account string) (map[string]POP3Failure, error) {
	rows, err := d.sql.Query(`SELECT uidl, failures, last_error, last_failed, next_try FROM pop3_failures WHERE account = ?`, account)
	if err != nil {
		return nil, fmt.Errorf("state: pop3 failures: %w", err)
	}
	defer rows.Close()
	out := map[string]POP3Failure{}
	for rows.Next() {
		var f POP3Failure
		var last, next int64
		if err := rows.Scan(&f.UIDL, &f.Failures, &f.LastError, &last, &next); err != nil {
			return nil, fmt.Errorf("state: pop3 failures: %w", err)
		}
		f.LastFailed, f.NextTry = fromUnix(last), fromUnix(next)
		out[f.UIDL] = f
	}
	return out, rows.Err()
}

// SetPOP3Failure records (replaces) the failure record of one message.
func (d *DB) SetPOP3Failure(account string, f POP3Failure) error {
	return d.Update(func(tx *Tx) error {
		_, err := tx.tx.Exec(`INSERT OR REPLACE INTO pop3_failures (account, uidl, failures, last_error, last_failed, next_try) VALUES (?, ?, ?, ?, ?, ?)`,
			account, f.UIDL, f.Failures, f.LastError, unixTime(f.LastFailed), unixTime(f.NextTry))
		if err != nil {
			return fmt.Errorf("state: pop3 failure: %w", err)
		}
		return nil
	})
}

// ForgetPOP3Failures removes the failure records of these messages (gone
// from the server).
func (d *DB) ForgetPOP3Failures(account string, uidls []string) error {
	return d.Update(func(tx *Tx) error {
		for _, u := range uidls {
			if _, err := tx.tx.Exec(`DELETE FROM pop3_failures WHERE account = ? AND uidl = ?`, account, u); err != nil {
				return fmt.Errorf("state: forget pop3 failures: %w", err)
			}
		}
		return nil
	})
}

// SetPOP3Problems replaces the problems an account's last poll reported
// (one line each; none clears them).
func (d *DB) SetPOP3Problems(account string, problems []string, now time.Time) error {
	return d.Update(func(tx *Tx) error {
		if _, err := tx.tx.Exec(`DELETE FROM pop3_problems WHERE account = ?`, account); err != nil {
			return fmt.Errorf("state: pop3 problems: %w", err)
		}
		for i, p := range problems {
			if _, err := tx.tx.Exec(`INSERT INTO pop3_problems (account, seq, text, updated) VALUES (?, ?, ?, ?)`, account, i, p, unixTime(now)); err != nil {
				return fmt.Errorf("state: pop3 problems: %w", err)
			}
		}
		return nil
	})
}

// POP3Problems returns the problems an account's last poll reported, in
// order, and when they were set.
func (d *DB) POP3Problems(account string) ([]string, time.Time, error) {
	rows, err := d.sql.Query(`SELECT text, updated FROM pop3_problems WHERE account = ? ORDER BY seq`, account)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("state: pop3 problems: %w", err)
	}
	defer rows.Close()
	var out []string
	var when int64
	for rows.Next() {
		var p string
		if err := rows.Scan(&p, &when); err != nil {
			return nil, time.Time{}, fmt.Errorf("state: pop3 problems: %w", err)
		}
		out = append(out, p)
	}
	return out, fromUnix(when), rows.Err()
}
