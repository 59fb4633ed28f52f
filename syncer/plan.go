package syncer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/maildir"
	"github.com/mailmirror/mailmirror/state"
)

// plan decides which folders take part in the pass: every server folder
// and every local folder matching the account's patterns. A folder on one
// side only is created on the other, unless it was known before (then it
// was deleted on that side: the deletion is mirrored when the other side is
// empty, and reported otherwise).
func (s *Syncer) plan(ctx context.Context, p *pool, remotes map[string]*remoteFolder) ([]*job, error) {
	acct := s.acct.Name
	known, err := s.db.Folders(acct)
	if err != nil {
		return nil, err
	}
	knownByName := map[string]state.Folder{}
	for _, f := range known {
		knownByName[f.Name] = f
	}
	localNames, err := s.store.Folders()
	if err != nil {
		return nil, err
	}
	localSet := map[string]bool{}
	for _, n := range localNames {
		if s.acct.MatchFolder(n) {
			localSet[n] = true
		}
	}
	// Server folders by local name.
	remoteByLocal := map[string]*remoteFolder{}
	// In a fixed order, so that a collision is resolved the same way in
	// every pass.
	remoteNames := make([]string, 0, len(remotes))
	for name := range remotes {
		remoteNames = append(remoteNames, name)
	}
	sort.Strings(remoteNames)
	for _, name := range remoteNames {
		r := remotes[name]
		if r.hasAttr(imap.MailboxAttrNoSelect) || r.hasAttr(imap.MailboxAttrNonExistent) {
			continue
		}
		ln, err := s.names.local(name)
		if err != nil {
			s.warn("%v; skipped", err)
			continue
		}
		if !s.acct.MatchFolder(ln) {
			if s.acct.IsArchiveFolder(ln) {
				s.warn("server folder %q has the name of an archive_to folder, which is local only: not synced; rename one of them", name)
			}
			continue
		}
		if _, err := s.store.FolderPath(ln); err != nil {
			s.warn("server folder %q cannot be stored locally: %v; skipped", name, err)
			continue
		}
		if prev, dup := remoteByLocal[ln]; dup {
			// Keep the one the state binds to this local folder.
			keep, skip := prev, r
			if kf, ok := knownByName[ln]; ok && kf.Remote == name {
				keep, skip = r, prev
			}
			s.warn("server folders %q and %q map to the same local folder %q; %q skipped", keep.name, skip.name, ln, skip.name)
			remoteByLocal[ln] = keep
			continue
		}
		remoteByLocal[ln] = r
	}

	fs := &folderSets{known: knownByName, local: localSet, remote: remoteByLocal}
	if err := s.renameFolders(ctx, p, fs); err != nil {
		return nil, err
	}
	pl := &planner{s: s, ctx: ctx, p: p, fs: fs, seen: map[string]bool{}, maildirGone: s.maildirGone(fs)}
	if err := pl.serverFolders(); err != nil {
		return nil, err
	}
	if err := pl.localFolders(); err != nil {
		return nil, err
	}
	// Known folders gone on both sides: forget them.
	for ln, kf := range knownByName {
		if !pl.seen[ln] {
			if _, ok := remoteByLocal[ln]; !ok && !localSet[ln] {
				s.record(func(tx *state.Tx) error { return tx.DeleteFolder(kf.ID) })
			}
		}
	}
	return pl.jobs, nil
}

// planner builds a pass's jobs from the folder sets, creating and deleting
// folders on the side that misses them (in a dry run: describing it).
type planner struct {
	s    *Syncer
	ctx  context.Context
	p    *pool
	fs   *folderSets
	seen map[string]bool
	jobs []*job
	// maildirGone: no known folder is there locally (a wrong maildir
	// path, a disk not mounted): no server folder is deleted.
	maildirGone bool
}

// maildirGone reports whether every known folder (two at least) has gone
// locally at once, and notes it.
func (s *Syncer) maildirGone(fs *folderSets) bool {
	if len(fs.known) < 2 {
		return false
	}
	for ln := range fs.known {
		if fs.local[ln] {
			return false
		}
	}
	s.note(maildir.Inbox, noteDeletedLocal, fmt.Sprintf("account %q: none of its %d folders is in the Maildir at %s (a wrong maildir path? a disk not mounted?): no server folder deleted, nothing synced", s.acct.Name, len(fs.known), s.store.Root))
	return true
}

// add makes the job of a folder present on both sides (or about to be).
// noServer: in a dry run, the server folder is not created.
func (pl *planner) add(ln string, r *remoteFolder, noServer bool) error {
	s := pl.s
	pl.seen[ln] = true
	var lf *maildir.Folder
	var err error
	if s.opts.DryRun {
		lf, _, err = s.store.ExistingFolder(ln)
	} else {
		lf, err = s.store.Folder(ln)
	}
	if err != nil {
		return err
	}
	st, ok := pl.fs.known[ln]
	switch {
	case s.opts.DryRun && !ok:
		st = state.Folder{Account: s.acct.Name, Name: ln, Remote: r.name}
	case s.opts.DryRun:
		st.Remote = r.name
	case !ok || st.Remote != r.name:
		// Only new folders cost a write (and its fsync).
		if st, err = s.db.EnsureFolder(s.acct.Name, ln, r.name); err != nil {
			return err
		}
		if st.Remote != r.name {
			st.Remote = r.name
			if err := s.db.Update(func(tx *state.Tx) error { return tx.UpdateFolder(st) }); err != nil {
				return err
			}
		}
	}
	pl.jobs = append(pl.jobs, &job{s: s, local: ln, remote: r.name, status: r.status, st: st, lf: lf, noServer: noServer})
	return nil
}

// serverFolders makes the jobs of the server's folders; a known folder
// deleted locally is deleted on the server when it is empty there.
func (pl *planner) serverFolders() error {
	s := pl.s
	for ln, r := range pl.fs.remote {
		kf, wasKnown := pl.fs.known[ln]
		if !s.writesLocal(ln) && !pl.fs.local[ln] && !wasKnown {
			continue // direction = "push": no new local folder
		}
		if pl.maildirGone && wasKnown {
			pl.seen[ln] = true
			continue
		}
		// INBOX is never deleted: gone locally, it is made again, and
		// its messages count as deleted here (the guard sees them).
		if wasKnown && !pl.fs.local[ln] && !strings.EqualFold(ln, maildir.Inbox) {
			pl.seen[ln] = true
			if !s.writesServer(ln) {
				continue // direction = "pull": kept on the server
			}
			if err := s.deletedLocally(pl.ctx, pl.p, kf, r); err != nil {
				return err
			}
			continue
		}
		if s.opts.DryRun && !pl.fs.local[ln] && !wasKnown {
			s.planFolder(ln).Actions = append(s.planFolder(ln).Actions, fmt.Sprintf("create local folder %q", ln))
		}
		if err := pl.add(ln, r, false); err != nil {
			s.warn("folder %q: %v; skipped", ln, err)
		}
	}
	return nil
}

// localFolders makes the jobs of local folders the server does not have:
// new ones are created there; known ones were deleted on the server.
func (pl *planner) localFolders() error {
	s := pl.s
	for ln := range pl.fs.local {
		if pl.seen[ln] {
			continue
		}
		pl.seen[ln] = true
		lf, _, err := s.store.ExistingFolder(ln)
		if err != nil {
			return err
		}
		if kf, wasKnown := pl.fs.known[ln]; wasKnown {
			if !s.writesLocal(ln) {
				continue // direction = "push": the local folder stays
			}
			if err := s.deletedOnServer(kf, lf); err != nil {
				return err
			}
			continue
		}
		// New local folder: create it on the server.
		if !s.writesServer(ln) {
			continue // direction = "pull": local only
		}
		rn, err := s.names.remote(ln)
		if err != nil {
			s.warn("%v; skipped", err)
			continue
		}
		if s.opts.DryRun {
			s.planFolder(ln).Actions = append(s.planFolder(ln).Actions, fmt.Sprintf("create server folder %q", rn))
		} else {
			c, err := pl.p.get(pl.ctx)
			if err != nil {
				return err
			}
			err = c.Create(rn, nil).Wait()
			s.release(c, err)
			if err != nil {
				s.warn("create server folder %q: %v", rn, err)
				continue
			}
		}
		if err := pl.add(ln, &remoteFolder{name: rn}, s.opts.DryRun); err != nil {
			s.warn("folder %q: %v; skipped", ln, err)
		}
	}
	return nil
}

// beforeFolderDelete, when set (tests), runs just before the emptiness of
// a server folder about to be deleted is checked.
var beforeFolderDelete func(remote string)

// deletedLocally handles a known folder whose local directory is gone: the
// server folder is deleted when it is empty at that moment (STATUS right
// before DELETE: mail delivered since the pass began survives); else it is
// kept and a note says so, once. With --allow-deletes for the folder, the
// messages the state pairs are deleted first.
func (s *Syncer) deletedLocally(ctx context.Context, p *pool, kf state.Folder, r *remoteFolder) error {
	ln := kf.Name
	allowed := s.allowed(ln)
	if s.opts.DryRun {
		n := messageCount(r)
		switch {
		case n == 0:
			s.planFolder(ln).Actions = append(s.planFolder(ln).Actions, fmt.Sprintf("delete server folder %q (deleted locally, empty on the server)", r.name))
		case allowed:
			s.planFolder(ln).Actions = append(s.planFolder(ln).Actions, fmt.Sprintf("delete the known messages of server folder %q and the folder if then empty (--allow-deletes)", r.name))
		default:
			s.planFolder(ln).Refused = fmt.Sprintf("folder deleted locally but the server folder %q holds %s: kept", r.name, countText(n))
		}
		return nil
	}
	c, err := p.get(ctx)
	if err != nil {
		return err
	}
	n, err := s.emptyAndCount(c, kf, r.name, allowed)
	if err == nil && n == 0 {
		err = c.Delete(r.name).Wait()
		if err != nil {
			s.warn("delete server folder %q: %v", r.name, err)
		} else {
			s.record(func(tx *state.Tx) error { return tx.DeleteFolder(kf.ID) })
		}
		s.release(c, err)
		return nil
	}
	s.release(c, err)
	if err != nil {
		return err
	}
	s.note(ln, noteDeletedLocal, fmt.Sprintf("folder %q was deleted locally but still holds %s on the server: not deleted there; delete its messages first, re-create the local folder to get them back, or run mailmirror sync --allow-deletes %s/%s", ln, countText(n), s.acct.Name, ln))
	return nil
}

// emptyAndCount returns the number of messages in a server folder now
// (STATUS). With allowed, the messages of kf's pairs are deleted first
// (\Deleted and UID EXPUNGE; servers without UIDPLUS keep them).
func (s *Syncer) emptyAndCount(c *Conn, kf state.Folder, remote string, allowed bool) (int, error) {
	if beforeFolderDelete != nil {
		beforeFolderDelete(remote)
	}
	if c.Selected() != "" && (c.Caps().Has(imap.CapUnselect) || c.Caps().Has(imap.CapIMAP4rev2)) {
		c.ClearSelected()
		if err := c.Unselect().Wait(); err != nil {
			return 0, err
		}
	}
	if allowed && (c.Caps().Has(imap.CapUIDPlus) || c.Caps().Has(imap.CapIMAP4rev2)) {
		pairs, err := s.db.Pairs(kf.ID)
		if err != nil {
			return 0, err
		}
		var set imap.UIDSet
		for _, pp := range pairs {
			set.AddNum(imap.UID(pp.UID))
		}
		if len(set) > 0 {
			if _, err := c.Reselect(remote); err != nil {
				return 0, err
			}
			if err := markDeleted(c, set); err != nil {
				return 0, err
			}
			if err := c.UIDExpunge(set).Close(); err != nil {
				return 0, fmt.Errorf("expunge: %w", err)
			}
			if err := c.Unselect().Wait(); err != nil {
				return 0, err
			}
			c.ClearSelected()
		}
	}
	st, err := c.Status(remote, &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil {
		return 0, fmt.Errorf("status %q: %w", remote, err)
	}
	if st.NumMessages == nil {
		return -1, nil
	}
	return int(*st.NumMessages), nil
}

// deletedOnServer handles a known folder gone from the server whose local
// folder is still there: an empty one is removed; one holding messages is
// kept and a note says so, once. With --allow-deletes for the folder, the
// files the state pairs (they were on the server) are removed first.
func (s *Syncer) deletedOnServer(kf state.Folder, lf *maildir.Folder) error {
	ln := kf.Name
	ents, err := lf.Scan()
	if err != nil {
		return err
	}
	allowed := s.allowed(ln)
	if s.opts.DryRun {
		switch {
		case len(ents) == 0:
			s.planFolder(ln).Actions = append(s.planFolder(ln).Actions, fmt.Sprintf("remove local folder %q (deleted on the server, empty here)", ln))
		case allowed:
			s.planFolder(ln).Actions = append(s.planFolder(ln).Actions, fmt.Sprintf("remove the known messages of local folder %q and the folder if then empty (--allow-deletes)", ln))
		default:
			s.planFolder(ln).Refused = fmt.Sprintf("folder deleted on the server but %s here: kept", countText(len(ents)))
		}
		return nil
	}
	if allowed && len(ents) > 0 {
		if ents, err = s.removePaired(kf, lf, ents); err != nil {
			return err
		}
	}
	if len(ents) > 0 {
		s.note(ln, noteDeletedServer, fmt.Sprintf("folder %q was deleted on the server but still holds %s locally: kept here; move them elsewhere, delete the local folder, or run mailmirror sync --allow-deletes %s/%s", ln, countText(len(ents)), s.acct.Name, ln))
		return nil
	}
	if err := removeEmptyFolder(lf); err != nil {
		s.warn("remove local folder %q: %v", ln, err)
	}
	s.record(func(tx *state.Tx) error { return tx.DeleteFolder(kf.ID) })
	return nil
}

// removePaired removes the files of a folder that the state pairs and
// returns the others.
func (s *Syncer) removePaired(kf state.Folder, lf *maildir.Folder, ents []maildir.Entry) ([]maildir.Entry, error) {
	pairs, err := s.db.Pairs(kf.ID)
	if err != nil {
		return nil, err
	}
	keys := map[string]bool{}
	for _, pp := range pairs {
		keys[pp.Key] = true
	}
	var rest []maildir.Entry
	for _, e := range ents {
		if !keys[e.Key] {
			rest = append(rest, e)
			continue
		}
		if err := lf.Remove(e); err != nil {
			return nil, err
		}
	}
	return rest, lf.Sync()
}

// record runs a state change, except in a dry run.
func (s *Syncer) record(fn func(tx *state.Tx) error) error {
	if s.opts.DryRun {
		return nil
	}
	return s.db.Update(fn)
}

func messageCount(r *remoteFolder) int {
	if r.status != nil && r.status.NumMessages != nil {
		return int(*r.status.NumMessages)
	}
	return -1
}

func countText(n int) string {
	switch {
	case n < 0:
		return "messages"
	case n == 1:
		return "1 message"
	}
	return fmt.Sprintf("%d messages", n)
}

// removeEmptyFolder removes a local folder's cur/, new/ and tmp/ (all
// empty) and the folder directory when nothing else is in it.
func removeEmptyFolder(f *maildir.Folder) error {
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := removeDirIfEmpty(f.Path + "/" + sub); err != nil {
			return err
		}
	}
	err := removeDirIfEmpty(f.Path)
	if err != nil && strings.Contains(err.Error(), "not empty") {
		return nil // subfolders live there
	}
	return err
}

func removeDirIfEmpty(dir string) error {
	err := os.Remove(dir)
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}
