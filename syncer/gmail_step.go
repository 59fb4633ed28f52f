package syncer

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/mailmirror/mailmirror/state"
	"github.com/mailmirror/mailmirror/tags"
)

// gmailRun is one label step (see gmail.go).
type gmailRun struct {
	s      *Syncer
	ts     *tagSync
	allJob *job
	allF   state.Folder
	allUID uint32 // All Mail's UIDNEXT at this pass's LIST
	labels map[string]*labelFolder
	stored map[string]state.GmailLabel
	// ops are the membership changes found or made this step, in order,
	// written with the bases.
	ops     []gmailOp
	states  []state.GmailLabel
	gone    []string // label folders no longer on the server
	touched map[uint32]bool
	// nmIDs are the Message-IDs of touched All Mail UIDs read this step,
	// for those whose base does not name their notmuch message (a base
	// lost with an All Mail UIDVALIDITY change).
	nmIDs map[uint32]string
	// idx finds All Mail pairs by identity and size (built when needed).
	idx map[identKey][]uint32
}

// gmailStep runs the label step of a pass in place of the keyword step.
func (s *Syncer) gmailStep(ctx context.Context, jobs []*job) error {
	ts, err := s.openTags(ctx)
	if err != nil {
		return err
	}
	all, labels := s.gmailFolders(ts.m)
	if all == nil {
		return nil
	}
	var aj *job
	for _, j := range jobs {
		if j.remote == all.name {
			aj = j
		}
	}
	if aj == nil {
		return nil // All Mail is not mirrored (folders leaves it out)
	}
	af, ok, err := s.db.Folder(s.acct.Name, aj.local)
	if err != nil || !ok || af.UIDValidity == 0 {
		return err
	}
	stored, err := s.db.GmailLabels(s.acct.Name)
	if err != nil {
		return err
	}
	g := &gmailRun{s: s, ts: ts, allJob: aj, allF: af, labels: labels, stored: stored, touched: map[uint32]bool{}, nmIDs: map[uint32]string{}}
	if all.status != nil {
		g.allUID = uint32(all.status.UIDNext)
	}
	c, err := s.pool.get(ctx)
	if err != nil {
		return err
	}
	err = g.run(ctx, c)
	if err != nil && isConnError(err) {
		s.pool.discard(c)
	} else {
		s.pool.put(c)
	}
	return err
}

func (g *gmailRun) run(ctx context.Context, c *Conn) error {
	s := g.s
	if err := g.readLabels(c); err != nil {
		return err
	}
	storedRev, err := s.db.TagRevision(s.acct.Name)
	if err != nil {
		return err
	}
	stamp := g.ts.nm.Stamp()
	rev := tags.Revision{UUID: storedRev.UUID, N: storedRev.Revision}
	if stamp == "" || stamp != storedRev.Stamp || storedRev.UUID == "" {
		if rev, err = g.ts.nm.Revision(ctx); err != nil {
			return err
		}
	}
	since := storedRev.Revision
	if storedRev.UUID != rev.UUID {
		since = 0
	}
	localChanged := storedRev.UUID != rev.UUID || since != rev.N
	next := state.TagRevision{UUID: rev.UUID, Revision: rev.N, Stamp: stamp}
	if !localChanged && len(g.touched) == 0 && len(g.states) == 0 && len(g.gone) == 0 {
		if next == storedRev {
			return nil
		}
		return s.db.Update(func(tx *state.Tx) error { return tx.SetTagRevision(s.acct.Name, next) })
	}
	msgs, err := g.readLocal(ctx, localChanged, since)
	if err != nil {
		return err
	}
	groups, err := g.pairsOf(ctx, msgs)
	if err != nil {
		return err
	}
	plan, err := g.merge(groups)
	if err != nil {
		return err
	}
	if err := g.write(ctx, c, plan); err != nil {
		return err
	}
	if len(plan.local) > 0 {
		next.Stamp = ""
		st := g.ts.nm.Stamp()
		if r2, err := g.ts.nm.Revision(ctx); err == nil && r2.UUID == rev.UUID && r2.N == rev.N+uint64(len(plan.local)) {
			next = state.TagRevision{UUID: r2.UUID, Revision: r2.N, Stamp: st}
		}
	}
	return g.record(plan, next)
}

// readLocal reads the notmuch messages changed since the revision, and
// those of the All Mail messages whose labels changed on the server.
func (g *gmailRun) readLocal(ctx context.Context, localChanged bool, since uint64) ([]tags.Message, error) {
	var ids []string
	if len(g.touched) > 0 {
		touched := uidKeys(g.touched)
		bases, err := g.s.db.TagBases(g.allF.ID, touched)
		if err != nil {
			return nil, err
		}
		for _, uid := range touched {
			if b := bases[uid]; b.NotmuchID != "" {
				ids = append(ids, b.NotmuchID)
			} else if id := g.nmIDs[uid]; id != "" {
				ids = append(ids, id)
			}
		}
		sort.Strings(ids)
		ids = slices.Compact(ids)
	}
	var out []tags.Message
	const chunk = 200
	for first := true; first || len(ids) > 0; first = false {
		var terms []string
		if first && localChanged {
			terms = append(terms, fmt.Sprintf("lastmod:%d..", since+1))
		}
		n := min(len(ids), chunk)
		for _, id := range ids[:n] {
			terms = append(terms, tags.IDQuery(id))
		}
		ids = ids[n:]
		if len(terms) == 0 {
			continue
		}
		// Dump, not Show: Show fails on a file the pass renamed (a flag
		// change) until `notmuch new` runs; Dump opens no file.
		msgs, err := g.ts.nm.Dump(ctx, strings.Join(terms, " or "))
		if err != nil {
			return nil, err
		}
		out = append(out, msgs...)
	}
	return out, nil
}

func uidKeys(m map[uint32]bool) []uint32 {
	out := make([]uint32, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(a, b int) bool { return out[a] < out[b] })
	return out
}

// gmailGroup is one notmuch message and the All Mail UIDs of its files.
type gmailGroup struct {
	msg  *tags.Message
	uids []uint32
}

// pairsOf binds notmuch messages to the All Mail pairs of the same
// Message-ID (the pairs' identity hash). A message notmuch gave an id of
// its own (no Message-ID) is found through its files instead.
func (g *gmailRun) pairsOf(ctx context.Context, msgs []tags.Message) ([]gmailGroup, error) {
	pairs, err := g.s.db.Pairs(g.allF.ID)
	if err != nil {
		return nil, err
	}
	byIdent := map[string][]uint32{}
	for _, p := range pairs {
		if p.Key != "" && p.MsgID != "" {
			byIdent[p.MsgID] = append(byIdent[p.MsgID], p.UID)
		}
	}
	seen := map[string]bool{}
	var out []gmailGroup
	var noID []string
	for i := range msgs {
		m := &msgs[i]
		if seen[m.ID] {
			continue
		}
		seen[m.ID] = true
		if strings.HasPrefix(m.ID, "notmuch-sha1-") {
			noID = append(noID, m.ID)
			continue
		}
		if uids := byIdent[hashOf("m", "<"+m.ID+">")]; len(uids) > 0 {
			out = append(out, gmailGroup{msg: m, uids: uids})
		}
	}
	more, err := g.pairsByFile(ctx, noID)
	return append(out, more...), err
}

// pairsByFile finds the All Mail pairs of notmuch messages through their
// files (one notmuch show). A show that fails (a file renamed since
// notmuch indexed it) leaves them for a later pass.
func (g *gmailRun) pairsByFile(ctx context.Context, ids []string) ([]gmailGroup, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	msgs, err := g.ts.nm.ByID(ctx, ids)
	if err != nil {
		return nil, nil
	}
	root := resolvedDir(g.s.acct.Maildir)
	var out []gmailGroup
	for i := range msgs {
		m := &msgs[i]
		gr := gmailGroup{msg: m}
		for _, file := range m.Files {
			key, ok := localKey(root, file)
			if !ok {
				continue
			}
			pr, fo, ok, err := g.s.db.PairByKey(g.s.acct.Name, key)
			if err != nil {
				return nil, err
			}
			if ok && fo.ID == g.allF.ID && !contains32(gr.uids, pr.UID) {
				gr.uids = append(gr.uids, pr.UID)
			}
		}
		if len(gr.uids) > 0 {
			out = append(out, gr)
		}
	}
	return out, nil
}

func contains32(list []uint32, x uint32) bool {
	for _, v := range list {
		if v == x {
			return true
		}
	}
	return false
}
