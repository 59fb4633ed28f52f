package syncer

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/state"
	"github.com/mailmirror/mailmirror/tags"
)

// gmailOp is a membership change: a message added to (add) or gone from a
// label folder.
type gmailOp struct {
	add bool
	m   state.GmailMember
}

func (g *gmailRun) op(add bool, m state.GmailMember) { g.ops = append(g.ops, gmailOp{add, m}) }

// gmailPlan is what a merge decided.
type gmailPlan struct {
	local   []tags.Change
	bases   []state.TagBase
	copies  map[string][]uint32 // tag → All Mail UIDs to copy into its folder
	expunge map[string][]uint32 // label folder → its UIDs to expunge
	up      int                 // messages whose labels change on the server
}

// remoteLabels returns the labels (tag → UID in the label folder) of the
// given All Mail UIDs: the stored members with this step's changes.
func (g *gmailRun) remoteLabels(uids []uint32) (map[uint32]map[string]uint32, error) {
	rows, err := g.s.db.GmailMembersOf(g.s.acct.Name, uids)
	if err != nil {
		return nil, err
	}
	type lk struct {
		label string
		uid   uint32
	}
	cur := map[lk]uint32{}
	for _, r := range rows {
		cur[lk{r.Label, r.UID}] = r.AllMail
	}
	for _, o := range g.ops {
		if o.add {
			cur[lk{o.m.Label, o.m.UID}] = o.m.AllMail
		} else {
			delete(cur, lk{o.m.Label, o.m.UID})
		}
	}
	tagOf := map[string]string{}
	for t, lf := range g.labels {
		tagOf[lf.name] = t
	}
	want := map[uint32]bool{}
	for _, u := range uids {
		want[u] = true
	}
	out := map[uint32]map[string]uint32{}
	for k, all := range cur {
		t, ok := tagOf[k.label]
		if !ok || !want[all] {
			continue
		}
		if out[all] == nil {
			out[all] = map[string]uint32{}
		}
		out[all][t] = k.uid
	}
	return out, nil
}

func tagList(m map[string]uint32) []string {
	out := make([]string, 0, len(m))
	for t := range m {
		out = append(out, t)
	}
	return tags.Normalize(out)
}

// labelLocal returns the label tags among a notmuch message's tags.
func labelLocal(m *tags.Mapping, ts []string) []string {
	var out []string
	for _, t := range ts {
		if labelSynced(m, t) {
			out = append(out, t)
		}
	}
	return tags.Normalize(out)
}

// merge merges every notmuch message with the labels of its All Mail
// copies (three-way against their bases) and plans the writes.
func (g *gmailRun) merge(groups []gmailGroup) (*gmailPlan, error) {
	var uids []uint32
	for _, gr := range groups {
		uids = append(uids, gr.uids...)
	}
	remote, err := g.remoteLabels(uids)
	if err != nil {
		return nil, err
	}
	bases, err := g.s.db.TagBases(g.allF.ID, uids)
	if err != nil {
		return nil, err
	}
	sort.Slice(groups, func(a, b int) bool { return groups[a].msg.ID < groups[b].msg.ID })
	m := g.ts.m
	plan := &gmailPlan{copies: map[string][]uint32{}, expunge: map[string][]uint32{}}
	for _, gr := range groups {
		local := labelLocal(m, gr.msg.Tags)
		merged := g.mergeOne(local, gr.uids, bases, remote)
		if add, rm := tags.Diff(local, merged); len(add)+len(rm) > 0 {
			plan.local = append(plan.local, tags.Change{ID: gr.msg.ID, Add: add, Remove: rm})
		}
		for _, uid := range gr.uids {
			add, rm := tags.Diff(tagList(remote[uid]), merged)
			for _, t := range add {
				plan.copies[t] = append(plan.copies[t], uid)
			}
			for _, t := range rm {
				lf := g.labels[t]
				plan.expunge[lf.name] = append(plan.expunge[lf.name], remote[uid][t])
			}
			if len(add)+len(rm) > 0 {
				plan.up++
			}
			plan.bases = append(plan.bases, state.TagBase{FolderID: g.allF.ID, UID: uid, Merged: true, Tags: merged, NotmuchID: gr.msg.ID})
		}
	}
	return plan, nil
}

// mergeOne merges a message's local label tags with the labels of its All
// Mail copies. A message never merged before joins both sides, except for
// inbox and the tags of notmuch's new.tags, which the server decides:
// notmuch (or afew's inbox filter after new.tags = "new") gives them to
// every message it indexes, archived or not.
func (g *gmailRun) mergeOne(local []string, uids []uint32, bases map[uint32]state.TagBase, remote map[uint32]map[string]uint32) []string {
	anyBase := false
	for _, uid := range uids {
		if b, ok := bases[uid]; ok && b.Merged {
			anyBase = true
		}
	}
	merged := local
	if !anyBase {
		merged = nil
		for _, t := range local {
			if t != "inbox" && !contains(g.ts.nm.NewTags, t) {
				merged = append(merged, t)
			}
		}
	}
	for _, uid := range uids {
		b, ok := bases[uid]
		merged = tags.Merge(b.Tags, ok && b.Merged, merged, tagList(remote[uid]))
	}
	return merged
}

// write makes the plan's changes: label removals (\Deleted + UID EXPUNGE
// in the label folder), label additions (UID COPY from All Mail), and the
// local tags in one notmuch run meanwhile.
func (g *gmailRun) write(ctx context.Context, c *Conn, plan *gmailPlan) error {
	applied := make(chan error, 1)
	go func() { applied <- g.ts.nm.Apply(ctx, plan.local) }()
	err := g.writeServer(c, plan)
	tagStepDone("stored")
	if aerr := <-applied; err == nil {
		err = aerr
	}
	if err != nil {
		return err
	}
	tagStepDone("applied")
	g.s.count(func(st *Stats) { st.TagsUp += plan.up; st.TagsDown += len(plan.local) })
	return nil
}

func (g *gmailRun) writeServer(c *Conn, plan *gmailPlan) error {
	if len(plan.expunge) > 0 && !c.Caps().Has(imap.CapUIDPlus) {
		return fmt.Errorf("tags: removing Gmail labels needs UID EXPUNGE (UIDPLUS), which the server does not offer")
	}
	for _, name := range sortedKeys(plan.expunge) {
		if err := g.removeLabel(c, name, plan.expunge[name]); err != nil {
			return fmt.Errorf("folder %q: tags: %w", name, err)
		}
	}
	for _, t := range sortedKeys(plan.copies) {
		if err := g.addLabel(c, t, plan.copies[t]); err != nil {
			return fmt.Errorf("tags: label %q: %w", t, err)
		}
	}
	return nil
}

func sortedKeys(m map[string][]uint32) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// removeLabel takes messages out of a label folder: \Deleted and UID
// EXPUNGE of exactly their UIDs there, which is how Gmail removes a label.
func (g *gmailRun) removeLabel(c *Conn, name string, uids []uint32) error {
	if _, err := c.Reselect(name); err != nil {
		return err
	}
	var set imap.UIDSet
	for _, u := range uids {
		set.AddNum(imap.UID(u))
	}
	store := &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}
	if err := c.Store(set, store, nil).Close(); err != nil {
		return err
	}
	if err := c.UIDExpunge(set).Close(); err != nil {
		return err
	}
	members, err := g.s.db.GmailMembers(g.s.acct.Name, name)
	if err != nil {
		return err
	}
	for _, u := range uids {
		g.op(false, state.GmailMember{Label: name, UID: u, AllMail: members[u]})
	}
	return nil
}

// addLabel copies All Mail messages into the tag's label folder, creating
// it when missing; COPYUID records the new members (without it the next
// pass finds them by identity).
func (g *gmailRun) addLabel(c *Conn, tag string, uids []uint32) error {
	name := ""
	if lf := g.labels[tag]; lf != nil {
		name = lf.name
	} else {
		name = labelFolderName(g.ts.m, tag)
		if err := c.Create(name, nil).Wait(); err != nil && !alreadyExists(err) {
			return err
		}
		g.labels[tag] = &labelFolder{name: name, tag: tag}
	}
	if _, err := c.Select(g.allJob.remote); err != nil {
		return err
	}
	var set imap.UIDSet
	for _, u := range uids {
		set.AddNum(imap.UID(u))
	}
	cd, err := c.Copy(set, name).Wait()
	if err != nil {
		return err
	}
	if cd == nil {
		return nil
	}
	src, ok1 := cd.SourceUIDs.Nums()
	dst, ok2 := cd.DestUIDs.Nums()
	if !ok1 || !ok2 || len(src) != len(dst) {
		return nil
	}
	for i := range src {
		g.op(true, state.GmailMember{Label: name, UID: uint32(dst[i]), AllMail: uint32(src[i])})
	}
	return nil
}

func alreadyExists(err error) bool {
	var ie *imap.Error
	if errors.As(err, &ie) && ie.Code == imap.ResponseCodeAlreadyExists {
		return true
	}
	return strings.Contains(strings.ToLower(err.Error()), "exists")
}

// record writes the step's outcome in one transaction: memberships, label
// counters, bases and the notmuch revision. A crash before it makes the
// next pass read the same changes again (what this step wrote is then on
// both sides and merges to itself).
func (g *gmailRun) record(plan *gmailPlan, next state.TagRevision) error {
	acct := g.s.acct.Name
	return g.s.db.Update(func(tx *state.Tx) error {
		for _, name := range g.gone {
			if err := tx.DeleteGmailLabel(acct, name); err != nil {
				return err
			}
		}
		for _, o := range g.ops {
			var err error
			if o.add {
				err = tx.PutGmailMember(acct, o.m)
			} else {
				err = tx.DeleteGmailMember(acct, o.m.Label, o.m.UID)
			}
			if err != nil {
				return err
			}
		}
		for _, l := range g.states {
			if err := tx.PutGmailLabel(acct, l); err != nil {
				return err
			}
		}
		for _, b := range plan.bases {
			if err := tx.PutTagBase(b); err != nil {
				return err
			}
		}
		return tx.SetTagRevision(acct, next)
	})
}
