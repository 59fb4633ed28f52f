package state

import (
	"database/sql"
	"errors"
	"fmt"
)

// Folder is the state of one IMAP folder of an account.
type Folder struct {
	ID            int64
	Account       string
	Name          string // local folder name ("Lists/golang")
	Remote        string // server mailbox name ("INBOX.Lists.golang")
	UIDValidity   uint32
	UIDNext       uint32
	Messages      uint32
	HighestModSeq uint64
	// LocalStamp fingerprints the local folder (modification times of new/
	// and cur/) as of the last pass; "" forces a scan.
	LocalStamp string
	// OldMessages counts the server messages that max_age leaves out
	// (never paired) as of the last pass: they count when the server's
	// message count is checked.
	OldMessages uint32
}

const folderCols = `id, account, name, remote, uidvalidity, uidnext, messages, highestmodseq, local_stamp, old_messages`

type scanner interface{ Scan(dest ...any) error }

func scanFolder(r scanner) (Folder, error) {
	var f Folder
	err := r.Scan(f.dest()...)
	return f, err
}

// dest is where a row's folderCols are scanned into, in their order: the
// one place that must change with folderCols.
func (f *Folder) dest() []any {
	return []any{&f.ID, &f.Account, &f.Name, &f.Remote, &f.UIDValidity, &f.UIDNext, &f.Messages, &f.HighestModSeq, &f.LocalStamp, &f.OldMessages}
}

// Folders returns the known folders of an account, by name.
func (d *DB) Folders(account string) ([]Folder, error) {
	rows, err := d.sql.Query(`SELECT `+folderCols+` FROM folders WHERE account = ? ORDER BY name`, account)
	if err != nil {
		return nil, fmt.Errorf("state: folders: %w", err)
	}
	defer rows.Close()
	var out []Folder
	for rows.Next() {
		f, err := scanFolder(rows)
		if err != nil {
			return nil, fmt.Errorf("state: folders: %w", err)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// Folder returns one folder; ok is false when it is unknown.
func (d *DB) Folder(account, name string) (f Folder, ok bool, err error) {
	f, err = scanFolder(d.sql.QueryRow(`SELECT `+folderCols+` FROM folders WHERE account = ? AND name = ?`, account, name))
	if errors.Is(err, sql.ErrNoRows) {
		return Folder{}, false, nil
	}
	if err != nil {
		return Folder{}, false, fmt.Errorf("state: folder: %w", err)
	}
	return f, true, nil
}

// EnsureFolder returns the folder, creating a record with zero counters
// when it is unknown.
func (d *DB) EnsureFolder(account, name, remote string) (Folder, error) {
	var f Folder
	err := d.Update(func(tx *Tx) error {
		var err error
		f, err = tx.EnsureFolder(account, name, remote)
		return err
	})
	return f, err
}

// EnsureFolder is DB.EnsureFolder inside a transaction.
func (t *Tx) EnsureFolder(account, name, remote string) (Folder, error) {
	_, err := t.tx.Exec(`INSERT INTO folders (account, name, remote) VALUES (?, ?, ?) ON CONFLICT (account, name) DO NOTHING`, account, name, remote)
	if err != nil {
		return Folder{}, fmt.Errorf("state: ensure folder: %w", err)
	}
	f, err := scanFolder(t.tx.QueryRow(`SELECT `+folderCols+` FROM folders WHERE account = ? AND name = ?`, account, name))
	if err != nil {
		return Folder{}, fmt.Errorf("state: ensure folder: %w", err)
	}
	return f, nil
}

// UpdateFolder stores a folder's remote name and server counters.
func (t *Tx) UpdateFolder(f Folder) error {
	_, err := t.tx.Exec(`UPDATE folders SET remote = ?, uidvalidity = ?, uidnext = ?, messages = ?, highestmodseq = ?, local_stamp = ?, old_messages = ? WHERE id = ?`,
		f.Remote, f.UIDValidity, f.UIDNext, f.Messages, f.HighestModSeq, f.LocalStamp, f.OldMessages, f.ID)
	if err != nil {
		return fmt.Errorf("state: update folder: %w", err)
	}
	return nil
}

// DeleteFolder forgets a folder and its pairs.
func (t *Tx) DeleteFolder(id int64) error {
	if _, err := t.tx.Exec(`DELETE FROM pairs WHERE folder_id = ?`, id); err != nil {
		return fmt.Errorf("state: delete folder: %w", err)
	}
	if _, err := t.tx.Exec(`DELETE FROM folders WHERE id = ?`, id); err != nil {
		return fmt.Errorf("state: delete folder: %w", err)
	}
	return nil
}

// RenameFolder gives a folder a new local and server name, keeping its
// counters and pairs (a folder renamed on either side).
func (t *Tx) RenameFolder(id int64, name, remote string) error {
	_, err := t.tx.Exec(`UPDATE folders SET name = ?, remote = ? WHERE id = ?`, name, remote, id)
	if err != nil {
		return fmt.Errorf("state: rename folder: %w", err)
	}
	return nil
}
