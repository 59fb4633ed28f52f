package syncer

import (
	"fmt"
	"slices"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailmirror/mailmirror/maildir"
	"github.com/mailmirror/mailmirror/state"
)

// serverFlagsOnly reports whether, going by LIST-STATUS, the only changes
// in the folder since the last pass are flag changes on the server: the
// same UIDVALIDITY, UIDNEXT and message count, a new HIGHESTMODSEQ, and a
// local stamp that did not move (no file added, removed or renamed here).
// detectFlagsOnly then looks at the changed messages only, instead of
// reading every pair and comparing the whole folder.
func (j *job) serverFlagsOnly(stamp string) bool {
	st, status := j.st, j.status
	if stamp == "" || stamp != st.LocalStamp || status == nil || status.NumMessages == nil {
		return false
	}
	if st.UIDValidity == 0 || st.HighestModSeq == 0 || st.Messages == 0 || st.UIDNext <= 1 {
		return false
	}
	return status.UIDValidity == st.UIDValidity && uint32(status.UIDNext) == st.UIDNext &&
		*status.NumMessages == st.Messages && status.HighestModSeq != 0 && status.HighestModSeq != st.HighestModSeq
}

// detectFlagsOnly is detect for a folder where serverFlagsOnly holds: it
// lists the folder's files, selects it, fetches the flags changed since
// the last pass (CHANGEDSINCE), and reads the pairs of just those
// messages. It returns false, having decided nothing, when the folder turns
// out to have changed otherwise (since LIST, or a file is not where the
// last pass left it): the caller then goes the full way.
func (j *job) detectFlagsOnly(lc *lazyConn, stamp string) (bool, error) {
	st := j.st
	// The files first, before taking the connection another folder may
	// be using: the folder did not change since the last pass, so each
	// file is where that pass left it.
	ents, err := j.lf.Scan()
	if err != nil {
		return false, err
	}
	c, err := lc.get()
	if err != nil {
		return false, err
	}
	sel, err := c.Reselect(j.remote)
	if err != nil {
		return false, err
	}
	if !c.condstore || sel.UIDValidity != st.UIDValidity || uint32(sel.UIDNext) != st.UIDNext ||
		sel.NumMessages != st.Messages || sel.HighestModSeq == 0 {
		return false, nil
	}
	changed := map[uint32]string{}
	var set imap.UIDSet
	set.AddRange(1, imap.UID(st.UIDNext-1))
	opts := &imap.FetchOptions{UID: true, Flags: true, ChangedSince: st.HighestModSeq}
	err = each(c, c.Fetch(set, opts), func(m *imapclient.FetchMessageBuffer) {
		changed[uint32(m.UID)] = maildir.FlagsFromIMAP(m.Flags)
	})
	if err != nil {
		return false, fmt.Errorf("fetch flags: %w", err)
	}
	uids := make([]uint32, 0, len(changed))
	for uid := range changed {
		uids = append(uids, uid)
	}
	slices.Sort(uids)
	pairs, err := j.s.db.PairsOf(st.ID, uids)
	if err != nil {
		return false, err
	}
	want := make(map[string]bool, len(pairs))
	for _, p := range pairs {
		if p.Key != "" {
			want[p.Key] = true
		}
	}
	entries := make(map[string]maildir.Entry, len(want))
	for _, e := range ents {
		if want[e.Key] {
			if _, dup := entries[e.Key]; dup {
				return false, nil // two files with one key: the full way sorts that out
			}
			entries[e.Key] = e
		}
	}
	if len(entries) != len(want) {
		return false, nil
	}
	// Only the changed messages take part: no other pair can be gone,
	// moved or changed, on either side.
	j.pairs = make(map[uint32]*state.Pair, len(pairs))
	j.serverFlags = make(map[uint32]string, len(pairs))
	for i := range pairs {
		p := &pairs[i]
		j.pairs[p.UID] = p
		j.serverFlags[p.UID] = changed[p.UID]
	}
	j.entries = entries
	j.serverGone = map[uint32]bool{}
	j.newSt = st
	j.newSt.LocalStamp = stamp
	j.newSt.HighestModSeq = sel.HighestModSeq
	return true, nil
}
