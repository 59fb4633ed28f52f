package syncer

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailmirror/mailmirror/maildir"
	"github.com/mailmirror/mailmirror/state"
)

// ErrFullPass is returned by the targeted passes (PullNew, PushLocal) when
// what changed needs a full pass (Sync). They return it before they change
// anything.
var ErrFullPass = errors.New("syncer: a full pass is needed")

// Pushed is what an IDLE connection reported for one folder: that it
// changed, and the UIDs of the messages it saw expunged (mapped from the
// EXPUNGE responses' sequence numbers).
type Pushed struct {
	Folder   string // local name
	Expunged []uint32
}

// maxPulled bounds the flag changes and expunges PullNew handles message by
// message; more take a full pass.
const maxPulled = 500

// PullNew applies what IDLE connections pushed for some folders, and
// nothing else: the daemon's answer to a push while its watcher has seen
// nothing change in the Maildir since the last pass, which the caller must
// ensure. It does not read the folders' local files nor load all their
// pairs: one LIST-STATUS shows every other folder unchanged since the last
// pass (a message moved on the server changes its source folder too, so a
// move is never taken for new mail), a CHANGEDSINCE FETCH gives the flag
// changes (applied to just those files), the expunged UIDs the IDLE
// connection reported are checked with one UID SEARCH and their files
// removed, the message count must then add up, and the new UIDs are
// fetched and published like in a pass. Whenever one of these does not
// hold, or an expunged message turns up as new (a server move), it returns
// ErrFullPass before changing anything.
//
// The folders' local stamps are left as they were, so that the next full
// pass looks at them again.
func (s *Syncer) PullNew(ctx context.Context, pushed ...Pushed) (Stats, error) {
	return s.counted(func() (Stats, error) { return s.pullNew(ctx, pushed) })
}

func (s *Syncer) pullNew(ctx context.Context, pushed []Pushed) (Stats, error) {
	s.stats = Stats{}
	if n, err := s.db.OpCount(s.acct.Name); err != nil || n > 0 {
		return s.stats, errors.Join(ErrFullPass, err) // intents to resolve first
	}
	folders := make([]string, len(pushed))
	for i, p := range pushed {
		folders[i] = p.Folder
	}
	jobs, known, err := s.pushedJobs(folders)
	if err != nil {
		return s.stats, err
	}
	c, err := s.pool.get(ctx)
	if err != nil {
		return s.stats, err
	}
	listed, err := s.listAside(ctx, c, known, jobs)
	for i, j := range jobs {
		if err == nil {
			err = j.quickDetect(c, pushed[i].Expunged)
		}
	}
	// The listing's outcome comes first (a change elsewhere takes a full
	// pass whatever the SELECTs found), unless c broke.
	if lerr := listed(); lerr != nil && (err == nil || errors.Is(err, ErrFullPass)) {
		s.release(c, err)
		return s.stats, lerr
	}
	if err != nil {
		s.release(c, err)
		return s.stats, err
	}
	if err := s.matchTargeted(jobs); err != nil {
		s.release(c, err)
		return s.stats, err
	}
	return s.stats, s.applyOn(ctx, c, jobs)
}

// applyOn applies the jobs one after the other on connection c, which it
// gives back to the pool.
func (s *Syncer) applyOn(ctx context.Context, c *Conn, jobs []*job) error {
	// One connection does it all: its slot is taken.
	lc := &lazyConn{p: s.pool, ctx: ctx, sem: make(chan struct{}, 1), c: c}
	lc.sem <- struct{}{}
	s.holdOneWay(jobs)
	if s.guardTrips(jobs) {
		// A mass delete: a full pass refuses it and says so.
		lc.release(nil)
		return ErrFullPass
	}
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
	err := errors.Join(errs...)
	lc.release(err)
	return err
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

// pushedJobs makes a job of each folder pushed, from the state: a folder
// it does not know yet takes a full pass. It also returns every folder the
// state knows, for listedUnchanged.
func (s *Syncer) pushedJobs(folders []string) ([]*job, []state.Folder, error) {
	known, err := s.db.Folders(s.acct.Name)
	if err != nil {
		return nil, nil, err
	}
	byName := map[string]state.Folder{}
	for _, f := range known {
		byName[f.Name] = f
	}
	jobs := make([]*job, len(folders))
	for i, name := range folders {
		f, ok := byName[name]
		if !ok || f.UIDValidity == 0 || f.Remote == "" {
			return nil, nil, ErrFullPass // a folder the state does not know yet
		}
		if slices.ContainsFunc(jobs[:i], func(j *job) bool { return j.local == name }) {
			return nil, nil, fmt.Errorf("syncer: folder %q pushed twice", name)
		}
		lf, err := s.store.Folder(name)
		if err != nil {
			return nil, nil, err
		}
		jobs[i] = &job{s: s, local: name, remote: f.Remote, st: f, lf: lf, scope: scopeServer}
	}
	return jobs, known, nil
}

// listedUnchanged lists the server's folders on c and returns ErrFullPass
// unless every known folder but those of jobs is unchanged on the server,
// the jobs' folders are there with the UIDVALIDITY recorded, and no new
// server folder is to be mirrored.
//
// A connection that has one of the jobs' folders selected (the previous
// PullNew's) keeps it: quickDetect selects it again anyway, for fresh
// counters, and an UNSELECT first would cost the server a mailbox close
// (milliseconds on Dovecot) on the way of the new mail. Its LIST-STATUS
// entry is then the session's view and is not used beyond its UIDVALIDITY,
// which the SELECT checks again.
func (s *Syncer) listedUnchanged(c *Conn, known []state.Folder, jobs []*job) error {
	byRemote := map[string]*job{}
	for _, j := range jobs {
		byRemote[j.remote] = j
	}
	keep := map[string]bool{c.Selected(): byRemote[c.Selected()] != nil}
	names, remotes, err := s.listRemoteKeeping(c, keep)
	if err != nil {
		return err
	}
	s.names = names
	knownRemote := map[string]bool{}
	for _, f := range known {
		knownRemote[f.Remote] = true
		r := remotes[f.Remote]
		if r == nil || f.UIDValidity == 0 {
			return ErrFullPass
		}
		j := byRemote[f.Remote]
		if j == nil {
			if o := (&job{st: f, status: r.status}); !o.serverUnchanged() {
				return ErrFullPass
			}
			continue
		}
		if r.status == nil || r.status.UIDValidity != f.UIDValidity {
			return ErrFullPass
		}
		if c.Selected() != f.Remote {
			j.status = r.status // else the session's view, not the server's
		}
	}
	for name, r := range remotes {
		if knownRemote[name] || r.hasAttr(imap.MailboxAttrNoSelect) || r.hasAttr(imap.MailboxAttrNonExistent) {
			continue
		}
		if ln, err := names.local(name); err == nil && s.acct.MatchFolder(ln) {
			return ErrFullPass // a new server folder
		}
	}
	return nil
}

// listAside runs listedUnchanged on a second idle connection of the pool
// while the caller selects the pushed folders on c (a LIST-STATUS costs
// Dovecot milliseconds that then overlap with the SELECT's); without one,
// it runs it on c first and returns its error. The function returned
// waits for the outcome and gives the second connection back.
func (s *Syncer) listAside(ctx context.Context, c *Conn, known []state.Folder, jobs []*job) (func() error, error) {
	c2 := s.pool.tryGet(ctx)
	if c2 == nil {
		return func() error { return nil }, s.listedUnchanged(c, known, jobs)
	}
	done := make(chan error, 1)
	go func() { done <- s.listedUnchanged(c2, known, jobs) }()
	return func() error {
		err := <-done
		s.release(c2, err)
		return err
	}, nil
}

// quickDetect finds the folder's new server messages, flag changes and
// the expunges the IDLE connection reported, or ErrFullPass when anything
// else changed there since the last pass. What they mean (a local delete,
// a server move) is the matcher's decision (matchTargeted).
func (j *job) quickDetect(c *Conn, expunged []uint32) error {
	st := j.st
	sel, err := c.Reselect(j.remote)
	if err != nil {
		return err
	}
	if sel.UIDValidity != st.UIDValidity || !c.CondStore() || st.HighestModSeq == 0 || sel.HighestModSeq == 0 {
		return ErrFullPass
	}
	j.newSt = st
	j.newSt.UIDNext = uint32(sel.UIDNext)
	j.newSt.Messages = sel.NumMessages
	j.newSt.HighestModSeq = sel.HighestModSeq
	j.serverFlags = map[uint32]string{}
	j.serverGone = map[uint32]bool{}
	j.pairs = map[uint32]*state.Pair{}
	from := max(st.UIDNext, 1)
	j.scope = scopeServer // only the new UIDs and their pairs are known here
	if sel.HighestModSeq == st.HighestModSeq && sel.NumMessages == st.Messages && uint32(sel.UIDNext) <= from {
		j.quiet = true
		return nil
	}
	changed, err := j.changedFlags(c, from, sel.HighestModSeq)
	if err != nil {
		return err
	}
	if len(changed) > maxPulled || len(expunged) > maxPulled {
		return ErrFullPass
	}
	if err := confirmExpunged(c, expunged); err != nil {
		return err
	}
	// The pairs concerned: those changed or expunged, and those a pass
	// paired at or above the UIDNEXT it recorded (its own APPENDs and
	// MOVEs), which must not be taken for new messages.
	above, err := j.s.db.PairsFrom(st.ID, from)
	if err != nil {
		return err
	}
	some, err := j.s.db.PairsOf(st.ID, append(changed, expunged...))
	if err != nil {
		return err
	}
	for _, ps := range [][]state.Pair{above, some} {
		for i := range ps {
			j.pairs[ps[i].UID] = &ps[i]
		}
	}
	seen := map[uint32]bool{}
	if sel.UIDNext == 0 || uint32(sel.UIDNext) > from {
		var set imap.UIDSet
		set.AddRange(imap.UID(from), 0)
		if err := j.fetchMeta(c, set, func(m *serverMsg) bool { return m.uid >= from }, seen); err != nil {
			return err
		}
	}
	j.newSt.OldMessages = st.OldMessages + uint32(j.old)
	// The count must add up: what was there, less what went, plus what
	// is new.
	gone := 0
	for _, u := range expunged {
		if p := j.pairs[u]; p != nil && !seen[u] {
			j.serverGone[u] = true
			gone++
		}
	}
	if sel.NumMessages != st.Messages+uint32(len(seen))-uint32(gone) {
		return ErrFullPass
	}
	return j.filesAsLeft(append(changed, expunged...), from, len(changed) > 0 || gone > 0)
}

// changedFlags reads the flags the server changed since the last pass on
// the messages below from (the older ones).
func (j *job) changedFlags(c *Conn, from uint32, modSeq uint64) ([]uint32, error) {
	var changed []uint32
	if from <= 1 || modSeq == j.st.HighestModSeq {
		return nil, nil
	}
	var set imap.UIDSet
	set.AddRange(1, imap.UID(from-1))
	err := each(c, c.Fetch(set, &imap.FetchOptions{UID: true, Flags: true, ChangedSince: j.st.HighestModSeq}), func(m *imapclient.FetchMessageBuffer) {
		if m.UID != 0 && uint32(m.UID) < from && len(changed) <= maxPulled {
			changed = append(changed, uint32(m.UID))
			j.serverFlags[uint32(m.UID)] = maildir.FlagsFromIMAP(m.Flags)
			j.sawKeywords(uint32(m.UID), m.Flags) // tags.go
		}
	})
	if err != nil {
		return nil, fmt.Errorf("fetch flags: %w", err)
	}
	return changed, nil
}

// confirmExpunged returns ErrFullPass unless every expunged UID is gone
// (one UID SEARCH).
func confirmExpunged(c *Conn, expunged []uint32) error {
	if len(expunged) == 0 {
		return nil
	}
	var set imap.UIDSet
	for _, u := range expunged {
		set.AddNum(imap.UID(u))
	}
	data, err := c.UIDSearch(&imap.SearchCriteria{UID: []imap.UIDSet{set}}, nil).Wait()
	if err != nil {
		return fmt.Errorf("search: %w", err)
	}
	if len(data.AllUIDs()) > 0 {
		return ErrFullPass
	}
	return nil
}

// filesAsLeft reads the local files of the pairs of uids (changed or
// expunged on the server; scan: the folder must be listed for them), which
// must be as the last pass left them (the caller's watcher saw no change),
// or ErrFullPass.
func (j *job) filesAsLeft(uids []uint32, from uint32, scan bool) error {
	if scan && !j.lookupFiles() {
		ents, err := j.lf.Scan()
		if err != nil {
			return err
		}
		want := map[string]bool{}
		for _, p := range j.pairs {
			want[p.Key] = true
		}
		j.entries = map[string]maildir.Entry{}
		for _, e := range ents {
			if want[e.Key] {
				if _, dup := j.entries[e.Key]; dup {
					return ErrFullPass // two files with one key: a pass sorts that out
				}
				j.entries[e.Key] = e
			}
		}
	}
	for _, uid := range uids {
		p := j.pairs[uid]
		if p == nil {
			continue // not mirrored (max_age), or no longer paired
		}
		e, ok := j.entries[p.Key]
		if p.Key == "" || !ok || maildir.KnownOnly(e.Flags) != p.Flags {
			return ErrFullPass
		}
	}
	// Flag changes of messages paired above the old UIDNEXT need the
	// merge of a full pass.
	for uid, p := range j.pairs {
		if f, ok := j.serverFlags[uid]; ok && uid >= from && f != p.Flags {
			return ErrFullPass
		}
	}
	return nil
}

// lookupFiles finds the files of j.pairs by the names this program gave
// them (maildir.Folder.Lookup: a stat each, not a listing of the folder):
// the few pairs a targeted look concerns in a folder of thousands. It
// fills j.entries and reports whether every file was found; when one was
// not (another tool's name, or gone) the caller lists the folder.
func (j *job) lookupFiles() bool {
	entries := make(map[string]maildir.Entry, len(j.pairs))
	for _, p := range j.pairs {
		if p.Key == "" {
			continue
		}
		e, ok := j.lf.Lookup(p.Key, p.Flags)
		if !ok {
			return false
		}
		entries[p.Key] = e
	}
	j.entries = entries
	return true
}

// FolderUIDs returns the UIDs of the selected folder's messages in
// sequence order (one UID SEARCH ALL), bounded like a pass's search.
func FolderUIDs(c *Conn, messages uint32) ([]uint32, error) {
	all, err := searchAll(c, messages)
	if err != nil {
		return nil, err
	}
	return slices.Sorted(maps.Keys(all)), nil
}

// LocalChange is a message file the caller's watcher saw appear, vanish or
// be renamed (both names) in a local folder.
type LocalChange struct {
	Folder string // local folder name
	Path   string
}

// PushLocal sends local changes of single messages to the server, and
// nothing else: the daemon's answer to its watcher. It reads just the
// pairs of the files concerned and their server flags (one UID FETCH per
// folder), and, for folders with new files, the identities of the
// messages the server got since the last pass. The matcher then decides as
// in a pass (match.go): flags merged three-way, deletes, moves (under the
// file's name or as a new file with the same identity and size), uploads
// (a UID COPY for a file that is a paired message's copy); a delete never
// wins over a flag change on the server since the last pass. Whatever it
// cannot decide from this partial view (a copy under a moved file's name,
// a change against a server expunge or change, a new file the server got
// too, a placeholder), a new folder, or an intent to settle return
// ErrFullPass before any change. The folders' local stamps are left as
// they were, so that the next full pass looks at them again.
func (s *Syncer) PushLocal(ctx context.Context, changes []LocalChange) (Stats, error) {
	return s.counted(func() (Stats, error) { return s.pushLocal(ctx, changes) })
}

func (s *Syncer) pushLocal(ctx context.Context, changes []LocalChange) (Stats, error) {
	s.stats = Stats{}
	if n, err := s.db.OpCount(s.acct.Name); err != nil || n > 0 {
		return s.stats, errors.Join(ErrFullPass, err)
	}
	all, err := s.localJobs(changes)
	if err != nil {
		return s.stats, err
	}
	// The folders with something of their own to do; the others only
	// hold a file moved there.
	var jobs []*job
	for _, j := range all {
		if len(j.pairs) > 0 || len(j.newLocal) > 0 || len(j.localGone) > 0 {
			jobs = append(jobs, j)
		}
	}
	if len(jobs) == 0 {
		return s.stats, nil
	}
	c, err := s.pool.get(ctx)
	if err != nil {
		return s.stats, err
	}
	for _, j := range jobs {
		if err := j.localDetect(c); err != nil {
			s.release(c, err)
			return s.stats, err
		}
	}
	if err := s.matchLocal(all); err != nil {
		s.release(c, err)
		return s.stats, err
	}
	return s.stats, s.applyOn(ctx, c, jobs)
}

// matchLocal is matchTargeted for PushLocal, which then downloads nothing:
// the server's new messages were candidates for the new files only (a
// server that files sent mail itself, like Gmail, while the mail client
// saves its copy too: a full pass pairs them); getting them is PullNew's.
func (s *Syncer) matchLocal(jobs []*job) error {
	if err := s.matchTargeted(jobs); err != nil {
		return err
	}
	for _, j := range jobs {
		j.newServer = nil
		if len(j.serverDeletes) > 0 && s.acct.DeleteMode == "trash" && s.trash == "" {
			return ErrFullPass // the Trash folder is not known yet
		}
	}
	return nil
}

// localJobs makes a job of each folder with changed files: the pairs of
// files renamed in their folder (pairs, entries: flag changes), the pairs
// whose file is gone from their folder (localGone; a file moved under its
// name is then an entry of the folder it is in now), and new files
// (newLocal). Messages whose file is as the state records are left out.
// What the changes mean (a delete, a move by name or by identity and size)
// is the matcher's decision.
func (s *Syncer) localJobs(changes []LocalChange) ([]*job, error) {
	present, keys := presentFiles(changes)
	js := &localJobSet{s: s, byName: map[string]*job{}}
	for _, key := range keys {
		if err := js.add(key, present[key]); err != nil {
			return nil, err
		}
	}
	return js.order, nil
}

// presentFiles lists, per Maildir key of the changed files, the files
// with that key present now, by folder.
func presentFiles(changes []LocalChange) (map[string]map[string][]maildir.Entry, []string) {
	byKey := map[string]map[string][]maildir.Entry{}
	var keys []string
	for _, ch := range changes {
		name := filepath.Base(ch.Path)
		if name == "" || name[0] == '.' {
			continue
		}
		key, flags := maildir.ParseName(name)
		present := byKey[key]
		if present == nil {
			present = map[string][]maildir.Entry{}
			byKey[key] = present
			keys = append(keys, key)
		}
		if _, err := os.Lstat(ch.Path); err == nil {
			sub := filepath.Base(filepath.Dir(ch.Path))
			if !slices.ContainsFunc(present[ch.Folder], func(e maildir.Entry) bool { return e.Name == name }) {
				present[ch.Folder] = append(present[ch.Folder], maildir.Entry{Key: key, Flags: flags, Sub: sub, Name: name})
			}
		}
	}
	return byKey, keys
}

// localJobSet is the jobs of a PushLocal, one per folder, in the order
// first seen.
type localJobSet struct {
	s      *Syncer
	byName map[string]*job
	order  []*job
}

func (js *localJobSet) of(folder string) (*job, error) {
	if j := js.byName[folder]; j != nil {
		return j, nil
	}
	s := js.s
	f, ok, err := s.db.Folder(s.acct.Name, folder)
	if err != nil {
		return nil, err
	}
	if !ok || f.UIDValidity == 0 || f.Remote == "" {
		return nil, ErrFullPass // a folder the server does not have yet
	}
	lf, err := s.store.Folder(folder)
	if err != nil {
		return nil, err
	}
	j := &job{s: s, local: folder, remote: f.Remote, st: f, newSt: f, lf: lf,
		pairs: map[uint32]*state.Pair{}, entries: map[string]maildir.Entry{},
		serverFlags: map[uint32]string{}, serverGone: map[uint32]bool{},
		scope: scopeLocal}
	js.byName[folder] = j
	js.order = append(js.order, j)
	return j, nil
}

// add reads what became of the message with Maildir key key, whose files
// are now those of present (by folder).
func (js *localJobSet) add(key string, present map[string][]maildir.Entry) error {
	n := 0
	var where string
	var e maildir.Entry
	for folder, es := range present {
		n += len(es)
		where, e = folder, es[0]
	}
	if n > 1 {
		return ErrFullPass // one key in two places: a copy
	}
	p, f, paired, err := js.s.db.PairByKey(js.s.acct.Name, key)
	if err != nil {
		return err
	}
	if !paired || p.Key == "" {
		if n == 0 {
			return nil // came and went
		}
		j, err := js.of(where)
		if err != nil {
			return err
		}
		lm, err := j.readLocal(e)
		if err != nil {
			return ErrFullPass
		}
		j.newLocal = append(j.newLocal, lm)
		return nil
	}
	j, err := js.of(f.Name)
	if err != nil {
		return err
	}
	pp := p
	if n == 1 && where != f.Name {
		// Moved under its name: still here too is a copy.
		if _, here, err := j.lf.Find(key); err != nil || here {
			return errors.Join(ErrFullPass, err)
		}
		d, err := js.of(where)
		if err != nil {
			return err
		}
		d.entries[key] = e
		j.pairs[p.UID] = &pp
		j.localGone = append(j.localGone, &pp)
		return nil
	}
	ok := n == 1
	if !ok {
		if e, ok, err = j.lf.Find(key); err != nil {
			return err
		}
	}
	if ok && maildir.KnownOnly(e.Flags) == p.Flags {
		return nil // as the state records it
	}
	j.pairs[p.UID] = &pp
	if ok {
		j.entries[key] = e
	} else {
		j.localGone = append(j.localGone, &pp)
	}
	return nil
}

// localDetect selects the folder and reads the server side of the pairs
// concerned (their flags, or that they are gone) and, when there are new
// files, the identities of the messages new on the server since the last
// pass (newOnServer), for the matcher.
func (j *job) localDetect(c *Conn) error {
	sel, err := c.Reselect(j.remote)
	if err != nil {
		return err
	}
	if sel.UIDValidity != j.st.UIDValidity {
		return ErrFullPass
	}
	if len(j.newLocal) > 0 {
		if err := j.newOnServer(c, uint32(sel.UIDNext)); err != nil {
			return err
		}
	}
	onServer := map[uint32]bool{}
	if len(j.pairs) > 0 {
		var set imap.UIDSet
		for uid := range j.pairs {
			set.AddNum(imap.UID(uid))
		}
		err = each(c, c.Fetch(set, &imap.FetchOptions{UID: true, Flags: true}), func(m *imapclient.FetchMessageBuffer) {
			if p := j.pairs[uint32(m.UID)]; p != nil {
				onServer[p.UID] = true
				j.serverFlags[p.UID] = maildir.FlagsFromIMAP(m.Flags)
			}
		})
		if err != nil {
			return fmt.Errorf("fetch flags: %w", err)
		}
	}
	j.markServerGone(onServer)
	return nil
}

// markServerGone records as gone on the server the pairs of the changed
// files that onServer lacks (not the pairs read only because they are at or
// above the UIDNEXT).
func (j *job) markServerGone(onServer map[uint32]bool) {
	for uid, p := range j.pairs {
		if _, present := j.entries[p.Key]; !onServer[uid] && (present || slices.Contains(j.localGone, p)) {
			j.serverGone[uid] = true
		}
	}
}

// detectServerOnly is detect for a folder whose local stamp did not move
// since the last pass (no file added, removed or renamed here) while the
// server changed: quickDetect finds new messages and flag changes without
// reading every pair and file. It returns false, with the job as it was,
// when the folder changed otherwise (an expunge, a UIDVALIDITY change, no
// CONDSTORE): the caller then goes the full way.
func (j *job) detectServerOnly(lc *lazyConn, stamp string) (bool, error) {
	if stamp == "" || stamp != j.st.LocalStamp || j.st.UIDValidity == 0 || j.st.HighestModSeq == 0 {
		return false, nil
	}
	c, err := lc.get()
	if err != nil {
		return false, err
	}
	err = j.quickDetect(c, nil)
	if errors.Is(err, ErrFullPass) {
		j.newServer, j.old, j.localDeletes, j.quiet, j.scope = nil, 0, nil, false, scopeFull
		j.pairs, j.entries, j.serverFlags, j.serverGone = nil, nil, nil, nil
		return false, nil
	}
	return err == nil, err
}

// newOnServer reads the identities of the messages the server got since
// the last pass: the matcher's candidates for new local files (a server
// that files sent mail itself, like Gmail, while the mail client saves its
// copy too: a pass pairs those). It also reads the pairs at or above the
// recorded UIDNEXT, so that an APPENDUID is never taken for a UID already
// paired.
func (j *job) newOnServer(c *Conn, uidNext uint32) error {
	from := max(j.st.UIDNext, 1)
	above, err := j.s.db.PairsFrom(j.st.ID, from)
	if err != nil {
		return err
	}
	for i := range above {
		if j.pairs[above[i].UID] == nil {
			j.pairs[above[i].UID] = &above[i]
		}
	}
	if uidNext != 0 && uidNext <= from {
		return nil
	}
	var set imap.UIDSet
	set.AddRange(imap.UID(from), 0)
	err = each(c, c.Fetch(set, &imap.FetchOptions{UID: true, RFC822Size: true, BodySection: []*imap.FetchItemBodySection{identitySection}}), func(m *imapclient.FetchMessageBuffer) {
		if ident := identity(m.FindBodySection(identitySection)); ident != "" {
			j.newServer = append(j.newServer, &serverMsg{uid: uint32(m.UID), size: m.RFC822Size, ident: ident})
		}
	})
	if err != nil {
		return fmt.Errorf("fetch new messages: %w", err)
	}
	return nil
}
