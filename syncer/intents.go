package syncer

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/mailmirror/mailmirror/state"
)

// resolveIntents settles the write-ahead intents a previous pass left
// behind (it was killed between a side effect and recording its result),
// before anything else happens:
//
//   - a download batch: the files that were published are paired with
//     their UIDs; the others were never visible and are fetched again;
//   - an APPEND or a MOVE: either it reached the server or it did not. If it
//     did, the message is on the server with a UID at or above the folder's
//     recorded UIDNEXT, so this pass lists it as a new server message and
//     pairs it with the local file by identity and size instead of
//     downloading it or sending it again; if it did not, the local file is
//     still unpaired and the pass sends it. Either way nothing is repeated
//     blindly, and the intent is removed here;
//   - an archiving: see resolveArchive.
func (s *Syncer) resolveIntents(ctx context.Context, p *pool) error {
	ops, err := s.db.Ops(s.acct.Name)
	if err != nil {
		return err
	}
	for _, op := range ops {
		if !strings.HasPrefix(op.Kind, "imap-") {
			continue
		}
		switch op.Kind {
		case opDownload:
			if err := s.resolveDownload(op); err != nil {
				return err
			}
			continue
		case opFolderRename:
			if err := s.resolveFolderRename(op); err != nil {
				return fmt.Errorf("resolve an interrupted rename of %q: %w", op.Folder, err)
			}
			continue
		case opArchive:
			if err := s.resolveArchive(ctx, p, op); err != nil {
				return fmt.Errorf("resolve an interrupted archiving of %q: %w", op.Folder, err)
			}
			continue
		}
		if err := s.db.DeleteOp(op.ID); err != nil {
			return err
		}
	}
	return nil
}

func (s *Syncer) resolveDownload(op state.Op) error {
	var in downloadIntent
	if err := json.Unmarshal(op.Data, &in); err != nil {
		return s.db.DeleteOp(op.ID)
	}
	f, ok, err := s.store.ExistingFolder(op.Folder)
	if err != nil || !ok {
		return s.db.DeleteOp(op.ID)
	}
	present, err := f.ScanByKey()
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *state.Tx) error {
		for _, it := range in.Items {
			if _, ok := present[it.Key]; !ok {
				continue
			}
			err := tx.PutPair(state.Pair{FolderID: in.FolderID, UID: it.UID, Key: it.Key, Flags: it.Flags, Size: it.Size, MsgID: it.Ident, Placeholder: it.Placeholder})
			if err != nil {
				return err
			}
		}
		return tx.DeleteOp(op.ID)
	})
}
