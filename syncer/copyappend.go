package syncer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/maildir"
	"github.com/mailmirror/mailmirror/state"
)

// A new local file that is byte for byte the file of a message already
// paired in a folder (mutt's save, `s`, writes the copy at once and
// deletes the original only at `$`) is not uploaded: the server copies its
// message (UID COPY, COPYUID binds the pair), so the body does not travel
// and the copy keeps the server date. The later delete of the original is
// an ordinary server delete: together a move. The write-ahead intent is an
// append's, settled the same way (the copy is found by identity and size
// at or above the recorded UIDNEXT).

// copySource is a message paired in a folder of the account whose file has
// the bytes of a new local file: the matcher's "copy" decision (job.copies).
type copySource struct {
	f state.Folder
	p state.Pair
}

// copyOf looks for a paired message whose file is byte for byte new file
// l (same identity and size first, then the bytes).
func (j *job) copyOf(l *localMsg) (copySource, bool, error) {
	if l.ident == "" {
		return copySource{}, false, nil
	}
	sizes := []int64{l.size}
	if l.altSize > 0 {
		sizes = append(sizes, l.altSize)
	}
	pairs, folders, err := j.s.db.PairsByIdent(j.s.acct.Name, l.ident, sizes...)
	if err != nil {
		return copySource{}, false, err
	}
	for i, p := range pairs {
		f := folders[i]
		if f.Remote == "" || f.UIDValidity == 0 || (f.ID == j.st.ID && p.Key == l.e.Key) {
			continue
		}
		same, err := j.sameFile(f.Name, p.Key, l)
		if err != nil || !same {
			continue
		}
		return copySource{f, p}, true, nil
	}
	return copySource{}, false, nil
}

// copyInstead copies l on the server from the message the matcher found to
// be the same file (job.copies) instead of uploading it, when the server
// has UIDPLUS. It reports whether it did. The job's folder is selected on
// c again afterwards.
func (j *job) copyInstead(c *Conn, l *localMsg) (bool, error) {
	src, ok := j.copies[l]
	if !ok || !(c.Caps().Has(imap.CapUIDPlus) || c.Caps().Has(imap.CapIMAP4rev2)) {
		return false, nil
	}
	return j.copyFrom(c, src.f, src.p, l)
}

// sameFile reports whether the local file of key in folder has the bytes
// of l's file.
func (j *job) sameFile(folder, key string, l *localMsg) (bool, error) {
	lf, err := j.s.store.Folder(folder)
	if err != nil {
		return false, err
	}
	e, ok, err := lf.Find(key)
	if err != nil || !ok {
		return false, err
	}
	a, err := lf.Open(e)
	if err != nil {
		return false, err
	}
	defer a.Close()
	b, err := j.lf.Open(l.e)
	if err != nil {
		return false, err
	}
	defer b.Close()
	return sameContent(a, b)
}

// sameContent compares two readers to their ends.
func sameContent(a, b io.Reader) (bool, error) {
	ra, rb := bufio.NewReaderSize(a, 32<<10), bufio.NewReaderSize(b, 32<<10)
	bufA, bufB := make([]byte, 32<<10), make([]byte, 32<<10)
	for {
		na, errA := io.ReadFull(ra, bufA)
		nb, errB := io.ReadFull(rb, bufB)
		if na != nb || !bytes.Equal(bufA[:na], bufB[:nb]) {
			return false, nil
		}
		endA := errors.Is(errA, io.EOF) || errors.Is(errA, io.ErrUnexpectedEOF)
		endB := errors.Is(errB, io.EOF) || errors.Is(errB, io.ErrUnexpectedEOF)
		switch {
		case errA != nil && !endA:
			return false, errA
		case errB != nil && !endB:
			return false, errB
		case endA || endB:
			return endA && endB, nil
		}
	}
}

// copyFrom copies the message of pair p in folder f into the job's folder
// and binds it to l's file with l's flags.
func (j *job) copyFrom(c *Conn, f state.Folder, p state.Pair, l *localMsg) (bool, error) {
	sel, err := c.Select(f.Remote)
	if err != nil {
		return false, j.reselect(c, err)
	}
	if sel.UIDValidity != f.UIDValidity {
		return false, j.reselect(c, nil) // the next pass of that folder re-pairs it
	}
	data, _ := json.Marshal(transferIntent{Folder: j.remote, Key: l.e.Key, Ident: l.ident, Size: l.size})
	opID, err := j.s.db.AddOp(state.Op{Account: j.s.acct.Name, Kind: opAppend, Folder: j.local, Data: data})
	if err != nil {
		return false, j.reselect(c, err)
	}
	cd, err := c.Copy(imap.UIDSetNum(imap.UID(p.UID)), j.remote).Wait()
	if err != nil {
		return false, errors.Join(fmt.Errorf("copy from %q: %w", f.Remote, err), j.reselect(c, nil), j.s.db.DeleteOp(opID))
	}
	if err := j.reselect(c, nil); err != nil {
		return false, err
	}
	uid := uint32(0)
	if cd != nil && (cd.UIDValidity == 0 || cd.UIDValidity == j.newSt.UIDValidity) {
		uid = destUID(cd.DestUIDs)
	}
	if uid == 0 {
		// Gone from the source meanwhile (no COPYUID): upload instead.
		return false, j.s.db.DeleteOp(opID)
	}
	letters := maildir.KnownOnly(l.e.Flags)
	store := &imap.StoreFlags{Op: imap.StoreFlagsSet, Silent: true, Flags: maildir.FlagsToIMAP(letters)}
	if err := c.Store(imap.UIDSetNum(imap.UID(uid)), store, nil).Close(); err != nil {
		return false, fmt.Errorf("store flags of the copy: %w", err)
	}
	err = j.s.db.Update(func(tx *state.Tx) error {
		if uid >= j.newSt.UIDNext && j.pairs[uid] == nil {
			if err := tx.PutPair(state.Pair{FolderID: j.st.ID, UID: uid, Key: l.e.Key, Flags: letters, Size: l.size, MsgID: l.ident}); err != nil {
				return err
			}
		}
		return tx.DeleteOp(opID)
	})
	if err != nil {
		return false, err
	}
	j.s.count(func(st *Stats) { st.Copied++ })
	return true, nil
}

// reselect selects the job's folder again after another folder was
// selected on c, and returns err, or the reason the folder cannot be used.
func (j *job) reselect(c *Conn, err error) error {
	sel, serr := c.Select(j.remote)
	if serr != nil {
		return errors.Join(err, serr)
	}
	if sel.UIDValidity != j.newSt.UIDValidity {
		return errors.Join(err, fmt.Errorf("UIDVALIDITY changed during the pass; the next pass re-pairs the folder"))
	}
	return err
}
