package syncer

import (
	"path/filepath"
	"sort"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailmirror/mailmirror/maildir"
	"github.com/mailmirror/mailmirror/state"
)

// readLabels brings the membership of every label folder that may have
// changed up to date (in g.ops and g.states; the All Mail UIDs
// concerned in g.touched). A label folder is re-read when it is new, when
// its UIDVALIDITY, UIDNEXT or MESSAGES differ from those stored, when All
// Mail's UIDVALIDITY changed, or when some of its members were not found
// in All Mail and All Mail got new messages since.
func (g *gmailRun) readLabels(c *Conn) error {
	tagsOf := make([]string, 0, len(g.labels))
	for t := range g.labels {
		tagsOf = append(tagsOf, t)
	}
	sort.Strings(tagsOf)
	for _, t := range tagsOf {
		lf := g.labels[t]
		st, ok := g.stored[lf.name]
		if ok && st.AllMailUIDVal != g.allF.UIDValidity {
			ok = false
		}
		if ok && !g.mayHaveChanged(lf, st) {
			continue
		}
		if err := g.readLabel(c, lf, st, ok); err != nil {
			return err
		}
	}
	// Label folders gone from the server: their labels are gone.
	present := map[string]bool{}
	for _, lf := range g.labels {
		present[lf.name] = true
	}
	for name := range g.stored {
		if present[name] {
			continue
		}
		if _, listed := g.s.remotes[name]; listed {
			// Still there but no longer a label (tags_deny, tag_map):
			// forget it without touching anything.
			g.gone = append(g.gone, name)
			continue
		}
		members, err := g.s.db.GmailMembers(g.s.acct.Name, name)
		if err != nil {
			return err
		}
		for _, all := range members {
			if all != 0 {
				g.touched[all] = true
			}
		}
		g.gone = append(g.gone, name)
	}
	return nil
}

func (g *gmailRun) mayHaveChanged(lf *labelFolder, st state.GmailLabel) bool {
	if st.Unresolved > 0 && g.allUID != st.AllMailNext {
		return true
	}
	r := lf.status
	if r == nil || r.NumMessages == nil {
		return true // no LIST-STATUS: look every pass
	}
	return r.UIDValidity != st.UIDValidity || uint32(r.UIDNext) != st.UIDNext || *r.NumMessages != st.Messages
}

// readLabel reads one label folder's new messages (identity and size) and
// its expunges, and maps the new ones to All Mail UIDs.
func (g *gmailRun) readLabel(c *Conn, lf *labelFolder, st state.GmailLabel, known bool) error {
	acct := g.s.acct.Name
	sel, err := c.Reselect(lf.name)
	if err != nil {
		return err
	}
	members, err := g.s.db.GmailMembers(acct, lf.name)
	if err != nil {
		return err
	}
	if !known || sel.UIDValidity != st.UIDValidity {
		// Read again from its first UID (new to the state, a new
		// UIDVALIDITY of the folder or of All Mail): every old member is
		// forgotten first; the messages that are still there come back.
		for uid, all := range members {
			g.op(false, state.GmailMember{Label: lf.name, UID: uid, AllMail: all})
			if all != 0 && st.AllMailUIDVal == g.allF.UIDValidity {
				g.touched[all] = true
			}
		}
		members, known = map[uint32]uint32{}, false
	}
	from := uint32(1)
	if known {
		from = st.UIDNext
	}
	// The members not found in All Mail are looked for again.
	var unresolved []uint32
	for uid, all := range members {
		if all == 0 {
			unresolved = append(unresolved, uid)
		}
	}
	fresh, err := g.fetchIdentities(c, sel, from, unresolved, members)
	if err != nil {
		return err
	}
	if int(sel.NumMessages) != len(members)+countNew(fresh, members) {
		if err := g.findExpunged(c, lf.name, members); err != nil {
			return err
		}
	}
	left, err := g.resolve(lf.name, fresh, members)
	if err != nil {
		return err
	}
	g.states = append(g.states, state.GmailLabel{Name: lf.name, UIDValidity: sel.UIDValidity, UIDNext: uint32(sel.UIDNext),
		Messages: sel.NumMessages, ModSeq: sel.HighestModSeq, AllMailUIDVal: g.allF.UIDValidity, AllMailNext: g.allUID, Unresolved: left})
	return nil
}

// labelMsg is a label folder message's identity.
type labelMsg struct {
	uid   uint32
	ident string
	size  int64
	msgID string // Message-ID without <>, as notmuch names the message
}

func countNew(fresh []labelMsg, members map[uint32]uint32) int {
	n := 0
	for _, m := range fresh {
		if _, ok := members[m.uid]; !ok {
			n++
		}
	}
	return n
}

// fetchIdentities fetches identity and size of the UIDs from from on and
// of the unresolved ones, leaving out those already resolved.
func (g *gmailRun) fetchIdentities(c *Conn, sel *imap.SelectData, from uint32, unresolved []uint32, members map[uint32]uint32) ([]labelMsg, error) {
	var set imap.UIDSet
	if sel.NumMessages > 0 && uint32(sel.UIDNext) > from {
		set.AddRange(imap.UID(from), 0)
	}
	for _, uid := range unresolved {
		set.AddNum(imap.UID(uid))
	}
	if len(set) == 0 {
		return nil, nil
	}
	sec := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: identityFields, Peek: true}
	opts := &imap.FetchOptions{UID: true, RFC822Size: true, BodySection: []*imap.FetchItemBodySection{sec}}
	var out []labelMsg
	err := each(c, c.Fetch(set, opts), func(m *imapclient.FetchMessageBuffer) {
		uid := uint32(m.UID)
		if uid == 0 {
			return
		}
		if all, ok := members[uid]; ok && all != 0 {
			return // resolved before (n:* also returns the last UID)
		}
		if _, ok := members[uid]; !ok && uid < from {
			return
		}
		h := m.FindBodySection(sec)
		id := strings.Trim(strings.TrimSpace(parseFields(h)["message-id"]), "<>")
		out = append(out, labelMsg{uid: uid, ident: identity(h), size: m.RFC822Size, msgID: id})
	})
	return out, err
}

// findExpunged removes the members no longer in the label folder.
func (g *gmailRun) findExpunged(c *Conn, label string, members map[uint32]uint32) error {
	data, err := c.UIDSearch(&imap.SearchCriteria{}, &imap.SearchOptions{ReturnAll: c.Caps().Has(imap.CapESearch)}).Wait()
	if err != nil {
		return err
	}
	there := map[uint32]bool{}
	for _, uid := range data.AllUIDs() {
		there[uint32(uid)] = true
	}
	for uid, all := range members {
		if !there[uid] {
			g.op(false, state.GmailMember{Label: label, UID: uid, AllMail: all})
			if all != 0 {
				g.touched[all] = true
			}
			delete(members, uid)
		}
	}
	return nil
}

// resolve maps label messages to All Mail UIDs by identity and size; it
// returns how many it could not map (kept with All Mail UID 0).
func (g *gmailRun) resolve(label string, fresh []labelMsg, members map[uint32]uint32) (int, error) {
	if len(fresh) == 0 {
		n := 0
		for _, all := range members {
			if all == 0 {
				n++
			}
		}
		return n, nil
	}
	if g.idx == nil {
		pairs, err := g.s.db.Pairs(g.allF.ID)
		if err != nil {
			return 0, err
		}
		g.idx = map[identKey][]uint32{}
		for _, p := range pairs {
			if p.Key != "" && p.MsgID != "" {
				k := identKey{p.MsgID, p.Size}
				g.idx[k] = append(g.idx[k], p.UID)
			}
		}
	}
	claimed := map[uint32]bool{}
	for _, all := range members {
		claimed[all] = true
	}
	left := 0
	for _, m := range fresh {
		var all uint32
		for _, cand := range g.idx[identKey{m.ident, m.size}] {
			if !claimed[cand] {
				all = cand
				break
			}
		}
		if all == 0 {
			left++
		} else {
			claimed[all] = true
			g.touched[all] = true
			if m.msgID != "" {
				g.nmIDs[all] = m.msgID
			}
		}
		if prev, ok := members[m.uid]; ok && prev == all {
			continue
		}
		members[m.uid] = all
		g.op(true, state.GmailMember{Label: label, UID: m.uid, AllMail: all})
	}
	for uid, all := range members {
		if all == 0 && !containsLabelMsg(fresh, uid) {
			left++
		}
	}
	return left, nil
}

func containsLabelMsg(list []labelMsg, uid uint32) bool {
	for _, m := range list {
		if m.uid == uid {
			return true
		}
	}
	return false
}

// localKey returns the Maildir key of a notmuch file in this account's
// Maildir (in a cur/ or new/), or false.
func localKey(root, file string) (string, bool) {
	rel, err := filepath.Rel(root, file)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", false
	}
	if sub := filepath.Base(filepath.Dir(file)); sub != "cur" && sub != "new" {
		return "", false
	}
	key, _ := maildir.ParseName(filepath.Base(file))
	return key, true
}
