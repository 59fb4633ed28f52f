package syncer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"sort"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/maildir"
	"github.com/mailmirror/mailmirror/state"
)

// Archiving (a folder_policy's archive_after) relieves the server: messages
// older than archive_after that are fully stored locally are moved into the
// policy's local-only archive_to folder, then deleted from the server.
//
// The order makes a crash at any instant safe (see resolveArchive):
//
//  1. an intent (phase "move") lists the messages, with their UIDs and keys;
//  2. the files are renamed into the archive folder, and both folders'
//     new/ and cur/ are fsynced;
//  3. one transaction removes their pairs and replaces the intent by one
//     of phase "expunge";
//  4. the messages are flagged \Deleted and removed with UID EXPUNGE of
//     exactly their UIDs (never a plain EXPUNGE: without UIDPLUS nothing is
//     archived), and the intent is removed.
//
// A pass never sees an archived file's disappearance as a user's move or
// delete: intents are resolved before a pass looks at any folder, and after
// step 3 the message has no pair any more.

// opArchive is the kind of an archive intent.
const opArchive = "imap-archive"

// Phases of an archive intent.
const (
	archiveMove    = "move"    // files being moved into the archive folder; pairs unchanged
	archiveExpunge = "expunge" // files in the archive folder, pairs gone; server copies to delete
)

// archiveIntent is the write-ahead record of one folder's archiving.
type archiveIntent struct {
	Phase       string        `json:"phase"`
	FolderID    int64         `json:"folder_id"`
	Remote      string        `json:"remote"`
	UIDValidity uint32        `json:"uidvalidity"`
	ArchiveTo   string        `json:"archive_to"`
	Items       []archiveItem `json:"items"`
}

type archiveItem struct {
	UID uint32 `json:"uid"`
	Key string `json:"key"`
}

// Archived is one message that archiving moved into its archive folder
// (or, in a dry run, would move).
type Archived struct {
	Folder    string    // local folder it leaves
	ArchiveTo string    // local archive folder it goes to
	UID       uint32    // its UID on the server
	Date      time.Time // its server date (INTERNALDATE)
	Size      int64     // its size on the server
	Subject   string    // decoded Subject header
	MessageID string    // Message-ID header
	key       string
	ident     string
}

// archiveHook, when set by tests, runs at each step of archiving:
// "intent", "moved" (after each file), "synced", "recorded", "flagged",
// "expunged". The crash tests kill the process there.
var archiveHook func(step string)

func archiveStepDone(step string) {
	if archiveHook != nil {
		archiveHook(step)
	}
}

// archiveEvery is how often the passes of one Syncer (a daemon's) look for
// messages to archive; a new Syncer (one `mailmirror sync`) looks at once.
const archiveEvery = time.Hour

// Archive moves every message due for archiving now, as the archive step
// of a pass does, after resolving pending intents. With dryRun it only
// lists what would go and changes nothing: not the Maildir, not the state,
// not the server (pending intents are left for the next pass). It returns
// the messages and the warnings.
func (s *Syncer) Archive(ctx context.Context, dryRun bool) ([]Archived, []string, error) {
	s.stats = Stats{}
	if !dryRun {
		if err := s.resolveIntents(ctx, s.pool); err != nil {
			return nil, s.stats.Warnings, err
		}
	}
	items, err := s.archiveAll(ctx, dryRun)
	return items, s.stats.Warnings, err
}

// hasArchivePolicy reports whether any folder policy archives.
func (s *Syncer) hasArchivePolicy() bool {
	for _, p := range s.acct.FolderPolicies {
		if p.ArchiveAfter > 0 {
			return true
		}
	}
	return false
}

// archiveStep is the archive step of a pass: at most once per archiveEvery.
func (s *Syncer) archiveStep(ctx context.Context) error {
	if !s.hasArchivePolicy() || (!s.lastArchive.IsZero() && time.Since(s.lastArchive) < archiveEvery) {
		return nil
	}
	_, err := s.archiveAll(ctx, false)
	if err == nil {
		s.lastArchive = time.Now()
	}
	return err
}

// archiveAll archives every synced folder whose policy has archive_after.
func (s *Syncer) archiveAll(ctx context.Context, dryRun bool) ([]Archived, error) {
	if !s.hasArchivePolicy() {
		return nil, nil
	}
	folders, err := s.db.Folders(s.acct.Name)
	if err != nil {
		return nil, err
	}
	var out []Archived
	var errs []error
	var c *Conn
	for _, f := range folders {
		pol := s.acct.Policy(f.Name)
		if pol == nil || pol.ArchiveAfter <= 0 || !s.acct.MatchFolder(f.Name) || f.Remote == "" || f.UIDValidity == 0 {
			continue
		}
		if c == nil {
			if c, err = s.pool.get(ctx); err != nil {
				return out, err
			}
		}
		items, err := s.archiveFolder(c, f, pol, dryRun)
		out = append(out, items...)
		if err != nil {
			errs = append(errs, fmt.Errorf("folder %q: archive: %w", f.Name, err))
			if isConnError(err) {
				s.pool.discard(c)
				c = nil
			}
		}
	}
	if c != nil {
		s.pool.put(c)
	}
	if !dryRun {
		s.count(func(st *Stats) { st.Archived += len(out) })
	}
	return out, errors.Join(errs...)
}

// archiveFolder archives one folder's messages older than the policy's
// archive_after that are paired, present and complete locally.
func (s *Syncer) archiveFolder(c *Conn, f state.Folder, pol *config.FolderPolicy, dryRun bool) ([]Archived, error) {
	if !hasUIDPlus(c) {
		s.warn("folder %q: archive_after skipped: the server has no UIDPLUS, and removing the archived messages without it would expunge every message marked \\Deleted in the folder", f.Name)
		return nil, nil
	}
	cands, err := s.archiveCandidates(c, f, pol)
	if err != nil || len(cands) == 0 {
		return nil, err
	}
	lf, ok, err := s.store.ExistingFolder(f.Name)
	if err != nil || !ok {
		return nil, err
	}
	byKey, err := lf.ScanByKey()
	if err != nil {
		return nil, err
	}
	var ready []Archived
	var entries []maildir.Entry
	kept := 0
	for _, a := range cands {
		e, ok := byKey[a.key]
		if !ok {
			kept++ // moved or deleted here since the last pass: the next pass mirrors that
			continue
		}
		if !storedLocally(lf, e, a) {
			kept++
			continue
		}
		ready = append(ready, a)
		entries = append(entries, e)
	}
	if kept > 0 {
		s.warn("folder %q: %s older than archive_after not fully stored here (or changed since the last pass): kept on the server", f.Name, countText(kept))
	}
	if dryRun || len(ready) == 0 {
		return ready, nil
	}
	return s.archiveMessages(c, f, pol, lf, ready, entries)
}

// archiveCandidates returns the paired messages of the server folder
// older than archive_after, by UID, with what a report shows of them.
// None when the UIDVALIDITY changed since the last pass (that pass
// re-pairs first).
func (s *Syncer) archiveCandidates(c *Conn, f state.Folder, pol *config.FolderPolicy) ([]Archived, error) {
	sel, err := c.Reselect(f.Remote)
	if err != nil {
		return nil, err
	}
	if sel.UIDValidity != f.UIDValidity || sel.NumMessages == 0 {
		return nil, nil // a changed UIDVALIDITY: the next pass re-pairs first
	}
	cutoff := time.Now().Add(-pol.ArchiveAfter)
	// BEFORE compares dates only, in the server's time zone: ask for more
	// and check each message's INTERNALDATE below.
	found, err := searchUIDs(c, &imap.SearchCriteria{Before: cutoff.AddDate(0, 0, 2)}, sel.NumMessages)
	if err != nil || len(found) == 0 {
		return nil, err
	}
	// Only paired messages: one never downloaded (max_age) stays.
	pairs, err := s.db.Pairs(f.ID)
	if err != nil {
		return nil, err
	}
	byUID := map[uint32]state.Pair{}
	var set imap.UIDSet
	for _, p := range pairs {
		if p.Key != "" && found[p.UID] {
			byUID[p.UID] = p
			set.AddNum(imap.UID(p.UID))
		}
	}
	if len(byUID) == 0 {
		return nil, nil
	}
	var cands []Archived
	opts := &imap.FetchOptions{UID: true, InternalDate: true, RFC822Size: true, BodySection: []*imap.FetchItemBodySection{identitySection}}
	err = each(c, c.Fetch(set, opts), func(m *imapclient.FetchMessageBuffer) {
		p, ok := byUID[uint32(m.UID)]
		if !ok || m.InternalDate.IsZero() || !m.InternalDate.Before(cutoff) {
			return
		}
		hdr := m.FindBodySection(identitySection)
		fields := parseFields(hdr)
		cands = append(cands, Archived{Folder: f.Name, ArchiveTo: pol.ArchiveTo, UID: p.UID, Date: m.InternalDate,
			Size: m.RFC822Size, Subject: decodeHeader(fields["subject"]), MessageID: fields["message-id"], key: p.Key, ident: identity(hdr)})
	})
	if err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	sort.Slice(cands, func(a, b int) bool { return cands[a].UID < cands[b].UID })
	return cands, nil
}

// archiveMessages archives the messages ready (stored here as on the
// server; entries are their files in lf): the intent, the renames into
// archive_to, then finishArchive. A message whose file name archive_to
// already has is kept.
func (s *Syncer) archiveMessages(c *Conn, f state.Folder, pol *config.FolderPolicy, lf *maildir.Folder, ready []Archived, entries []maildir.Entry) ([]Archived, error) {
	dst, err := s.store.Folder(pol.ArchiveTo)
	if err != nil {
		return nil, err
	}
	taken, err := dst.ScanByKey()
	if err != nil {
		return nil, err
	}
	in := archiveIntent{Phase: archiveMove, FolderID: f.ID, Remote: f.Remote, UIDValidity: f.UIDValidity, ArchiveTo: pol.ArchiveTo}
	n := 0
	for i, a := range ready {
		if _, ok := taken[a.key]; ok {
			s.warn("folder %q: %s is already in %q under the same file name: kept", f.Name, a.MessageID, pol.ArchiveTo)
			continue
		}
		ready[n], entries[n] = a, entries[i]
		n++
		in.Items = append(in.Items, archiveItem{UID: a.UID, Key: a.key})
	}
	ready, entries = ready[:n], entries[:n]
	if n == 0 {
		return nil, nil
	}
	data, _ := json.Marshal(in)
	opID, err := s.db.AddOp(state.Op{Account: s.acct.Name, Kind: opArchive, Folder: f.Name, Data: data})
	if err != nil {
		return nil, err
	}
	archiveStepDone("intent")
	var moved []archiveItem
	var done []Archived
	var moveErr error
	for i, a := range ready {
		if _, err := lf.MoveTo(entries[i], dst); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // gone meanwhile: its pair stays, the next pass mirrors it
			}
			moveErr = err
			break
		}
		moved = append(moved, archiveItem{UID: a.UID, Key: a.key})
		done = append(done, a)
		archiveStepDone("moved")
	}
	err = s.finishArchive(func() (*Conn, error) { return c, nil }, opID, f.Name, in, moved, lf, dst)
	return done, errors.Join(moveErr, err)
}

// storedLocally reports whether a local file is the complete message a: the
// same identity, and at least its server size in CRLF terms (a placeholder
// or a truncated file is smaller).
func storedLocally(lf *maildir.Folder, e maildir.Entry, a Archived) bool {
	hdr, n, _, err := readLocalFile(lf, e)
	if err != nil {
		return false
	}
	if a.ident != "" && identity(hdr) != a.ident {
		return false
	}
	return a.Size > 0 && n >= a.Size
}

// finishArchive makes the moves durable, then in one transaction forgets
// the moved messages' pairs and turns the intent into an expunge intent,
// and finally deletes them from the server. src is nil when the source
// folder no longer exists.
func (s *Syncer) finishArchive(conn func() (*Conn, error), opID int64, folder string, in archiveIntent, moved []archiveItem, src, dst *maildir.Folder) error {
	if src != nil {
		if err := src.Sync(); err != nil {
			return err
		}
	}
	if err := dst.Sync(); err != nil {
		return err
	}
	archiveStepDone("synced")
	in.Phase, in.Items = archiveExpunge, moved
	data, _ := json.Marshal(in)
	var expID int64
	err := s.db.Update(func(tx *state.Tx) error {
		for _, it := range moved {
			if err := tx.DeletePair(in.FolderID, it.UID); err != nil {
				return err
			}
		}
		if err := tx.DeleteOp(opID); err != nil {
			return err
		}
		if len(moved) == 0 {
			return nil
		}
		var err error
		expID, err = tx.AddOp(state.Op{Account: s.acct.Name, Kind: opArchive, Folder: folder, Data: data})
		return err
	})
	if err != nil || len(moved) == 0 {
		return err
	}
	archiveStepDone("recorded")
	c, err := conn()
	if err != nil {
		return err
	}
	return s.expungeArchived(c, expID, in)
}

// expungeArchived deletes archived messages from the server: \Deleted and
// UID EXPUNGE of exactly their UIDs, then removes the intent.
func (s *Syncer) expungeArchived(c *Conn, opID int64, in archiveIntent) error {
	sel, err := c.Select(in.Remote)
	if err != nil {
		var ie *imap.Error
		if errors.As(err, &ie) {
			// The folder is gone on the server: so are the messages.
			return s.db.DeleteOp(opID)
		}
		return err
	}
	if sel.UIDValidity != in.UIDValidity || !hasUIDPlus(c) {
		s.warn("folder %q: %s archived here could not be removed from the server (UIDVALIDITY changed or no UIDPLUS): they may come back as new messages", in.Remote, countText(len(in.Items)))
		return s.db.DeleteOp(opID)
	}
	var set imap.UIDSet
	for _, it := range in.Items {
		set.AddNum(imap.UID(it.UID))
	}
	if err := markDeleted(c, set); err != nil {
		return err
	}
	archiveStepDone("flagged")
	if err := c.UIDExpunge(set).Close(); err != nil {
		return fmt.Errorf("expunge: %w", err)
	}
	archiveStepDone("expunged")
	return s.db.DeleteOp(opID)
}

// resolveArchive settles an archive intent a killed pass left behind,
// before the pass looks at any folder:
//
//   - phase "move": files found in the archive folder (and not in the
//     source) were moved: the move is made durable, their pairs removed and
//     their server copies deleted, as if the pass had not been killed.
//     Files still in the source folder keep their pair (and are archived
//     again when due); nothing was deleted from the server yet.
//   - phase "expunge": the files are durably archived and unpaired; the
//     server copies are deleted now. If that fails the pass stops here:
//     looking at the folder first would download them again.
func (s *Syncer) resolveArchive(ctx context.Context, p *pool, op state.Op) error {
	var in archiveIntent
	if err := json.Unmarshal(op.Data, &in); err != nil {
		return s.db.DeleteOp(op.ID)
	}
	var c *Conn
	conn := func() (*Conn, error) {
		if c == nil {
			var err error
			c, err = p.get(ctx)
			return c, err
		}
		return c, nil
	}
	release := func(err error) {
		if c == nil {
			return
		}
		if err != nil && isConnError(err) {
			p.discard(c)
		} else {
			p.put(c)
		}
	}
	var err error
	switch in.Phase {
	case archiveMove:
		err = s.resolveArchiveMove(conn, op, in)
	case archiveExpunge:
		if c, err = conn(); err == nil {
			err = s.expungeArchived(c, op.ID, in)
		}
	default:
		err = s.db.DeleteOp(op.ID)
	}
	release(err)
	return err
}

func (s *Syncer) resolveArchiveMove(conn func() (*Conn, error), op state.Op, in archiveIntent) error {
	dst, ok, err := s.store.ExistingFolder(in.ArchiveTo)
	if err != nil {
		return err
	}
	if !ok {
		return s.db.DeleteOp(op.ID) // nothing was moved
	}
	inDst, err := dst.ScanByKey()
	if err != nil {
		return err
	}
	src, srcOK, err := s.store.ExistingFolder(op.Folder)
	if err != nil {
		return err
	}
	inSrc := map[string]maildir.Entry{}
	if srcOK {
		if inSrc, err = src.ScanByKey(); err != nil {
			return err
		}
	} else {
		src = nil
	}
	var moved []archiveItem
	for _, it := range in.Items {
		_, there := inDst[it.Key]
		_, here := inSrc[it.Key]
		if there && !here {
			moved = append(moved, it)
		}
	}
	return s.finishArchive(conn, op.ID, op.Folder, in, moved, src, dst)
}

func hasUIDPlus(c *Conn) bool {
	return c.Caps().Has(imap.CapUIDPlus) || c.Caps().Has(imap.CapIMAP4rev2)
}

// decodeHeader decodes RFC 2047 encoded words, keeping the text as it is
// when it cannot.
func decodeHeader(v string) string {
	d, err := new(mime.WordDecoder).DecodeHeader(v)
	if err != nil {
		return v
	}
	return d
}

// ArchiveAccount resolves the account's password, opens its Maildir and
// runs Archive (see there) once.
func ArchiveAccount(ctx context.Context, acct *config.Account, db *state.DB, dryRun bool, opts Options) (items []Archived, warnings []string, err error) {
	err = withAccount(ctx, acct, db, opts, func(s *Syncer) error {
		items, warnings, err = s.Archive(ctx, dryRun)
		return err
	})
	return items, warnings, err
}
