package syncer

import (
	"context"
	"errors"
	"fmt"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailmirror/mailmirror/state"
)

// ErrFullPass is returned by PullNew when what changed needs a full pass
// (Sync): anything but new messages in the folders asked for. PullNew
// returns it before it changes anything.
var ErrFullPass = errors.New("syncer: a full pass is needed")

// PullNew downloads the messages that are new on the server in the given
// local folders, and nothing else: the daemon's answer to an IDLE push
// (EXISTS) while its watcher has seen nothing change in the Maildir since
// the last pass, which the caller must ensure. It does not read the local
// folders nor load their pairs: one LIST-STATUS shows every other folder
// unchanged since the last pass (a message moved on the server changes its
// source folder too, so a move is never taken for new mail), a CHANGEDSINCE
// FETCH shows no flag change of the older messages, the message count
// shows no expunge, and the new UIDs are fetched and published like in a
// pass. Whenever one of these does not hold it returns ErrFullPass.
//
// The folders' local stamps are left as they were, so that the next full
// pass looks at them again.
func (s *Syncer) PullNew(ctx context.Context, folders ...string) (Stats, error) {
	s.stats = Stats{}
	if n, err := s.db.OpCount(s.acct.Name); err != nil || n > 0 {
		return s.stats, errors.Join(ErrFullPass, err) // intents to resolve first
	}
	c, err := s.pool.get(ctx)
	if err != nil {
		return s.stats, err
	}
	jobs, err := s.quickJobs(c, folders)
	if err != nil {
		s.release(c, err)
		return s.stats, err
	}
	for _, j := range jobs {
		if err := j.quickDetect(c); err != nil {
			s.release(c, err)
			return s.stats, err
		}
	}
	lc := &lazyConn{p: s.pool, ctx: ctx, c: c}
	var errs []error
	for _, j := range jobs {
		if j.quiet {
			continue
		}
		if err := j.apply(ctx, lc); err != nil {
			errs = append(errs, fmt.Errorf("folder %q: %w", j.local, err))
			if isConnError(err) {
				break
			}
		}
	}
	lc.release(errors.Join(errs...))
	return s.stats, errors.Join(errs...)
}

// release gives a connection back to the pool unless err shows it broken.
// ErrFullPass is not a connection error.
func (s *Syncer) release(c *Conn, err error) {
	if err != nil && !errors.Is(err, ErrFullPass) && isConnError(err) {
		s.pool.discard(c)
		return
	}
	s.pool.put(c)
}

// quickJobs lists the server's folders and makes a job of each folder
// asked for, when every known folder but those is unchanged on the server
// and no new server folder is to be mirrored.
func (s *Syncer) quickJobs(c *Conn, folders []string) ([]*job, error) {
	names, remotes, err := s.listRemote(c)
	if err != nil {
		return nil, err
	}
	s.names = names
	known, err := s.db.Folders(s.acct.Name)
	if err != nil {
		return nil, err
	}
	asked := map[string]bool{}
	for _, f := range folders {
		asked[f] = true
	}
	knownRemote := map[string]bool{}
	var jobs []*job
	for _, f := range known {
		knownRemote[f.Remote] = true
		r := remotes[f.Remote]
		if r == nil || f.UIDValidity == 0 {
			return nil, ErrFullPass
		}
		j := &job{s: s, local: f.Name, remote: f.Remote, status: r.status, st: f}
		if !asked[f.Name] {
			if !j.serverUnchanged() {
				return nil, ErrFullPass
			}
			continue
		}
		if r.status == nil || r.status.UIDValidity != f.UIDValidity {
			return nil, ErrFullPass
		}
		if j.lf, err = s.store.Folder(f.Name); err != nil {
			return nil, err
		}
		delete(asked, f.Name)
		jobs = append(jobs, j)
	}
	if len(asked) > 0 {
		return nil, ErrFullPass // a folder the state does not know yet
	}
	for name, r := range remotes {
		if knownRemote[name] || r.hasAttr(imap.MailboxAttrNoSelect) || r.hasAttr(imap.MailboxAttrNonExistent) {
			continue
		}
		if ln, err := names.local(name); err == nil && s.acct.MatchFolder(ln) {
			return nil, ErrFullPass // a new server folder
		}
	}
	return jobs, nil
}

// quickDetect finds the folder's new server messages, or ErrFullPass when
// anything else changed there since the last pass.
func (j *job) quickDetect(c *Conn) error {
	st := j.st
	sel, err := c.Reselect(j.remote)
	if err != nil {
		return err
	}
	if sel.UIDValidity != st.UIDValidity || !c.condstore || st.HighestModSeq == 0 || sel.HighestModSeq == 0 {
		return ErrFullPass
	}
	j.newSt = st
	j.newSt.UIDNext = uint32(sel.UIDNext)
	j.newSt.Messages = sel.NumMessages
	j.newSt.HighestModSeq = sel.HighestModSeq
	j.serverFlags = map[uint32]string{}
	j.serverGone = map[uint32]bool{}
	j.entries = nil
	from := max(st.UIDNext, 1)
	if sel.UIDNext != 0 && uint32(sel.UIDNext) <= from {
		if sel.NumMessages == st.Messages && sel.HighestModSeq == st.HighestModSeq {
			j.quiet = true
			return nil
		}
		return ErrFullPass
	}
	// Flag changes of the older messages.
	if from > 1 && sel.HighestModSeq != st.HighestModSeq {
		var set imap.UIDSet
		set.AddRange(1, imap.UID(from-1))
		changed := false
		err := each(c, c.Fetch(set, &imap.FetchOptions{UID: true, Flags: true, ChangedSince: st.HighestModSeq}), func(*imapclient.FetchMessageBuffer) {
			changed = true
		})
		if err != nil {
			return fmt.Errorf("fetch flags: %w", err)
		}
		if changed {
			return ErrFullPass
		}
	}
	// The messages a pass paired at or above the UIDNEXT it recorded.
	above, err := j.s.db.PairsFrom(st.ID, from)
	if err != nil {
		return err
	}
	j.pairs = make(map[uint32]*state.Pair, len(above))
	for i := range above {
		j.pairs[above[i].UID] = &above[i]
	}
	seen := map[uint32]bool{}
	var set imap.UIDSet
	set.AddRange(imap.UID(from), 0)
	if err := j.fetchMeta(c, set, func(m *serverMsg) bool { return m.uid >= from }, seen); err != nil {
		return err
	}
	// Expunged messages: the count must be the old one plus what is new.
	if sel.NumMessages != st.Messages+uint32(len(seen)) {
		return ErrFullPass
	}
	// Flag changes of messages paired above the old UIDNEXT need the
	// merge of a full pass.
	for uid, p := range j.pairs {
		if f, ok := j.serverFlags[uid]; ok && f != p.Flags {
			return ErrFullPass
		}
	}
	return nil
}
