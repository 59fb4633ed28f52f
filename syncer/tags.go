package syncer

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailmirror/mailmirror/maildir"
	"github.com/mailmirror/mailmirror/state"
	"github.com/mailmirror/mailmirror/tags"
)

// This file syncs IMAP keywords with notmuch tags (tags = "notmuch"). It
// runs as one step after a pass has applied its folders (tagStep), with
// its own bookkeeping in the state (tag bases per pair, keyword modseq per
// folder, notmuch revision per account), so that the engine's other steps
// need not know about tags:
//
//   - local changes: the messages notmuch changed since the stored
//     revision (`lastmod:N..`), mapped to pairs by their files' Maildir keys;
//   - server changes: UID FETCH (FLAGS) CHANGEDSINCE the folder's stored
//     keyword modseq, only for folders whose HIGHESTMODSEQ (from the pass's
//     LIST-STATUS) moved;
//   - three-way merge per notmuch message against each pair's base;
//   - writes: grouped UID STORE ±FLAGS.SILENT of keywords, one
//     `notmuch tag --batch`, then one transaction with the new bases, the
//     folders' modseqs and the revision. A crash before that transaction
//     makes the next pass read the same changes again (and the writes
//     already made as changes on both sides that agree), so no tag change
//     is lost.
//
// A message not yet indexed by notmuch keeps its server tags pending in its
// base and gets them once notmuch has it (indexing bumps its lastmod).

// tagHook, when set by tests, runs at the steps of writing tags: "stored"
// (server keywords written) and "applied" (notmuch written, state not yet).
// The crash tests kill the process there.
var tagHook func(step string)

func tagStepDone(step string) {
	if tagHook != nil {
		tagHook(step)
	}
}

// tagSync is a Syncer's notmuch connection, opened on the first pass.
type tagSync struct {
	nm *tags.Notmuch
	m  *tags.Mapping
}

// tagFolder is one folder's part of a tag step.
type tagFolder struct {
	j        *job
	uv       uint32 // UIDVALIDITY the keywords were read under
	modSeq   uint64 // stored keyword modseq
	newUV    uint32
	newMod   uint64
	read     bool                // keywords read this step
	remote   map[uint32][]string // UID → server tags, for the UIDs read
	stores   storeKeywords
	nStores  int
	writable func(kw string) bool
}

// tagPair is one pair taking part in a tag step.
type tagPair struct {
	f      *tagFolder
	uid    uint32
	row    state.TagBase
	hasRow bool
	msg    *tags.Message // its notmuch message, when read
}

// tagStep runs the tag sync of a pass; see the comment at the top of this
// file. Without tags = "notmuch" it does nothing.
func (s *Syncer) tagStep(ctx context.Context, jobs []*job) error {
	if s.acct.Tags == "" {
		return nil
	}
	if s.gmailLabels() {
		return s.gmailStep(ctx, jobs) // labels instead of keywords (gmail.go)
	}
	ts, err := s.openTags(ctx)
	if err != nil {
		return err
	}
	stored, err := s.db.TagRevision(s.acct.Name)
	if err != nil {
		return err
	}
	// The database files unchanged since the last pass: no notmuch run.
	// Else the revision is asked while the server's keywords are read.
	stamp := ts.nm.Stamp()
	revc := make(chan revResult, 1)
	if stamp == "" || stamp != stored.Stamp || stored.UUID == "" {
		go func() {
			r, err := ts.nm.Revision(ctx)
			revc <- revResult{r, err}
		}()
	} else {
		revc <- revResult{rev: tags.Revision{UUID: stored.UUID, N: stored.Revision}}
	}
	folders, err := s.tagFolders(jobs)
	if err != nil {
		<-revc
		return err
	}
	var busy []*tagFolder
	for _, f := range folders {
		if f.serverMayHaveChanged() {
			busy = append(busy, f)
		}
	}
	var c *Conn
	if len(busy) > 0 {
		if c, err = s.pool.get(ctx); err != nil {
			<-revc
			return err
		}
		for _, f := range busy {
			if err = f.readKeywords(c, ts.m); err != nil {
				err = fmt.Errorf("folder %q: tags: %w", f.j.local, err)
				break
			}
		}
	}
	rr := <-revc
	if err == nil {
		err = rr.err
	}
	if err == nil {
		err = s.tagStepOn(ctx, &c, ts, stored, rr.rev, stamp, folders, busy)
	}
	if c != nil {
		if err != nil && isConnError(err) {
			s.pool.discard(c)
		} else {
			s.pool.put(c)
		}
	}
	return err
}

type revResult struct {
	rev tags.Revision
	err error
}

// tagStepOn goes on with tagStep once the revision is known and the busy
// folders' keywords are read; *c is the connection, taken when needed.
func (s *Syncer) tagStepOn(ctx context.Context, c **Conn, ts *tagSync, stored state.TagRevision, rev tags.Revision, stamp string, folders map[int64]*tagFolder, busy []*tagFolder) error {
	since := stored.Revision
	if stored.UUID != rev.UUID {
		since = 0 // another (or a rebuilt) database: read everything
	}
	localChanged := stored.UUID != rev.UUID || since != rev.N
	next := state.TagRevision{UUID: rev.UUID, Revision: rev.N, Stamp: stamp}
	if !localChanged && len(busy) == 0 {
		if next == stored {
			return nil
		}
		return s.db.Update(func(tx *state.Tx) error { return tx.SetTagRevision(s.acct.Name, next) })
	}
	if *c == nil {
		var err error
		if *c, err = s.pool.get(ctx); err != nil {
			return err
		}
	}
	run := &tagRun{s: s, ts: ts, rev: rev, since: since, localChanged: localChanged, next: next, folders: folders, busy: busy}
	return run.do(ctx, *c)
}

// tagRun is one tag step from the reads on.
type tagRun struct {
	s            *Syncer
	ts           *tagSync
	rev          tags.Revision
	since        uint64
	localChanged bool
	next         state.TagRevision
	folders      map[int64]*tagFolder
	busy         []*tagFolder
	pairs        map[*tagFolder]map[uint32]*tagPair
}

func (r *tagRun) do(ctx context.Context, c *Conn) error {
	s, ts := r.s, r.ts
	// The server's changes of messages notmuch knows are read from
	// notmuch in the same run as the local changes.
	r.pairs = map[*tagFolder]map[uint32]*tagPair{}
	var ids []string
	for _, f := range r.busy {
		for uid := range f.remote {
			p, err := s.tagPair(f, uid, r.pairs)
			if err != nil {
				return err
			}
			if p != nil && p.row.NotmuchID != "" {
				ids = append(ids, p.row.NotmuchID)
			}
		}
	}
	local, err := r.readLocal(ctx, ids)
	if err != nil {
		return err
	}
	if err := s.tagPairsOfLocal(r.folders, r.pairs, local); err != nil {
		return err
	}
	if err := s.readMissingKeywords(c, ts.m, r.pairs); err != nil {
		return err
	}
	changes, bases := mergeTags(ts.m, r.pairs)
	if err := s.writeTags(ctx, c, ts, r.folders, changes); err != nil {
		return err
	}
	if len(changes) > 0 {
		// Our own writes bumped the revision by one per message: when
		// nobody else wrote meanwhile, the next pass need not read them.
		r.next.Stamp = "" // the files changed: ask notmuch next time
		stamp := ts.nm.Stamp()
		if r2, err := ts.nm.Revision(ctx); err == nil && r2.UUID == r.rev.UUID && r2.N == r.rev.N+uint64(len(changes)) {
			r.next = state.TagRevision{UUID: r2.UUID, Revision: r2.N, Stamp: stamp}
		}
	}
	return s.db.Update(func(tx *state.Tx) error {
		for _, b := range bases {
			if err := tx.PutTagBase(b); err != nil {
				return err
			}
		}
		for _, f := range r.folders {
			if f.read {
				if err := tx.SetTagFolder(f.j.st.ID, f.newUV, f.newMod); err != nil {
					return err
				}
			}
		}
		return tx.SetTagRevision(s.acct.Name, r.next)
	})
}

// readLocal reads, in one notmuch run when it can, the messages changed
// since the revision and those of the given ids.
func (r *tagRun) readLocal(ctx context.Context, ids []string) ([]tags.Message, error) {
	var out []tags.Message
	const chunk = 200 // ids per query, to keep command lines short
	for first := true; first || len(ids) > 0; first = false {
		var terms []string
		if first && r.localChanged {
			terms = append(terms, fmt.Sprintf("lastmod:%d..", r.since+1))
		}
		n := min(len(ids), chunk)
		for _, id := range ids[:n] {
			terms = append(terms, tags.IDQuery(id))
		}
		ids = ids[n:]
		if len(terms) == 0 {
			continue
		}
		msgs, err := r.ts.nm.Show(ctx, strings.Join(terms, " or "))
		if err != nil {
			return nil, err
		}
		out = append(out, msgs...)
	}
	return out, nil
}

// openTags finds notmuch once per Syncer.
func (s *Syncer) openTags(ctx context.Context) (*tagSync, error) {
	if s.tags != nil {
		return s.tags, nil
	}
	nm, err := tags.Open(ctx, s.opts.NotmuchBin, s.opts.NotmuchEnv)
	if err != nil {
		return nil, err
	}
	if !nm.Covers(s.acct.Maildir) {
		return nil, fmt.Errorf("tags: the maildir %s is not under notmuch's database path %s", s.acct.Maildir, nm.Path)
	}
	s.tags = &tagSync{nm: nm, m: tags.NewMapping(s.acct.TagMap, s.acct.TagsAllow, s.acct.TagsDeny, nm.NewTags)}
	return s.tags, nil
}

// tagFolders returns the pass's folders with their stored keyword state.
func (s *Syncer) tagFolders(jobs []*job) (map[int64]*tagFolder, error) {
	out := map[int64]*tagFolder{}
	for _, j := range jobs {
		if j.st.ID == 0 {
			continue
		}
		uv, ms, err := s.db.TagFolder(j.st.ID)
		if err != nil {
			return nil, err
		}
		out[j.st.ID] = &tagFolder{j: j, uv: uv, modSeq: ms}
	}
	return out, nil
}

// serverMayHaveChanged reports whether the folder's keywords must be read:
// never read, or its HIGHESTMODSEQ at the start of the pass differs from
// the one they were read at. Without CONDSTORE: whenever the pass saw the
// folder change.
func (f *tagFolder) serverMayHaveChanged() bool {
	if f.uv == 0 {
		return true
	}
	if st := f.j.status; st != nil && st.HighestModSeq != 0 {
		return st.HighestModSeq != f.modSeq || st.UIDValidity != f.uv
	}
	return !f.j.quiet
}

// readKeywords selects the folder and reads the keywords of the messages
// changed since the stored modseq (all of them the first time, or without
// CONDSTORE).
func (f *tagFolder) readKeywords(c *Conn, m *tags.Mapping) error {
	sel, err := c.Reselect(f.j.remote)
	if err != nil {
		return err
	}
	f.newUV, f.newMod, f.read = sel.UIDValidity, sel.HighestModSeq, true
	f.remote = map[uint32][]string{}
	f.writable = keywordsWritable(sel)
	since := f.modSeq
	if sel.UIDValidity != f.uv || !c.CondStore() {
		since = 0
	}
	if sel.NumMessages == 0 || (since > 0 && since == sel.HighestModSeq) {
		return nil
	}
	opts := &imap.FetchOptions{UID: true, Flags: true, ChangedSince: since}
	var set imap.UIDSet
	set.AddRange(1, 0)
	return each(c, c.Fetch(set, opts), func(msg *imapclient.FetchMessageBuffer) {
		if msg.UID != 0 {
			f.remote[uint32(msg.UID)] = keywordTags(m, msg.Flags)
		}
	})
}

// keywordsWritable says which keywords the selected folder accepts: all
// with \* in PERMANENTFLAGS, else those listed.
func keywordsWritable(sel *imap.SelectData) func(string) bool {
	for _, f := range sel.PermanentFlags {
		if f == imap.FlagWildcard {
			return func(string) bool { return true }
		}
	}
	perm := sel.PermanentFlags
	return func(kw string) bool {
		for _, f := range perm {
			if strings.EqualFold(string(f), kw) {
				return true
			}
		}
		return false
	}
}

func keywordTags(m *tags.Mapping, flags []imap.Flag) []string {
	kws := make([]string, len(flags))
	for i, f := range flags {
		kws[i] = string(f)
	}
	return m.FromKeywords(kws)
}

// tagPair returns the tagPair of a folder's UID, loading its base, or nil
// when the UID has no pair.
func (s *Syncer) tagPair(f *tagFolder, uid uint32, pairs map[*tagFolder]map[uint32]*tagPair) (*tagPair, error) {
	if p := pairs[f][uid]; p != nil {
		return p, nil
	}
	ps, err := s.db.PairsOf(f.j.st.ID, []uint32{uid})
	if err != nil || len(ps) == 0 || ps[0].Key == "" {
		return nil, err
	}
	bs, err := s.db.TagBases(f.j.st.ID, []uint32{uid})
	if err != nil {
		return nil, err
	}
	row, ok := bs[uid]
	p := &tagPair{f: f, uid: uid, row: row, hasRow: ok}
	if ok {
		p.row.FolderID = f.j.st.ID
	}
	if pairs[f] == nil {
		pairs[f] = map[uint32]*tagPair{}
	}
	pairs[f][uid] = p
	return p, nil
}

// tagPairsOfLocal binds notmuch messages to the pairs of their files in
// this account's Maildir.
func (s *Syncer) tagPairsOfLocal(folders map[int64]*tagFolder, pairs map[*tagFolder]map[uint32]*tagPair, msgs []tags.Message) error {
	root := resolvedDir(s.acct.Maildir)
	for i := range msgs {
		m := &msgs[i]
		for _, file := range m.Files {
			rel, err := filepath.Rel(root, file)
			if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				continue // another account's, or not mail of ours
			}
			if sub := filepath.Base(filepath.Dir(file)); sub != "cur" && sub != "new" {
				continue
			}
			key, _ := maildir.ParseName(filepath.Base(file))
			pr, fo, ok, err := s.db.PairByKey(s.acct.Name, key)
			if err != nil {
				return err
			}
			f := folders[fo.ID]
			if !ok || f == nil {
				continue
			}
			p, err := s.tagPair(f, pr.UID, pairs)
			if err != nil {
				return err
			}
			if p != nil {
				p.msg = m
			}
		}
	}
	return nil
}

func resolvedDir(dir string) string {
	if r, err := filepath.EvalSymlinks(dir); err == nil {
		return r
	}
	return dir
}

// readMissingKeywords reads the keywords of pairs whose notmuch message was
// read but whose server side is neither read this step nor known from a
// base (pairs made before their folder's keywords were read).
func (s *Syncer) readMissingKeywords(c *Conn, m *tags.Mapping, pairs map[*tagFolder]map[uint32]*tagPair) error {
	for f, ps := range pairs {
		var set imap.UIDSet
		for uid, p := range ps {
			if _, ok := f.remote[uid]; !ok && !p.hasRow && p.msg != nil {
				set.AddNum(imap.UID(uid))
			}
		}
		if len(set) == 0 {
			continue
		}
		sel, err := c.Reselect(f.j.remote)
		if err != nil {
			return err
		}
		if f.remote == nil {
			f.remote = map[uint32][]string{}
		}
		if f.writable == nil {
			f.writable = keywordsWritable(sel)
		}
		err = each(c, c.Fetch(set, &imap.FetchOptions{UID: true, Flags: true}), func(msg *imapclient.FetchMessageBuffer) {
			if msg.UID != 0 {
				f.remote[uint32(msg.UID)] = keywordTags(m, msg.Flags)
			}
		})
		if err != nil {
			return fmt.Errorf("folder %q: tags: %w", f.j.local, err)
		}
	}
	return nil
}

// storeKeywords groups keyword changes: one UID STORE per distinct change.
type storeKeywords map[string]*imap.UIDSet

func (g storeKeywords) add(op string, kws []string, uid uint32) {
	if len(kws) == 0 {
		return
	}
	sort.Strings(kws)
	k := op + strings.Join(kws, " ")
	if g[k] == nil {
		g[k] = &imap.UIDSet{}
	}
	g[k].AddNum(imap.UID(uid))
}

func (g storeKeywords) run(c *Conn) error {
	keys := make([]string, 0, len(g))
	for k := range g {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		op := imap.StoreFlagsAdd
		if k[0] == '-' {
			op = imap.StoreFlagsDel
		}
		var flags []imap.Flag
		for _, kw := range strings.Fields(k[1:]) {
			flags = append(flags, imap.Flag(kw))
		}
		if err := c.Store(*g[k], &imap.StoreFlags{Op: op, Silent: true, Flags: flags}, nil).Close(); err != nil {
			return fmt.Errorf("store keywords: %w", err)
		}
	}
	return nil
}

// writeTags sends the server's keyword changes, folder by folder, then the
// local ones in one notmuch run.
func (s *Syncer) writeTags(ctx context.Context, c *Conn, ts *tagSync, folders map[int64]*tagFolder, local []tags.Change) error {
	ids := make([]int64, 0, len(folders))
	for id := range folders {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(a, b int) bool { return ids[a] < ids[b] })
	// notmuch writes while the server does.
	applied := make(chan error, 1)
	go func() { applied <- ts.nm.Apply(ctx, local) }()
	up := 0
	for _, id := range ids {
		f := folders[id]
		if len(f.stores) == 0 {
			continue
		}
		if _, err := c.Reselect(f.j.remote); err != nil {
			<-applied
			return err
		}
		if err := f.stores.run(c); err != nil {
			<-applied
			return fmt.Errorf("folder %q: tags: %w", f.j.local, err)
		}
		up += f.nStores
	}
	tagStepDone("stored")
	if err := <-applied; err != nil {
		return err
	}
	tagStepDone("applied")
	s.count(func(st *Stats) { st.TagsUp += up; st.TagsDown += len(local) })
	return nil
}

// mergeTags merges every notmuch message read with the server tags of its
// pairs. It returns the local changes and the new bases, and queues the
// server's changes in the folders' stores. A pair whose message notmuch
// does not have (yet) keeps the server's tags pending in its base.
func mergeTags(m *tags.Mapping, pairs map[*tagFolder]map[uint32]*tagPair) ([]tags.Change, []state.TagBase) {
	groups := map[*tags.Message][]*tagPair{}
	var bases []state.TagBase
	for f, ps := range pairs {
		for uid, p := range ps {
			if p.msg != nil {
				groups[p.msg] = append(groups[p.msg], p)
				continue
			}
			r, read := f.remote[uid]
			if !read || (p.hasRow && p.row.Merged) {
				continue // nothing new, or notmuch lost a message it had: wait
			}
			bases = append(bases, state.TagBase{FolderID: f.j.st.ID, UID: uid, Remote: r})
		}
	}
	msgs := make([]*tags.Message, 0, len(groups))
	for msg := range groups {
		msgs = append(msgs, msg)
	}
	sort.Slice(msgs, func(a, b int) bool { return msgs[a].ID < msgs[b].ID })
	var changes []tags.Change
	for _, msg := range msgs {
		ps := groups[msg]
		sort.Slice(ps, func(a, b int) bool {
			if ps[a].f.j.st.ID != ps[b].f.j.st.ID {
				return ps[a].f.j.st.ID < ps[b].f.j.st.ID
			}
			return ps[a].uid < ps[b].uid
		})
		local := m.Local(msg.Tags)
		merged := local
		for _, p := range ps {
			r := p.remoteTags()
			merged = tags.Merge(p.row.Tags, p.hasRow && p.row.Merged, merged, r)
		}
		if add, rm := tags.Diff(local, merged); len(add)+len(rm) > 0 {
			changes = append(changes, tags.Change{ID: msg.ID, Add: add, Remove: rm})
		}
		for _, p := range ps {
			bases = append(bases, p.queueStores(m, merged, msg.ID))
		}
	}
	return changes, bases
}

// remoteTags is the pair's server tags: as read this step, else as agreed
// at the last merge, else as read when it was still pending.
func (p *tagPair) remoteTags() []string {
	if r, ok := p.f.remote[p.uid]; ok {
		return r
	}
	if p.hasRow && p.row.Merged {
		return p.row.Tags
	}
	return p.row.Remote
}

// queueStores queues the keyword changes that bring the pair's server
// message to merged and returns its new base: merged, less the keywords
// the folder does not accept (so that a later pass does not take their
// absence for a removal).
func (p *tagPair) queueStores(m *tags.Mapping, merged []string, id string) state.TagBase {
	f := p.f
	add, rm := tags.Diff(p.remoteTags(), merged)
	base := merged
	var kwAdd, kwRm []string
	for _, t := range add {
		kw := m.Keyword(t)
		if f.writable != nil && !f.writable(kw) {
			base = without(base, t)
			continue
		}
		kwAdd = append(kwAdd, kw)
	}
	for _, t := range rm {
		kwRm = append(kwRm, m.Keyword(t))
	}
	if len(kwAdd)+len(kwRm) > 0 {
		if f.stores == nil {
			f.stores = storeKeywords{}
		}
		f.stores.add("+", kwAdd, p.uid)
		f.stores.add("-", kwRm, p.uid)
		f.nStores++
	}
	return state.TagBase{FolderID: f.j.st.ID, UID: p.uid, Merged: true, Tags: base, NotmuchID: id}
}

func without(list []string, x string) []string {
	var out []string
	for _, s := range list {
		if s != x {
			out = append(out, s)
		}
	}
	return out
}
