package syncer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailmirror/mailmirror/maildir"
	"github.com/mailmirror/mailmirror/state"
)

// opFolderRename is the write-ahead intent of a folder rename made on one
// side to mirror one the user (or another client) made on the other.
const opFolderRename = "imap-folder-rename"

// renameIntent is one folder rename: its local and server names before and
// after.
type renameIntent struct {
	FolderID   int64  `json:"folder_id"`
	From       string `json:"from"`
	To         string `json:"to"`
	FromRemote string `json:"from_remote"`
	ToRemote   string `json:"to_remote"`
	// OnServer: the folder was renamed locally and RENAME goes to the
	// server; otherwise it was renamed on the server and the local
	// directory is renamed.
	OnServer bool `json:"on_server"`
}

// folderSets is what plan knows of an account's folders, by local name:
// the state's, the Maildir's and the server's.
type folderSets struct {
	known  map[string]state.Folder
	local  map[string]bool
	remote map[string]*remoteFolder
}

// Kinds of folder notes (see state.Note).
const (
	noteRenameConflict = "rename-conflict"
	noteDeletedServer  = "deleted-on-server"
	noteDeletedLocal   = "deleted-locally"
	noteDeleteGuard    = "delete-guard"
)

// renameSample is how many messages of a folder are compared to tell
// whether a new server folder is a known one renamed.
const renameSample = 8

// renameFolders finds folders renamed on one side since the last pass and
// renames them on the other, without moving any message:
//
//   - renamed on the server: a known folder gone from the server while its
//     local folder is still there, and a server folder the state does not
//     know with the same UIDVALIDITY (Dovecot and Cyrus keep it across
//     RENAME) whose messages at the UIDs of the old folder's pairs have
//     their identities and sizes → the local directory is renamed;
//   - renamed locally: a known folder gone locally while the server still
//     has it, and a local folder the state does not know that holds the
//     files of most of its pairs (same Maildir keys) → RENAME on the
//     server.
//
// A rename onto a name the other side already has is a conflict: nothing
// is renamed, both folders are kept and a note says so. The maps in fs are
// updated to what the renames made of them.
func (s *Syncer) renameFolders(ctx context.Context, p *pool, fs *folderSets) error {
	var goneServer, goneLocal []state.Folder
	for ln, kf := range fs.known {
		if strings.EqualFold(ln, maildir.Inbox) || !s.acct.MatchFolder(ln) {
			continue
		}
		_, onServer := fs.remote[ln]
		switch {
		case onServer && !fs.local[ln] && s.writesServer(ln):
			goneLocal = append(goneLocal, kf)
		case !onServer && fs.local[ln] && kf.UIDValidity != 0 && s.writesLocal(ln):
			goneServer = append(goneServer, kf)
		}
	}
	if len(goneServer) == 0 && len(goneLocal) == 0 {
		return nil
	}
	var newServer, newLocal []string
	for ln := range fs.remote {
		if _, k := fs.known[ln]; !k && !strings.EqualFold(ln, maildir.Inbox) {
			newServer = append(newServer, ln)
		}
	}
	for ln := range fs.local {
		if _, k := fs.known[ln]; !k && !strings.EqualFold(ln, maildir.Inbox) {
			newLocal = append(newLocal, ln)
		}
	}
	sort.Strings(newServer)
	sort.Strings(newLocal)
	var renames []renameIntent
	if len(goneServer) > 0 && len(newServer) > 0 {
		rs, err := s.serverRenames(ctx, p, goneServer, newServer, fs)
		if err != nil {
			return err
		}
		renames = append(renames, rs...)
	}
	if len(goneLocal) > 0 && len(newLocal) > 0 {
		rs, err := s.localRenames(goneLocal, newLocal, fs)
		if err != nil {
			return err
		}
		renames = append(renames, rs...)
	}
	// Parents before their subfolders.
	sort.Slice(renames, func(a, b int) bool { return renames[a].From < renames[b].From })
	return s.doRenames(ctx, p, renames, fs)
}

// serverRenames pairs known folders gone from the server with new server
// folders that are them renamed.
func (s *Syncer) serverRenames(ctx context.Context, p *pool, gone []state.Folder, fresh []string, fs *folderSets) ([]renameIntent, error) {
	c, err := p.get(ctx)
	if err != nil {
		return nil, err
	}
	var out []renameIntent
	err = func() error {
		used := map[string]bool{}
		for _, kf := range gone {
			for _, ln := range fresh {
				r := fs.remote[ln]
				if used[ln] {
					continue
				}
				if r.status == nil || r.status.UIDValidity == 0 {
					// No LIST-STATUS: ask this folder only.
					st, err := c.Status(r.name, statusOptions(c.Caps())).Wait()
					if err != nil {
						return fmt.Errorf("status %q: %w", r.name, err)
					}
					r.status = st
				}
				if r.status.UIDValidity != kf.UIDValidity {
					continue
				}
				same, err := s.sameMessages(c, kf, r.name)
				if err != nil {
					return err
				}
				if !same {
					continue
				}
				used[ln] = true
				if fs.local[ln] {
					s.note(kf.Name, noteRenameConflict, fmt.Sprintf("folder %q was renamed on the server to %q, but a local folder %q exists already: both kept, nothing renamed; move the messages yourself and delete the folder you do not want", kf.Name, r.name, ln))
					break
				}
				out = append(out, renameIntent{FolderID: kf.ID, From: kf.Name, To: ln, FromRemote: kf.Remote, ToRemote: r.name})
				break
			}
		}
		return nil
	}()
	s.release(c, err)
	return out, err
}

// sameMessages reports whether the server folder remote holds, at the UIDs
// of some of kf's pairs, messages with their identities and sizes.
func (s *Syncer) sameMessages(c *Conn, kf state.Folder, remote string) (bool, error) {
	pairs, err := s.db.Pairs(kf.ID)
	if err != nil {
		return false, err
	}
	var withID []*state.Pair
	for i := range pairs {
		if pairs[i].MsgID != "" && pairs[i].Key != "" {
			withID = append(withID, &pairs[i])
		}
	}
	if len(withID) == 0 {
		return false, nil
	}
	byUID := map[uint32]*state.Pair{}
	var set imap.UIDSet
	n := min(renameSample, len(withID))
	for i := range n {
		pp := withID[i*len(withID)/n]
		byUID[pp.UID] = pp
		set.AddNum(imap.UID(pp.UID))
	}
	// EXAMINE: a look that changes nothing (not even \Recent).
	c.ClearSelected()
	if _, err := c.Client.Select(remote, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		return false, fmt.Errorf("examine %q: %w", remote, err)
	}
	match := 0
	opts := &imap.FetchOptions{UID: true, RFC822Size: true, BodySection: []*imap.FetchItemBodySection{identitySection}}
	err = each(c, c.Fetch(set, opts), func(m *imapclient.FetchMessageBuffer) {
		pp := byUID[uint32(m.UID)]
		if pp != nil && m.RFC822Size == pp.Size && identity(m.FindBodySection(identitySection)) == pp.MsgID {
			match++
		}
	})
	if err != nil {
		return false, fmt.Errorf("fetch identities in %q: %w", remote, err)
	}
	return match*2 > n, nil
}

// localRenames pairs known folders gone locally with new local folders
// holding their files.
func (s *Syncer) localRenames(gone []state.Folder, fresh []string, fs *folderSets) ([]renameIntent, error) {
	keysOf := map[string]map[string]bool{}
	scan := func(ln string) map[string]bool {
		if k, ok := keysOf[ln]; ok {
			return k
		}
		k := map[string]bool{}
		if lf, ok, err := s.store.ExistingFolder(ln); err == nil && ok {
			if ents, err := lf.Scan(); err == nil {
				for _, e := range ents {
					k[e.Key] = true
				}
			}
		}
		keysOf[ln] = k
		return k
	}
	var out []renameIntent
	used := map[string]bool{}
	for _, kf := range gone {
		pairs, err := s.db.Pairs(kf.ID)
		if err != nil {
			return nil, err
		}
		keyed := 0
		best, bestN := "", 0
		for _, ln := range fresh {
			if used[ln] {
				continue
			}
			keys := scan(ln)
			n := 0
			keyed = 0
			for _, pp := range pairs {
				if pp.Key == "" {
					continue
				}
				keyed++
				if keys[pp.Key] {
					n++
				}
			}
			if n > bestN {
				best, bestN = ln, n
			}
		}
		if bestN == 0 || bestN*2 <= keyed {
			continue
		}
		used[best] = true
		if r, ok := fs.remote[best]; ok {
			s.note(kf.Name, noteRenameConflict, fmt.Sprintf("folder %q was renamed locally to %q, but the server has a folder %q already: both kept, nothing renamed; move the messages yourself and delete the folder you do not want", kf.Name, best, r.name))
			continue
		}
		rn, err := s.names.remote(best)
		if err != nil {
			s.warn("folder %q renamed locally to %q: %v; not renamed on the server", kf.Name, best, err)
			continue
		}
		out = append(out, renameIntent{FolderID: kf.ID, From: kf.Name, To: best, FromRemote: kf.Remote, ToRemote: rn, OnServer: true})
	}
	return out, nil
}

// doRenames carries the renames out (in a dry run: describes them), each
// behind its intent, and updates fs. A server RENAME takes the folder's
// subfolders along: those that were not renamed locally themselves (the
// Maildir++ layout keeps them apart) are renamed locally to follow.
func (s *Syncer) doRenames(ctx context.Context, p *pool, renames []renameIntent, fs *folderSets) error {
	var done []renameIntent
	for i := 0; i < len(renames); i++ {
		r := renames[i]
		if s.opts.DryRun {
			side := "locally"
			if r.OnServer {
				side = "on the server"
			}
			s.planFolder(r.To).Actions = append(s.planFolder(r.To).Actions, fmt.Sprintf("rename folder %q to %q %s (no message transferred)", r.From, r.To, side))
			delete(fs.known, r.From)
			delete(fs.local, r.From)
			delete(fs.remote, r.To)
			delete(fs.remote, r.From)
			delete(fs.local, r.To)
		} else {
			ok, err := s.renameOne(ctx, p, r, done)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			kf := fs.known[r.From]
			kf.Name, kf.Remote = r.To, r.ToRemote
			delete(fs.known, r.From)
			fs.known[r.To] = kf
			// The server folder under its new name: renamed by this
			// RENAME, or by a parent's (a subfolder following it).
			if rf, ok := fs.remote[r.From]; ok {
				moved := *rf
				moved.name = r.ToRemote
				delete(fs.remote, r.From)
				fs.remote[r.To] = &moved
			}
			if !r.OnServer {
				delete(fs.local, r.From)
				fs.local[r.To] = true
			}
		}
		done = append(done, r)
		if r.OnServer {
			renames = append(renames, s.childrenToFollow(r, renames, fs)...)
		}
	}
	return nil
}

// childrenToFollow returns the local renames of r's known subfolders that
// are still in their old place locally: the server RENAME moved them.
func (s *Syncer) childrenToFollow(r renameIntent, renames []renameIntent, fs *folderSets) []renameIntent {
	var out []renameIntent
	for ln, kf := range fs.known {
		if !strings.HasPrefix(ln, r.From+"/") || !fs.local[ln] {
			continue
		}
		if isRenamed(ln, renames) {
			continue
		}
		to := r.To + ln[len(r.From):]
		rn, err := s.names.remote(to)
		if err != nil {
			continue
		}
		out = append(out, renameIntent{FolderID: kf.ID, From: ln, To: to, FromRemote: kf.Remote, ToRemote: rn})
	}
	sort.Slice(out, func(a, b int) bool { return out[a].From < out[b].From })
	return out
}

func isRenamed(ln string, renames []renameIntent) bool {
	for _, r := range renames {
		if r.From == ln {
			return true
		}
	}
	return false
}

// renameOne renames one folder on the side that did not rename it, behind
// an intent. It reports false when the folder could not be renamed (a
// warning says why) and the pass goes on as if no rename had been seen.
func (s *Syncer) renameOne(ctx context.Context, p *pool, r renameIntent, done []renameIntent) (bool, error) {
	data, _ := json.Marshal(r)
	opID, err := s.db.AddOp(state.Op{Account: s.acct.Name, Kind: opFolderRename, Folder: r.From, Data: data})
	if err != nil {
		return false, err
	}
	var sideErr error
	if r.OnServer {
		if !coveredBy(r, done, s.names.delim) {
			c, err := p.get(ctx)
			if err != nil {
				s.db.DeleteOp(opID)
				return false, err
			}
			if c.Selected() != "" && (c.Caps().Has(imap.CapUnselect) || c.Caps().Has(imap.CapIMAP4rev2)) {
				c.ClearSelected()
				if err := c.Unselect().Wait(); err != nil {
					s.release(c, err)
					s.db.DeleteOp(opID)
					return false, err
				}
			}
			sideErr = c.Rename(r.FromRemote, r.ToRemote, nil).Wait()
			s.release(c, sideErr)
		}
	} else {
		sideErr = s.renameLocalDir(r.From, r.To)
	}
	if sideErr != nil {
		s.warn("folder %q renamed %s to %q: could not follow: %v", r.From, map[bool]string{true: "locally", false: "on the server"}[r.OnServer], r.To, sideErr)
		return false, s.db.DeleteOp(opID)
	}
	err = s.db.Update(func(tx *state.Tx) error {
		if err := tx.RenameFolder(r.FolderID, r.To, r.ToRemote); err != nil {
			return err
		}
		return tx.DeleteOp(opID)
	})
	return err == nil, err
}

// coveredBy reports whether a server RENAME done earlier in the pass moved
// r's folder already (r is a subfolder of it, renamed alike).
func coveredBy(r renameIntent, done []renameIntent, delim rune) bool {
	for _, d := range done {
		if d.OnServer && strings.HasPrefix(r.FromRemote, d.FromRemote+string(delim)) &&
			r.ToRemote == d.ToRemote+r.FromRemote[len(d.FromRemote):] {
			return true
		}
	}
	return false
}

// renameLocalDir renames a local folder's directory. A folder already in
// its new place (moved along with its parent) needs nothing.
func (s *Syncer) renameLocalDir(from, to string) error {
	src, err := s.store.FolderPath(from)
	if err != nil {
		return err
	}
	dst, err := s.store.FolderPath(to)
	if err != nil {
		return err
	}
	_, fromOK, _ := s.store.ExistingFolder(from)
	_, toOK, _ := s.store.ExistingFolder(to)
	switch {
	case !fromOK && toOK:
		return nil
	case toOK:
		return fmt.Errorf("a local folder %q exists already", to)
	case !fromOK:
		return fmt.Errorf("the local folder %q is gone", from)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	if _, err := os.Lstat(dst); err == nil {
		// A directory holding only subfolders (verbatim layout): move
		// the folder's own directories into it.
		for _, sub := range []string{"cur", "new", "tmp"} {
			if err := os.Rename(filepath.Join(src, sub), filepath.Join(dst, sub)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		if err := syncDirs(dst, src); err != nil {
			return err
		}
		return nil
	}
	if err := os.Rename(src, dst); err != nil {
		return err
	}
	return syncDirs(filepath.Dir(dst), filepath.Dir(src))
}

// syncDirs fsyncs directories (a rename is durable once both parents are).
func syncDirs(dirs ...string) error {
	for _, d := range dirs {
		f, err := os.Open(d)
		if err != nil {
			return err
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// resolveFolderRename settles the intent of a rename a killed pass left:
// when the side it was sent to shows the new name and not the old one, it
// happened and the state follows; otherwise it did not, and this pass
// finds the rename again.
func (s *Syncer) resolveFolderRename(op state.Op) error {
	var in renameIntent
	if err := json.Unmarshal(op.Data, &in); err != nil {
		return s.db.DeleteOp(op.ID)
	}
	var happened bool
	if in.OnServer {
		_, to := s.remotes[in.ToRemote]
		_, from := s.remotes[in.FromRemote]
		happened = to && !from
	} else {
		_, to, _ := s.store.ExistingFolder(in.To)
		_, from, _ := s.store.ExistingFolder(in.From)
		happened = to && !from
	}
	if happened {
		if _, taken, err := s.db.Folder(s.acct.Name, in.To); err != nil || taken {
			happened = false
		}
	}
	return s.db.Update(func(tx *state.Tx) error {
		if happened {
			if err := tx.RenameFolder(in.FolderID, in.To, in.ToRemote); err != nil {
				return err
			}
		}
		return tx.DeleteOp(op.ID)
	})
}
