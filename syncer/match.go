package syncer

import (
	"errors"
	"fmt"
	"strings"

	"github.com/mailmirror/mailmirror/maildir"
	"github.com/mailmirror/mailmirror/state"
)

// identKey names a message by identity and size for matching.
type identKey struct {
	ident string
	size  int64
}

// matcher is the one place that answers "is this local file that server
// message?", for the full pass (matchAcross), the targeted pass (PullNew)
// and PushLocal alike.
//
// Its input is in the jobs of the pass, one per folder: the pairs gone
// locally (localGone) or on the server (serverGone) with what each side has
// of them now (entries: the files by key; serverFlags: the server's flags
// where known), the files no pair knows (newLocal: key, identity, size and
// the size without mbsync's X-TUID) and the server messages no pair knows
// (newServer: UID, identity, size). A message's identity is its Message-ID
// (or the hash of Date/From/To/Subject) and its size in CRLF terms.
//
// Its output is the jobs' decisions: drop (gone on both sides), moveOut (a
// local move → UID MOVE), moveIn (a server move → local rename), restore
// (deleted here, changed there: download again), serverDeletes,
// localDeletes, pairUp (a file and a message that are the same), copies (a
// new file that is byte for byte a message paired elsewhere: UID COPY
// instead of an upload), and what is left of newLocal (to upload) and
// newServer (to download).
//
// A targeted pass knows only part of its folders (see scope): where a
// decision needs what only a full pass reads (every file by key, every
// pair), or the targeted pass cannot carry it out, the matcher decides
// nothing and run returns ErrFullPass; the caller then changes nothing and
// the daemon runs a full pass, which decides. Those cases are the
// "targeted" branches below; match_test.go lists them next to the full
// pass's decision for the same input.
type matcher struct {
	s        *Syncer
	jobs     []*job
	targeted bool  // a targeted pass (PullNew, PushLocal): ambiguity → ErrFullPass
	err      error // why a targeted pass cannot decide

	byKey       map[string]located // the files by key (see index)
	pairedIn    map[*job]map[string]bool
	newLocal    map[identKey][]*localMsg
	localOwner  map[*localMsg]*job
	newServer   map[identKey][]*serverMsg
	serverOwner map[*serverMsg]*job
	usedLocal   map[*localMsg]bool
	usedServer  map[*serverMsg]bool
}

// matchAcross decides, with every folder's changes known, what each change
// means (see matcher): a pair gone on one side is a move when its file or
// message turned up in another folder, a delete otherwise; an unknown
// local file and an unpaired server message with the same identity and
// size in one folder are the same message (adoption, a UIDVALIDITY change,
// recovery after a crash). The rule for conflicts: a delete never wins over
// a change made on the other side since the last pass (the message is
// kept).
func (s *Syncer) matchAcross(jobs []*job) {
	newMatcher(s, jobs, false).run()
}

// matchTargeted is matchAcross for a targeted pass: it returns ErrFullPass
// (with the jobs' decisions incomplete) when a decision needs a full pass.
func (s *Syncer) matchTargeted(jobs []*job) error {
	return newMatcher(s, jobs, true).run()
}

func newMatcher(s *Syncer, jobs []*job, targeted bool) *matcher {
	return &matcher{
		s: s, jobs: jobs, targeted: targeted,
		byKey: map[string]located{}, pairedIn: map[*job]map[string]bool{},
		newLocal: map[identKey][]*localMsg{}, localOwner: map[*localMsg]*job{},
		newServer: map[identKey][]*serverMsg{}, serverOwner: map[*serverMsg]*job{},
		usedLocal: map[*localMsg]bool{}, usedServer: map[*serverMsg]bool{},
	}
}

// fail records why a targeted pass cannot decide (the first reason wins).
func (m *matcher) fail(why string) {
	if m.err == nil {
		m.err = fmt.Errorf("%w: %s", ErrFullPass, why)
	}
}

// run decides, job by job: first what the pairs gone on one side mean,
// then what is left unknown in each folder.
func (m *matcher) run() error {
	m.index()
	for _, j := range m.jobs {
		if j.quiet {
			continue
		}
		j.moved = map[uint32]bool{}
		for _, p := range j.localGone {
			m.goneLocally(j, p)
		}
		for uid := range j.serverGone {
			m.goneOnServer(j, uid)
		}
	}
	for _, j := range m.jobs {
		if m.targeted && m.err != nil {
			return m.err // a targeted pass stops at what it cannot decide
		}
		if !j.quiet {
			m.sameFolder(j)
		}
	}
	return m.err
}

// index builds the maps the decisions look things up in.
func (m *matcher) index() {
	// The maps of every key serve only to explain local changes (new
	// files, files gone): a pass that found none, say flags changed on
	// the server, does not build them (tens of milliseconds for 10,000
	// messages).
	localChanges := false
	for _, j := range m.jobs {
		localChanges = localChanges || (!j.quiet && (len(j.newLocal) > 0 || len(j.localGone) > 0))
	}
	if localChanges {
		m.dropRaced()
	}
	for _, j := range m.jobs {
		if j.quiet {
			continue
		}
		if localChanges {
			// Every file of the folder in a full pass; in PushLocal the
			// files the watcher saw (a file moved under its name shows
			// there).
			for k, e := range j.entries {
				m.byKey[k] = located{j, e}
			}
		}
		for _, l := range j.newLocal {
			if l.ident != "" {
				k := identKey{l.ident, l.size}
				m.newLocal[k] = append(m.newLocal[k], l)
				if l.altSize > 0 {
					k := identKey{l.ident, l.altSize}
					m.newLocal[k] = append(m.newLocal[k], l)
				}
				m.localOwner[l] = j
			}
		}
		for _, sm := range j.newServer {
			if sm.ident != "" {
				k := identKey{sm.ident, sm.size}
				m.newServer[k] = append(m.newServer[k], sm)
				m.serverOwner[sm] = j
			}
		}
	}
}

// dropRaced leaves for the next pass the new files whose key is paired in
// a folder whose scan still saw it, when their own folder changed within
// the last second: probably moved while the folders were being scanned
// (one scan before the rename, the other after); the next pass sees the
// move it is. A copy that keeps the file name (cp) is uploaded once its
// folder has been quiet for a second.
func (m *matcher) dropRaced() {
	pairedAt := map[string]*job{}
	for _, j := range m.jobs {
		if j.quiet {
			continue
		}
		m.pairedIn[j] = map[string]bool{}
		for _, p := range j.pairs {
			m.pairedIn[j][p.Key] = true
			if _, ok := j.entries[p.Key]; ok && p.Key != "" {
				pairedAt[p.Key] = j
			}
		}
	}
	for _, j := range m.jobs {
		if j.quiet {
			continue
		}
		kept := j.newLocal[:0]
		for _, l := range j.newLocal {
			if owner, ok := pairedAt[l.e.Key]; ok && owner != j && localStamp(j.lf) == "" {
				continue
			}
			kept = append(kept, l)
		}
		j.newLocal = kept
	}
}

// keyPaired reports whether folder d has a pair of its own under key (the
// file there is then a copy made with cp, not a message moved).
func (m *matcher) keyPaired(d *job, key string) bool {
	if d.allPairs() {
		return m.pairedIn[d][key]
	}
	taken, err := m.s.db.KeyPairedIn(d.st.ID, key)
	if err != nil {
		m.err = errors.Join(m.err, err)
		return true
	}
	return taken
}

func (m *matcher) takeLocal(k identKey, not *job) (*localMsg, *job) {
	for _, l := range m.newLocal[k] {
		if !m.usedLocal[l] && m.localOwner[l] != not {
			m.usedLocal[l] = true
			return l, m.localOwner[l]
		}
	}
	return nil, nil
}

func (m *matcher) takeServer(k identKey, not *job) (*serverMsg, *job) {
	for _, sm := range m.newServer[k] {
		if !m.usedServer[sm] && m.serverOwner[sm] != not {
			m.usedServer[sm] = true
			return sm, m.serverOwner[sm]
		}
	}
	return nil, nil
}

// takeSame takes an unpaired message of folder j with identity k.
func (m *matcher) takeSame(k identKey, j *job) *serverMsg {
	for _, sm := range m.newServer[k] {
		if !m.usedServer[sm] && m.serverOwner[sm] == j {
			m.usedServer[sm] = true
			return sm
		}
	}
	return nil
}

// newLocalElsewhere reports whether a new file outside folder j has
// identity k (without taking it).
func (m *matcher) newLocalElsewhere(k identKey, j *job) bool {
	for _, l := range m.newLocal[k] {
		if !m.usedLocal[l] && m.localOwner[l] != j {
			return true
		}
	}
	return false
}

// consumeKey takes the new file that kept its key in folder d: it is the
// message moved there. It reports whether that file is a placeholder.
func (m *matcher) consumeKey(d *job, key string) bool {
	ph := false
	for _, l := range d.newLocal {
		if l.e.Key == key {
			m.usedLocal[l] = true
			ph = ph || l.placeholder
		}
	}
	return ph
}

// goneLocally decides what a pair whose file left folder j means.
func (m *matcher) goneLocally(j *job, p *state.Pair) {
	if j.serverGone[p.UID] {
		m.goneBoth(j, p)
		return
	}
	// A file with the key in another folder is this message moved there,
	// unless that folder has its own message under the key (a copy made
	// with cp, uploaded earlier).
	if loc, ok := m.byKey[p.Key]; ok && loc.j != j {
		if !m.keyPaired(loc.j, p.Key) {
			ph := m.consumeKey(loc.j, p.Key)
			addMoveOut(j, moveOut{p: p, dst: loc.j, e: loc.e, placeholder: p.Placeholder || ph})
			return
		}
		if m.targeted {
			m.fail("a copy under the name of a moved file")
			return
		}
	}
	if p.MsgID != "" {
		if l, d := m.takeLocal(identKey{p.MsgID, p.Size}, j); l != nil {
			addMoveOut(j, moveOut{p: p, dst: d, e: l.e, placeholder: p.Placeholder || l.placeholder})
			return
		}
	}
	if f, changed := j.serverFlags[p.UID]; changed && f != p.Flags && !onlyMarkedDeleted(p.Flags, f) {
		if m.targeted {
			m.fail("deleted here, changed on the server")
			return
		}
		j.restore = append(j.restore, p) // kept
		return
	}
	if !m.targeted && m.foundAgain(j, p) {
		return
	}
	j.serverDeletes = append(j.serverDeletes, p)
}

// addMoveOut has job j move pair mo.p to the folder where its file went.
// Until that move is recorded (by j's apply) the file is unpaired in
// mo.dst, so the destination records no local stamp this pass: its own
// counters may be committed first, and a pass stopped between the two
// commits would otherwise find the destination's stamp unchanged, skip
// its local side and take the move for a delete
// (TestKilledLocalMoveIsNotADeleteNextPass). The next pass lists it again.
func addMoveOut(j *job, mo moveOut) {
	j.moveOut = append(j.moveOut, mo)
	j.moved[mo.p.UID] = true
	mo.dst.newSt.LocalStamp = ""
}

// addMoveIn has job d rename the file of a message the server moved into
// d's folder. Until d records that, the pair and the file are still the
// source's, so the source records MESSAGES as 0 this pass (read it again):
// with its counters committed first and the pass stopped before d's
// rename, the source would otherwise look unchanged on both sides and keep
// the file while d downloaded the message again
// (TestKilledServerMoveIsNoCopyNextPass).
func addMoveIn(d *job, mi moveIn) {
	d.moveIn = append(d.moveIn, mi)
	mi.src.newSt.Messages = 0
}

// onlyMarkedDeleted reports whether the server's flags differ from the
// base only by \Deleted (T): another client's delete not yet expunged, or
// a pass of ours that stopped between its STORE and its UID EXPUNGE. For a
// message deleted locally that is no change to keep it for.
func onlyMarkedDeleted(base, server string) bool {
	return maildir.HasLetter(server, 'T') && !maildir.HasLetter(base, 'T') &&
		strings.ReplaceAll(server, "T", "") == base
}

// foundAgain looks again, before a delete goes to the server, for the
// file of pair p: it may have been moved to a folder scanned before the
// move (a full pass only: it rescans every folder). A folder that has its
// own message under the key holds a copy (cp), not this message moved.
func (m *matcher) foundAgain(j *job, p *state.Pair) bool {
	d, e, ok := m.s.findKey(m.jobs, p.Key)
	if !ok {
		return false
	}
	if d == j {
		return true // back in this folder: the next pass looks again
	}
	if taken, _ := m.s.db.KeyPairedIn(d.st.ID, p.Key); taken {
		return false
	}
	addMoveOut(j, moveOut{p: p, dst: d, e: e, placeholder: p.Placeholder})
	return true
}

// goneBoth decides a pair gone on both sides. When it was moved on both
// sides (to different folders, or after a crash between a MOVE and its
// record), its file and its server copy turn up elsewhere: the server's
// folder wins and the file follows it, rather than both becoming new
// messages on both sides.
func (m *matcher) goneBoth(j *job, p *state.Pair) {
	loc, elsewhere := m.byKey[p.Key]
	elsewhere = elsewhere && loc.j != j
	if m.targeted {
		if elsewhere || (p.MsgID != "" && m.newLocalElsewhere(identKey{p.MsgID, p.Size}, j)) {
			m.fail("moved here, expunged there")
			return
		}
		j.drop = append(j.drop, p)
		return
	}
	if elsewhere && p.MsgID != "" {
		if sm, d := m.takeServer(identKey{p.MsgID, p.Size}, nil); sm != nil {
			m.consumeKey(loc.j, p.Key)
			addMoveIn(d, moveIn{src: loc.j, p: p, msg: sm, e: loc.e})
			j.moved[p.UID] = true
			return
		}
	}
	j.drop = append(j.drop, p)
}

// goneOnServer decides what a pair expunged from folder j's server folder
// means.
func (m *matcher) goneOnServer(j *job, uid uint32) {
	p := j.pairs[uid]
	if p == nil || p.Key == "" {
		if p != nil {
			j.drop = append(j.drop, p)
		}
		return
	}
	e, ok := j.entries[p.Key]
	if !ok {
		return // gone on both sides: goneLocally decided
	}
	if p.MsgID != "" {
		k := identKey{p.MsgID, p.Size}
		if m.targeted {
			// Turned up as new in any folder, this one included: a
			// server move, which a full pass turns into a local rename
			// instead of a download.
			if len(m.newServer[k]) > 0 {
				m.fail("an expunged message turned up as new")
				return
			}
		} else if sm, d := m.takeServer(k, j); sm != nil {
			addMoveIn(d, moveIn{src: j, p: p, msg: sm, e: e})
			j.moved[p.UID] = true
			return
		}
	}
	if maildir.KnownOnly(e.Flags) != p.Flags && (m.targeted || !p.Placeholder) {
		if m.targeted {
			m.fail("changed here, expunged on the server")
			return
		}
		// Expunged on the server, changed here: keep it and upload it
		// again (not a placeholder: it has nothing of the message to
		// upload).
		j.drop = append(j.drop, p)
		j.newLocal = append(j.newLocal, &localMsg{e: e, size: p.Size, ident: p.MsgID, date: fileTime(j.lf.FilePath(e))})
		return
	}
	j.localDeletes = append(j.localDeletes, p)
}

// sameFolder pairs the unknown files and unpaired messages of folder j that
// are the same message; what is left is new on its side.
func (m *matcher) sameFolder(j *job) {
	var restLocal []*localMsg
	for _, l := range j.newLocal {
		if m.usedLocal[l] {
			continue
		}
		if l.ident != "" {
			sm := m.takeSame(identKey{l.ident, l.size}, j)
			if sm == nil && l.altSize > 0 {
				sm = m.takeSame(identKey{l.ident, l.altSize}, j)
			}
			if sm != nil {
				if m.targeted {
					m.fail("a new file is a message the server got since the last pass")
					return
				}
				m.usedLocal[l] = true
				j.pairUp = append(j.pairUp, pairUp{l: l, m: sm})
				continue
			}
		}
		if l.placeholder {
			if m.targeted {
				m.fail("a placeholder of a message not paired")
				return
			}
			// A placeholder of nothing this pass knows: never
			// uploaded (it is not the message).
			m.s.warn("folder %q: %s is a mailmirror placeholder of a message not found on the server; not uploaded", j.local, l.e.Name)
			continue
		}
		if m.targeted && l.ident != "" && rewritten(j, l) {
			m.fail("a message rewritten in place")
			return
		}
		m.copyOf(j, l)
		restLocal = append(restLocal, l)
	}
	j.newLocal = restLocal
	var restServer []*serverMsg
	for _, sm := range j.newServer {
		if !m.usedServer[sm] {
			restServer = append(restServer, sm)
		}
	}
	j.newServer = restServer
}

// copyOf decides whether new file l, to be uploaded, is rather a copy of a
// message paired in the account (mutt's save writes the copy at once and
// deletes the original later): its bytes are that message's file's, so
// the server copies the message instead of an upload (copyInstead). A dry
// run does not look (it describes an upload).
func (m *matcher) copyOf(j *job, l *localMsg) {
	if m.s.opts.DryRun {
		return
	}
	src, ok, err := j.copyOf(l)
	if err != nil || !ok {
		return // uploaded: the server gets the message either way
	}
	if j.copies == nil {
		j.copies = map[*localMsg]copySource{}
	}
	j.copies[l] = src
}

// rewritten reports whether new file l has the identity of a message
// deleted in its folder: an edit in place (a full pass deletes the old
// message and uploads the new one; a targeted pass leaves that to it).
func rewritten(j *job, l *localMsg) bool {
	for _, ps := range [][]*state.Pair{j.serverDeletes, j.drop} {
		for _, p := range ps {
			if p.MsgID == l.ident {
				return true
			}
		}
	}
	return false
}

// merge3 merges flag letters changed on either side against the base: a
// change on one side wins; when both sides changed a flag differently, it
// stays set.
func merge3(base, local, server string) string {
	var out []byte
	for i := 0; i < len(maildir.KnownLetters); i++ {
		l := maildir.KnownLetters[i]
		b, lo, se := has(base, l), has(local, l), has(server, l)
		var v bool
		switch {
		case lo == se:
			v = lo
		case lo != b && se == b:
			v = lo
		case se != b && lo == b:
			v = se
		default:
			v = true
		}
		if v {
			out = append(out, l)
		}
	}
	return string(out)
}

func has(s string, l byte) bool { return maildir.HasLetter(s, l) }

// union is the flag letters set on either side (pairing without a base).
func union(a, b string) string { return maildir.NormalizeLetters(a + b) }

// findKey scans every folder of the pass again for a Maildir key (once per
// pass, on the first call) and returns where it is now.
func (s *Syncer) findKey(jobs []*job, key string) (*job, maildir.Entry, bool) {
	if s.rescan == nil {
		s.rescan = map[string]located{}
		for _, j := range jobs {
			ents, err := j.lf.Scan()
			if err != nil {
				continue
			}
			for _, e := range ents {
				s.rescan[e.Key] = located{j, e}
			}
		}
	}
	loc, ok := s.rescan[key]
	return loc.j, loc.e, ok
}

// located is where a Maildir key was found.
type located struct {
	j *job
	e maildir.Entry
}
