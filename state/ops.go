package state

import (
	"fmt"
	"time"
)

// Op is a pending operation: the write-ahead intent of a side effect that
// cannot be undone (an APPEND, MOVE, EXPUNGE, DELE, a rename into cur/).
// Ops of an account are resolved in ID order. Data is the operation's own
// encoding (JSON by convention). Informational records (a folder changed
// locally while offline) are no ops: see MarkLocalChange.
type Op struct {
	ID        int64
	Account   string
	Kind      string
	Folder    string
	Data      []byte
	Attempts  int
	LastError string
	Created   time.Time
}

// AddOp records an operation and returns its ID.
func (d *DB) AddOp(op Op) (int64, error) {
	var id int64
	err := d.Update(func(tx *Tx) error {
		var err error
		id, err = tx.AddOp(op)
		return err
	})
	return id, err
}

// AddOp is DB.AddOp inside a transaction.
func (t *Tx) AddOp(op Op) (int64, error) {
	if op.Created.IsZero() {
		op.Created = time.Now()
	}
	res, err := t.tx.Exec(`INSERT INTO ops (account, kind, folder, data, attempts, last_error, created) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		op.Account, op.Kind, op.Folder, op.Data, op.Attempts, op.LastError, op.Created.UnixNano())
	if err != nil {
		return 0, fmt.Errorf("state: add op: %w", err)
	}
	return res.LastInsertId()
}

// Ops returns an account's pending operations in the order they were added.
func (d *DB) Ops(account string) ([]Op, error) {
	rows, err := d.sql.Query(`SELECT id, account, kind, folder, data, attempts, last_error, created FROM ops WHERE account = ? ORDER BY id`, account)
	if err != nil {
		return nil, fmt.Errorf("state: ops: %w", err)
	}
	defer rows.Close()
	var out []Op
	for rows.Next() {
		var o Op
		var created int64
		if err := rows.Scan(&o.ID, &o.Account, &o.Kind, &o.Folder, &o.Data, &o.Attempts, &o.LastError, &created); err != nil {
			return nil, fmt.Errorf("state: ops: %w", err)
		}
		o.Created = time.Unix(0, created)
		out = append(out, o)
	}
	return out, rows.Err()
}

// OpCount returns the number of pending operations (write-ahead intents)
// of an account; local change records (MarkLocalChange) are not counted.
func (d *DB) OpCount(account string) (int, error) {
	var n int
	err := d.sql.QueryRow(`SELECT count(*) FROM ops WHERE account = ?`, account).Scan(&n)
	return n, err
}

// DeleteOp removes a resolved operation.
func (d *DB) DeleteOp(id int64) error {
	return d.Update(func(tx *Tx) error { return tx.DeleteOp(id) })
}

// DeleteOp is DB.DeleteOp inside a transaction.
func (t *Tx) DeleteOp(id int64) error {
	if _, err := t.tx.Exec(`DELETE FROM ops WHERE id = ?`, id); err != nil {
		return fmt.Errorf("state: delete op: %w", err)
	}
	return nil
}

// FailOp counts a failed attempt of an operation and keeps its error text.
func (d *DB) FailOp(id int64, msg string) error {
	return d.Update(func(tx *Tx) error {
		_, err := tx.tx.Exec(`UPDATE ops SET attempts = attempts + 1, last_error = ? WHERE id = ?`, msg, id)
		if err != nil {
			return fmt.Errorf("state: fail op: %w", err)
		}
		return nil
	})
}
