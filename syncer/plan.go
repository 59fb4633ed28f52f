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

	var jobs []*job
	seen := map[string]bool{}
	add := func(ln string, r *remoteFolder) error {
		seen[ln] = true
		lf, err := s.store.Folder(ln)
		if err != nil {
			return err
		}
		st, ok := knownByName[ln]
		if !ok || st.Remote != r.name {
			// Only new folders cost a write (and its fsync).
			if st, err = s.db.EnsureFolder(acct, ln, r.name); err != nil {
				return err
			}
			if st.Remote != r.name {
				st.Remote = r.name
				if err := s.db.Update(func(tx *state.Tx) error { return tx.UpdateFolder(st) }); err != nil {
					return err
				}
			}
		}
		jobs = append(jobs, &job{s: s, local: ln, remote: r.name, status: r.status, st: st, lf: lf})
		return nil
	}
	for ln, r := range remoteByLocal {
		_, wasKnown := knownByName[ln]
		if !s.writesLocal(ln) && !localSet[ln] && !wasKnown {
			continue // direction = "push": no new local folder
		}
		if wasKnown && !localSet[ln] {
			// Deleted locally (directory gone).
			if !s.writesServer(ln) {
				seen[ln] = true
				continue // direction = "pull": kept on the server
			}
			n := messageCount(r)
			if n != 0 {
				s.warn("folder %q was deleted locally but still holds %s on the server: not deleted there; delete its messages first, or re-create the local folder to get them back", ln, countText(n))
				seen[ln] = true
				continue
			}
			c, err := p.get(ctx)
			if err != nil {
				return nil, err
			}
			err = c.Delete(r.name).Wait()
			p.put(c)
			if err != nil {
				s.warn("delete server folder %q: %v", r.name, err)
			} else {
				s.db.Update(func(tx *state.Tx) error { return tx.DeleteFolder(knownByName[ln].ID) })
			}
			seen[ln] = true
			continue
		}
		if err := add(ln, r); err != nil {
			s.warn("folder %q: %v; skipped", ln, err)
		}
	}
	for ln := range localSet {
		if seen[ln] {
			continue
		}
		seen[ln] = true
		lf, _, err := s.store.ExistingFolder(ln)
		if err != nil {
			return nil, err
		}
		if kf, wasKnown := knownByName[ln]; wasKnown {
			// Deleted on the server.
			ents, err := lf.Scan()
			if err != nil {
				return nil, err
			}
			if len(ents) == 0 && !s.writesLocal(ln) {
				continue // direction = "push": the local folder stays
			}
			if len(ents) > 0 {
				s.warn("folder %q was deleted on the server but still holds %s locally: kept here; move them elsewhere or delete the local folder", ln, countText(len(ents)))
				continue
			}
			if err := removeEmptyFolder(lf); err != nil {
				s.warn("remove local folder %q: %v", ln, err)
			}
			s.db.Update(func(tx *state.Tx) error { return tx.DeleteFolder(kf.ID) })
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
		c, err := p.get(ctx)
		if err != nil {
			return nil, err
		}
		err = c.Create(rn, nil).Wait()
		p.put(c)
		if err != nil {
			s.warn("create server folder %q: %v", rn, err)
			continue
		}
		if err := add(ln, &remoteFolder{name: rn}); err != nil {
			s.warn("folder %q: %v; skipped", ln, err)
		}
	}
	// Known folders gone on both sides: forget them.
	for ln, kf := range knownByName {
		if !seen[ln] {
			if _, ok := remoteByLocal[ln]; !ok && !localSet[ln] {
				s.db.Update(func(tx *state.Tx) error { return tx.DeleteFolder(kf.ID) })
			}
		}
	}
	return jobs, nil
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
