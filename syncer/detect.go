package syncer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailmirror/mailmirror/maildir"
	"github.com/mailmirror/mailmirror/state"
)

// serverMsg is a server message not yet paired with a local file.
type serverMsg struct {
	uid   uint32
	size  int64
	date  time.Time
	flags string // Maildir letters of its mapped flags
	ident string
	// identLater: fetchMeta left the header out (see job.bodyIdent);
	// ident is taken from the body as it is downloaded.
	identLater bool
}

// localMsg is a local file not yet paired with a server message.
type localMsg struct {
	e       maildir.Entry
	size    int64 // size with CRLF line ends, as on the server
	ident   string
	date    time.Time
	base    string // flags agreed before a UIDVALIDITY change
	hasBase bool
	// altSize is the size without the X-TUID header mbsync adds to the
	// files it downloads (0 when there is none): such a file matches the
	// server message by either size.
	altSize int64
	// placeholder: the file is a placeholder (X-Mailmirror-Placeholder);
	// size is then the server message's size, from its marker. It is
	// never uploaded, only matched as the message's stand-in.
	placeholder bool
}

// job is one folder's part of a pass.
type job struct {
	s      *Syncer
	local  string
	remote string
	status *imap.StatusData
	st     state.Folder
	lf     *maildir.Folder

	quiet bool // nothing changed on either side
	// noServer: a dry run's folder that a real pass would first create on
	// the server (nothing to look at there).
	noServer bool
	// refused says why the mass-delete guard leaves the folder alone
	// this pass (it is then quiet too).
	refused string
	newSt   state.Folder
	reset   bool // UIDVALIDITY changed
	pairs   map[uint32]*state.Pair
	entries map[string]maildir.Entry
	// server side
	serverFlags map[uint32]string
	serverGone  map[uint32]bool
	newServer   []*serverMsg
	// local side
	newLocal  []*localMsg
	localGone []*state.Pair

	// decided by matchAcross
	drop          []*state.Pair
	serverDeletes []*state.Pair
	localDeletes  []*state.Pair
	restore       []*state.Pair
	moveOut       []moveOut
	moveIn        []moveIn
	pairUp        []pairUp
	moved         map[uint32]bool // pairs leaving this folder

	// decided by the matcher too: new files the server copies instead of
	// an upload (copyInstead)
	copies map[*localMsg]copySource

	old int // server messages left out by max_age

	// scope: how much of the folder the job knows (types.go); pairs and
	// entries are complete only in scopeFull.
	scope scope

	// redial replaces a broken connection during detect (see
	// fetchMetaResuming); nil: no retry.
	redial func(cause error) (*Conn, error)
	failed bool // detect failed: the pass leaves the folder out

	// decided by holdOneWay: pairs kept without their file (Key "")
	tombstones []*state.Pair

	kw jobKeywords // the keywords detect fetched with the flags (tags.go)

	// noPairs: no folder of the pass has a pair (deferIdentities).
	// bodyIdent, decided by detectServer: besides, this folder has no
	// file, so nothing can match its new server messages: fetchMeta
	// leaves their header out, and each one's identity is read from its
	// body as it is downloaded.
	noPairs, bodyIdent bool
}

type moveOut struct {
	p   *state.Pair
	dst *job
	e   maildir.Entry // the file, now in dst
	// placeholder: the file is a placeholder (max_size); so is the pair
	// in dst.
	placeholder bool
}

type moveIn struct {
	src *job
	p   *state.Pair
	msg *serverMsg
	e   maildir.Entry // the file, still in src
}

type pairUp struct {
	l *localMsg
	m *serverMsg
}

func (j *job) weight() int64 {
	if j.status != nil && j.status.NumMessages != nil {
		return int64(*j.status.NumMessages)
	}
	return int64(len(j.newServer))
}

// localStamp fingerprints new/ and cur/ by their modification times. A
// directory modified within the last second gives "" (not trustworthy on
// file systems with coarse timestamps).
func localStamp(f *maildir.Folder) string {
	out := ""
	for _, sub := range []string{"new", "cur"} {
		st, err := os.Stat(filepath.Join(f.Path, sub))
		if err != nil {
			return ""
		}
		if time.Since(st.ModTime()) < time.Second {
			return ""
		}
		out += strconv.FormatInt(st.ModTime().UnixNano(), 36) + "/"
	}
	return out
}

// serverUnchanged reports whether the folder's STATUS proves that nothing
// changed on the server since the last pass. Without a HIGHESTMODSEQ (no
// CONDSTORE) the counters cannot show a flag change, so only an empty
// folder is proven unchanged; the others have their flags fetched.
func (j *job) serverUnchanged() bool {
	st, status := j.st, j.status
	if status == nil || st.UIDValidity == 0 || status.NumMessages == nil {
		return false
	}
	if status.UIDValidity != st.UIDValidity || uint32(status.UIDNext) != st.UIDNext || *status.NumMessages != st.Messages {
		return false
	}
	if status.HighestModSeq == 0 {
		return st.Messages == 0
	}
	return status.HighestModSeq == st.HighestModSeq
}

// detect finds what changed on both sides since the last pass.
func (j *job) detect(ctx context.Context, lc *lazyConn) error {
	stamp := localStamp(j.lf)
	serverSame := j.serverUnchanged()
	if serverSame && stamp != "" && stamp == j.st.LocalStamp {
		j.quiet = true
		return nil
	}
	if ok, err := j.detectServerOnly(lc, stamp); ok || err != nil {
		return err
	}
	listed := j.listLocal() // the folder is listed while the pairs are read
	pairs, err := j.s.db.Pairs(j.st.ID)
	if err != nil {
		return err
	}
	j.pairs = make(map[uint32]*state.Pair, len(pairs))
	byKey := make(map[string]*state.Pair, len(pairs))
	for i := range pairs {
		p := &pairs[i]
		j.pairs[p.UID] = p
		if p.Key != "" {
			byKey[p.Key] = p
		}
	}
	ents, err := listed()
	if err != nil {
		return err
	}
	if err := j.compareLocal(ents, byKey); err != nil {
		return err
	}
	j.newSt = j.st
	j.newSt.LocalStamp = stamp
	if serverSame && len(j.localGone) == 0 && len(j.newLocal) == 0 && !j.localFlagsChanged() {
		j.quiet = true
		if stamp != j.st.LocalStamp {
			return j.s.record(func(tx *state.Tx) error { return tx.UpdateFolder(j.newSt) })
		}
		return nil
	}
	if j.noServer {
		j.serverFlags, j.serverGone = map[uint32]string{}, map[uint32]bool{}
		return nil
	}
	c, err := lc.get()
	if err != nil {
		return err
	}
	j.redial = j.redialFor(lc)
	return j.detectServer(c)
}

// listLocal lists the folder in the background (a directory of thousands
// of files takes milliseconds, as long as reading its pairs); the returned
// function waits for the listing.
func (j *job) listLocal() func() ([]maildir.Entry, error) {
	type listing struct {
		ents []maildir.Entry
		err  error
	}
	done := make(chan listing, 1)
	go func() {
		ents, err := j.lf.Scan()
		done <- listing{ents, err}
	}()
	return func() ([]maildir.Entry, error) {
		l := <-done
		return l.ents, l.err
	}
}

// scanLocal reads the folder and compares it with the pairs.
func (j *job) scanLocal(byKey map[string]*state.Pair) error {
	ents, err := j.lf.Scan()
	if err != nil {
		return err
	}
	return j.compareLocal(ents, byKey)
}

// compareLocal compares the folder's files (ents) with its pairs: files
// without a pair are read as new local messages, pairs without a file are
// gone locally.
func (j *job) compareLocal(ents []maildir.Entry, byKey map[string]*state.Pair) error {
	j.entries = make(map[string]maildir.Entry, len(ents))
	unknown := 0
	for _, e := range ents {
		if _, ok := byKey[e.Key]; !ok {
			unknown++
		}
	}
	read := 0
	progress := func() {
		read++
		if p := j.s.opts.Progress; p != nil && unknown >= 100 && (read%50 == 0 || read == unknown) {
			p(Progress{Folder: j.local, Direction: "read", Done: read, Total: unknown})
		}
	}
	for _, e := range ents {
		if prev, dup := j.entries[e.Key]; dup {
			// Two files with one key (a tool copied without renaming):
			// keep the first, treat the other as a new message.
			_ = prev
			lm, err := j.readLocal(e)
			if err == nil {
				j.newLocal = append(j.newLocal, lm)
			}
			continue
		}
		j.entries[e.Key] = e
		if _, ok := byKey[e.Key]; !ok {
			progress()
			lm, err := j.readLocal(e)
			if err != nil {
				j.s.warn("folder %q: cannot read %s: %v; skipped", j.local, e.Name, err)
				continue
			}
			j.newLocal = append(j.newLocal, lm)
		}
	}
	for _, p := range j.pairs {
		if p.Key == "" {
			continue
		}
		if _, ok := j.entries[p.Key]; !ok {
			j.localGone = append(j.localGone, p)
		}
	}
	return nil
}

func (j *job) localFlagsChanged() bool {
	for _, p := range j.pairs {
		if e, ok := j.entries[p.Key]; ok && maildir.KnownOnly(e.Flags) != p.Flags {
			return true
		}
	}
	return false
}

// readLocal reads what identifies a local file: its header's identity and
// its size with CRLF line ends.
func (j *job) readLocal(e maildir.Entry) (*localMsg, error) {
	hdr, size, mtime, err := readLocalFile(j.lf, e)
	if err != nil {
		return nil, err
	}
	lm := &localMsg{e: e, size: size, ident: identity(hdr), date: mtime}
	if n, ok := placeholderSize(hdr); ok {
		lm.placeholder, lm.size = true, n
	} else if n := tuidLength(hdr); n > 0 {
		lm.altSize = size - n
	}
	return lm, nil
}

// detectServer selects the folder and finds flag changes, expunges and new
// messages.
func (j *job) detectServer(c *Conn) error {
	sel, err := c.Reselect(j.remote) // fresh counters: a pooled connection may hold an earlier pass's SELECT
	if err != nil {
		return err
	}
	st := j.st
	j.newSt.UIDValidity = sel.UIDValidity
	j.newSt.UIDNext = uint32(sel.UIDNext)
	j.newSt.Messages = sel.NumMessages
	j.newSt.HighestModSeq = sel.HighestModSeq
	j.serverFlags = map[uint32]string{}
	j.serverGone = map[uint32]bool{}

	if st.UIDValidity != 0 && sel.UIDValidity != st.UIDValidity {
		return j.detectReset(c, sel)
	}
	if sel.NumMessages == 0 {
		for uid := range j.pairs {
			j.serverGone[uid] = true
		}
		j.newSt.OldMessages = 0
		return nil
	}
	from := st.UIDNext
	if from == 0 {
		from = 1
	}
	// Pairs at or above the stored UIDNEXT: downloaded by a pass that a
	// broken link cut short, or uploaded or moved here by the last pass.
	// Their flags come with the older ones'; their identity is known.
	above := map[uint32]bool{}
	for uid := range j.pairs {
		if uid >= from {
			above[uid] = true
		}
	}
	full, err := j.detectServerFlags(c, sel, from, above)
	if err != nil {
		return err
	}
	// New messages. Their identity serves only to match them with what
	// the pass finds elsewhere; with nothing to match against, it comes
	// with their bodies.
	j.bodyIdent = j.noPairs && len(j.pairs) == 0 && len(j.newLocal) == 0
	newUIDs := map[uint32]bool{}
	if sel.UIDNext == 0 || uint32(sel.UIDNext) > from {
		var set imap.UIDSet
		set.AddRange(imap.UID(from), 0)
		if c, err = j.fetchMetaResuming(c, uidsMinus(set, above), func(m *serverMsg) bool { return m.uid >= from }, newUIDs); err != nil {
			return err
		}
	}
	if j.newSt.UIDNext == 0 {
		j.newSt.UIDNext = from
		for uid := range newUIDs {
			if uid >= j.newSt.UIDNext {
				j.newSt.UIDNext = uid + 1
			}
		}
	}
	if err := j.detectServerGone(c, sel, newUIDs, full); err != nil {
		return err
	}
	j.newSt.OldMessages = uint32(j.old)
	j.checkAccounted(sel.NumMessages)
	return nil
}

// detectServerFlags fetches the flags of the known messages (below from,
// and the pairs above it): only those changed since the stored
// HIGHESTMODSEQ with CONDSTORE, nothing when it did not move. Without
// CONDSTORE every UID answers, and full is the set of them (the UIDs the
// server still has); otherwise full is nil.
func (j *job) detectServerFlags(c *Conn, sel *imap.SelectData, from uint32, above map[uint32]bool) (full map[uint32]bool, err error) {
	if len(j.pairs) == 0 || (from <= 1 && len(above) == 0) {
		return nil, nil
	}
	st := j.st
	opts := &imap.FetchOptions{UID: true, Flags: true}
	if c.CondStore() && st.HighestModSeq > 0 {
		if sel.HighestModSeq == st.HighestModSeq {
			return nil, nil
		}
		opts.ChangedSince = st.HighestModSeq
	} else {
		full = map[uint32]bool{}
	}
	var set imap.UIDSet
	if from > 1 {
		set.AddRange(1, imap.UID(from-1))
	}
	for uid := range above {
		set.AddNum(imap.UID(uid))
	}
	err = each(c, c.Fetch(set, opts), func(m *imapclient.FetchMessageBuffer) {
		uid := uint32(m.UID)
		if full != nil {
			full[uid] = true
		}
		if _, ok := j.pairs[uid]; ok {
			j.serverFlags[uid] = maildir.FlagsFromIMAP(m.Flags)
		}
		j.sawKeywords(uid, m.Flags) // tags.go
	})
	if err != nil {
		return nil, fmt.Errorf("fetch flags: %w", err)
	}
	return full, nil
}

// detectServerGone finds the expunged messages. full is the server's UID
// set when the flag fetch gave it; otherwise the message count is checked
// against pairs + new + the old messages max_age leaves out, and only
// when it disagrees does UID SEARCH ALL give the set. Server UIDs neither
// paired nor new are counted as old or fetched as new.
func (j *job) detectServerGone(c *Conn, sel *imap.SelectData, newUIDs, full map[uint32]bool) error {
	st := j.st
	if full == nil {
		// The old messages max_age leaves out count too.
		want := uint32(len(j.pairs)) + st.OldMessages
		for uid := range newUIDs {
			if _, paired := j.pairs[uid]; !paired {
				want++
			}
		}
		if sel.NumMessages == want {
			j.old += int(st.OldMessages)
			return nil
		}
		all, err := searchAll(c, sel.NumMessages)
		if err != nil {
			return err
		}
		full = all
	}
	var missing imap.UIDSet
	for uid := range full {
		if _, paired := j.pairs[uid]; !paired && !newUIDs[uid] {
			missing.AddNum(imap.UID(uid))
		}
	}
	for uid := range newUIDs {
		full[uid] = true
	}
	for uid := range j.pairs {
		if !full[uid] {
			j.serverGone[uid] = true
		}
	}
	missing, err := j.countOld(c, missing)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		if _, err := j.fetchMetaResuming(c, missing, nil, newUIDs); err != nil {
			return err
		}
	}
	return nil
}

// countOld counts, with max_age, the messages of set that it leaves out,
// by their INTERNALDATE alone (a few bytes each, not their identity), and
// returns the others.
func (j *job) countOld(c *Conn, set imap.UIDSet) (imap.UIDSet, error) {
	if j.s.acct.MaxAgeFor(j.local) <= 0 || len(set) == 0 {
		return set, nil
	}
	var rest imap.UIDSet
	err := each(c, c.Fetch(set, &imap.FetchOptions{UID: true, InternalDate: true}), func(m *imapclient.FetchMessageBuffer) {
		switch {
		case m.UID == 0:
		case j.tooOld(&serverMsg{uid: uint32(m.UID), date: m.InternalDate}):
			j.old++
		default:
			rest.AddNum(m.UID)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("fetch dates: %w", err)
	}
	return rest, nil
}

// checkAccounted makes sure every message the server counts is either
// paired or about to be fetched. When some are not (the server left them
// out of its FETCH answers, or described them without a valid UID), the
// folder is not recorded as handled, so that the next pass looks again.
func (j *job) checkAccounted(exists uint32) {
	known := len(j.newServer) + j.old
	for uid := range j.pairs {
		if !j.serverGone[uid] {
			known++
		}
	}
	if uint32(known) < exists {
		j.newSt.Messages = 0
		j.s.warn("folder %q: the server counts %d messages but described only %d; will look again", j.local, exists, known)
	}
}

// detectReset handles a changed UIDVALIDITY: every old pair becomes a local
// candidate to re-pair by identity and size, and every server message is
// listed.
func (j *job) detectReset(c *Conn, sel *imap.SelectData) error {
	j.reset = true
	old := j.pairs
	j.pairs = map[uint32]*state.Pair{}
	j.localGone = nil
	for _, p := range old {
		e, ok := j.entries[p.Key]
		if !ok || p.Key == "" {
			continue
		}
		j.newLocal = append(j.newLocal, &localMsg{e: e, size: p.Size, ident: p.MsgID, base: p.Flags, hasBase: true, date: fileTime(j.lf.FilePath(e)), placeholder: p.Placeholder})
	}
	if sel.NumMessages == 0 {
		return nil
	}
	var set imap.UIDSet
	set.AddRange(1, 0)
	_, err := j.fetchMetaResuming(c, set, nil, map[uint32]bool{})
	j.newSt.OldMessages = uint32(j.old)
	return err
}

func fileTime(p string) time.Time {
	st, err := os.Stat(p)
	if err != nil {
		return time.Time{}
	}
	return st.ModTime()
}

// deferIdentities lets the folders of a pass in which no folder has a
// pair yet (a first sync) take the identity of their new messages from
// the downloaded bodies instead of a FETCH of header fields per message.
// The matcher needs the identity of a new server message only to find it
// as a pair gone elsewhere (a move; there is no pair) or as an unknown
// file of the same folder (detectServer checks that the folder has none);
// the pair records it, taken from the body as readLocal takes it from
// the file. It costs nothing in a pass where every folder was synced
// before (UIDNEXT recorded).
func (s *Syncer) deferIdentities(jobs []*job) error {
	first := false
	for _, j := range jobs {
		first = first || j.st.UIDNext == 0
	}
	if !first {
		return nil
	}
	for _, j := range jobs {
		if j.st.ID == 0 {
			continue
		}
		n, err := s.db.PairCount(j.st.ID)
		if err != nil || n > 0 {
			return err
		}
	}
	for _, j := range jobs {
		j.noPairs = true
	}
	return nil
}

var identitySection = &imap.FetchItemBodySection{
	Specifier:    imap.PartSpecifierHeader,
	HeaderFields: identityFields,
	Peek:         true,
}

// fetchMeta fetches what identifies messages (UID, flags, date, size, a few
// header fields; not those with bodyIdent) and adds the unpaired ones to
// newServer.
func (j *job) fetchMeta(c *Conn, set imap.UIDSet, keep func(*serverMsg) bool, seen map[uint32]bool) error {
	opts := &imap.FetchOptions{
		UID: true, Flags: true, InternalDate: true, RFC822Size: true,
		BodySection: []*imap.FetchItemBodySection{identitySection},
	}
	if j.bodyIdent {
		opts.BodySection = nil
	}
	err := each(c, c.Fetch(set, opts), func(m *imapclient.FetchMessageBuffer) {
		if m.UID == 0 {
			return
		}
		j.sawKeywords(uint32(m.UID), m.Flags) // tags.go
		sm := &serverMsg{
			uid:        uint32(m.UID),
			size:       m.RFC822Size,
			date:       m.InternalDate,
			flags:      maildir.FlagsFromIMAP(m.Flags),
			ident:      identity(m.FindBodySection(identitySection)),
			identLater: j.bodyIdent,
		}
		if keep != nil && !keep(sm) {
			return
		}
		if seen[sm.uid] {
			return
		}
		seen[sm.uid] = true
		if _, paired := j.pairs[sm.uid]; !paired && j.tooOld(sm) {
			// max_age: left on the server, untouched, never paired
			// (so its absence here is never a delete).
			j.old++
			return
		}
		if _, paired := j.pairs[sm.uid]; paired {
			// Paired at or above the stored UIDNEXT (uploaded or moved
			// here by the last pass): its flags may have changed since.
			if j.serverFlags != nil {
				j.serverFlags[sm.uid] = sm.flags
			}
			return
		}
		j.newServer = append(j.newServer, sm)
	})
	if err != nil {
		return fmt.Errorf("fetch new messages: %w", err)
	}
	return nil
}

// maxHeaderLiteral bounds the header fields kept per message: a server
// sending more (broken or hostile) cannot make us buffer without limit.
const maxHeaderLiteral = 64 << 10

// each runs fn for every message of a FETCH, buffering one message at a
// time (body literals at most maxHeaderLiteral bytes, the rest discarded),
// and always drains the command. A message is whole once the next one
// starts or the command ended with the server's answer: when a broken
// connection ends the command, the last message may lack items, and fn
// never sees it.
func each(c *Conn, cmd *imapclient.FetchCommand, fn func(*imapclient.FetchMessageBuffer)) error {
	defer cmd.Close()
	// On a broken literal, close the client before the command is
	// drained (go-imap's reader would race with the drain).
	broken := func(err error) error {
		c.Close()
		return err
	}
	var held *imapclient.FetchMessageBuffer
	for {
		msg := cmd.Next()
		if msg == nil {
			break
		}
		if held != nil {
			fn(held)
		}
		buf := &imapclient.FetchMessageBuffer{SeqNum: msg.SeqNum}
		for {
			item := msg.Next()
			if item == nil {
				break
			}
			switch it := item.(type) {
			case imapclient.FetchItemDataUID:
				buf.UID = it.UID
			case imapclient.FetchItemDataFlags:
				buf.Flags = it.Flags
			case imapclient.FetchItemDataInternalDate:
				buf.InternalDate = it.Time
			case imapclient.FetchItemDataRFC822Size:
				buf.RFC822Size = it.Size
			case imapclient.FetchItemDataModSeq:
				buf.ModSeq = it.ModSeq
			case imapclient.FetchItemDataBodySection:
				if it.Literal == nil {
					continue
				}
				b, err := io.ReadAll(io.LimitReader(it.Literal, maxHeaderLiteral))
				if err != nil {
					return broken(err)
				}
				if _, err := io.Copy(io.Discard, it.Literal); err != nil {
					return broken(err)
				}
				buf.BodySection = append(buf.BodySection, imapclient.FetchBodySectionBuffer{Section: it.Section, Bytes: b})
			case imapclient.FetchItemDataBinarySection:
				if it.Literal != nil {
					if _, err := io.Copy(io.Discard, it.Literal); err != nil {
						return broken(err)
					}
				}
			}
		}
		held = buf
	}
	err := cmd.Close()
	var refused *imap.Error // the server's NO or BAD: every reply parsed whole
	if held != nil && (err == nil || errors.As(err, &refused)) {
		fn(held)
	}
	return err
}

// searchAll returns every UID of the selected folder (ESEARCH when the
// server has it, which keeps the answer compact).
// max bounds the answer: a server claiming far more UIDs than messages is
// broken or hostile, and must not make us allocate without limit.
func searchAll(c *Conn, max uint32) (map[uint32]bool, error) {
	return searchUIDs(c, &imap.SearchCriteria{}, max)
}

// searchUIDs returns the UIDs of the selected folder's messages matching
// criteria, bounded like searchAll.
func searchUIDs(c *Conn, criteria *imap.SearchCriteria, max uint32) (map[uint32]bool, error) {
	limit := uint64(max)*2 + 1000
	var opts *imap.SearchOptions
	if c.Caps().Has(imap.CapESearch) {
		opts = &imap.SearchOptions{ReturnAll: true}
	}
	data, err := c.UIDSearch(criteria, opts).Wait()
	if err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	out := map[uint32]bool{}
	set, ok := data.All.(imap.UIDSet)
	if !ok || set.Dynamic() {
		if data.All == nil {
			return out, nil
		}
		return nil, fmt.Errorf("search: the server sent an invalid UID set")
	}
	var n uint64
	for _, r := range set {
		if r.Stop < r.Start || r.Start == 0 {
			return nil, fmt.Errorf("search: the server sent an invalid UID range %d:%d", r.Start, r.Stop)
		}
		n += uint64(r.Stop-r.Start) + 1
		if n > limit {
			return nil, fmt.Errorf("search: the server listed more than %d UIDs for a folder of %d messages", limit, max)
		}
		for u := r.Start; u <= r.Stop; u++ {
			out[uint32(u)] = true
			if u == ^imap.UID(0) {
				break
			}
		}
	}
	return out, nil
}

// tooOld reports whether max_age (the folder's policy's, else the
// account's) leaves a server message out.
func (j *job) tooOld(m *serverMsg) bool {
	age := j.s.acct.MaxAgeFor(j.local)
	return age > 0 && !m.date.IsZero() && m.date.Before(time.Now().Add(-age))
}
