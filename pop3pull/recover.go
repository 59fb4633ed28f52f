package pop3pull

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/mailmirror/mailmirror/maildir"
	"github.com/mailmirror/mailmirror/state"
)

func jsonMarshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode op: %w", err)
	}
	return b, nil
}

// resolveStore settles a store op left by an interrupted poll: the keys
// whose file was published are recorded as stored (after a sync of the
// folder, so that the record never points at a rename that a power loss
// could undo), the others are forgotten and their tmp/ files removed. It
// returns how many messages were recorded.
func resolveStore(store *maildir.Store, db *state.DB, account string, op state.Op) (int, error) {
	var items []storeItem
	if err := json.Unmarshal(op.Data, &items); err != nil {
		// Unreadable: nothing was recorded from it, so dropping it can at
		// worst download a message again, never lose one.
		return 0, db.DeleteOp(op.ID)
	}
	folder, err := store.Folder(op.Folder)
	if err != nil {
		return 0, err
	}
	ents, err := folder.Scan()
	if err != nil {
		return 0, err
	}
	present := make(map[string]bool, len(ents))
	for _, e := range ents {
		present[e.Key] = true
	}
	var found []state.UIDL
	for _, it := range items {
		if present[it.Key] {
			found = append(found, state.UIDL{UIDL: it.UIDL, Key: it.Key, FirstSeen: op.Created, HeaderHash: it.Hash})
			continue
		}
		// Never published: drop the leftover tmp/ file, if any.
		if filepath.Base(it.Key) == it.Key && it.Key != "" {
			os.Remove(filepath.Join(folder.Path, "tmp", it.Key))
		}
	}
	if len(found) > 0 {
		if err := folder.Sync(); err != nil {
			return 0, err
		}
	}
	err = db.Update(func(tx *state.Tx) error {
		if err := tx.AddPOP3UIDLs(account, found); err != nil {
			return err
		}
		return tx.DeleteOp(op.ID)
	})
	if err != nil {
		return 0, err
	}
	return len(found), nil
}

// resolveDele settles dele ops left by a poll interrupted around QUIT: the
// UIDLs that are no longer on the server were deleted, the others were not
// (the policies decide again). It returns the UIDLs it marked deleted.
func resolveDele(db *state.DB, ops []state.Op, onServer map[string]bool) (marked []string, err error) {
	for _, op := range ops {
		var uidls []string
		if err := json.Unmarshal(op.Data, &uidls); err == nil {
			var gone []string
			for _, u := range uidls {
				if !onServer[u] {
					gone = append(gone, u)
				}
			}
			if err := db.MarkPOP3Deleted(op.Account, gone); err != nil {
				return marked, err
			}
			marked = append(marked, gone...)
		}
		if err := db.DeleteOp(op.ID); err != nil {
			return marked, err
		}
	}
	return marked, nil
}

// cleanTmp removes files older than 36 hours from the folder's tmp/, as
// the Maildir convention allows: they are deliveries that died.
func cleanTmp(folder *maildir.Folder, now time.Time) {
	dir := filepath.Join(folder.Path, "tmp")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return
		}
		if now.Sub(info.ModTime()) > tmpMaxAge {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
