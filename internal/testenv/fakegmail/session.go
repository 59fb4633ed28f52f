package fakegmail

import (
	"bytes"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
)

// session is one client connection.
type session struct {
	srv      *Server
	s        *Store
	authed   bool
	selected *folder
	readOnly bool
	// seen are the UIDs of the selected folder as this session knows
	// them, in sequence order (expunges are told at the next command).
	seen []imap.UID

	// CONDSTORE (condstore.go), guarded by csMu: the CHANGEDSINCE of the
	// FETCH being run, the HIGHESTMODSEQ of the folder selected and of the
	// folders of the last STATUS or LIST.
	csMu         sync.Mutex
	changedSince uint64
	selModSeq    uint64
	statusMS     map[string]uint64
}

func (ss *session) setChangedSince(n uint64) {
	ss.csMu.Lock()
	ss.changedSince = n
	ss.csMu.Unlock()
}

func (ss *session) since() uint64 {
	ss.csMu.Lock()
	defer ss.csMu.Unlock()
	return ss.changedSince
}

func (ss *session) selectedModSeq() uint64 {
	ss.csMu.Lock()
	defer ss.csMu.Unlock()
	return ss.selModSeq
}

func (ss *session) statusModSeq(name string) uint64 {
	ss.csMu.Lock()
	defer ss.csMu.Unlock()
	return ss.statusMS[name]
}

// noteModSeq records a folder's HIGHESTMODSEQ for a STATUS response.
func (ss *session) noteModSeq(f *folder) {
	ss.csMu.Lock()
	defer ss.csMu.Unlock()
	if ss.statusMS == nil {
		ss.statusMS = map[string]uint64{}
	}
	ss.statusMS[f.name] = f.modSeq
}

var _ imapserver.SessionMove = (*session)(nil)
var _ imapserver.SessionNamespace = (*session)(nil)

func no(text string) error {
	return &imap.Error{Type: imap.StatusResponseTypeNo, Text: text}
}

func (ss *session) Close() error { return nil }

func (ss *session) Login(username, password string) error {
	if username != ss.srv.User || password != ss.srv.Password {
		return imapserver.ErrAuthFailed
	}
	ss.authed = true
	return nil
}

func (ss *session) Namespace() (*imap.NamespaceData, error) {
	return &imap.NamespaceData{Personal: []imap.NamespaceDescriptor{{Prefix: "", Delim: '/'}}}, nil
}

func (ss *session) Select(name string, options *imap.SelectOptions) (*imap.SelectData, error) {
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	f, err := ss.s.folder(name)
	if err != nil {
		return nil, err
	}
	ss.selected, ss.readOnly = f, options != nil && options.ReadOnly
	ss.s.selects[f.name]++
	ss.csMu.Lock()
	ss.selModSeq = f.modSeq
	ss.csMu.Unlock()
	ss.seen = ss.seen[:0]
	for _, e := range f.entries {
		ss.seen = append(ss.seen, e.uid)
	}
	return &imap.SelectData{
		Flags:          []imap.Flag{imap.FlagSeen, imap.FlagAnswered, imap.FlagFlagged, imap.FlagDeleted, imap.FlagDraft},
		PermanentFlags: []imap.Flag{imap.FlagSeen, imap.FlagAnswered, imap.FlagFlagged, imap.FlagDeleted, imap.FlagDraft, imap.FlagWildcard},
		NumMessages:    uint32(len(f.entries)),
		UIDNext:        f.uidNext,
		UIDValidity:    f.uidValidity,
	}, nil
}

func (ss *session) Unselect() error {
	ss.selected, ss.seen = nil, nil
	return nil
}

func (ss *session) Create(name string, _ *imap.CreateOptions) error {
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	name = strings.TrimSuffix(name, "/")
	if _, err := ss.s.folder(name); err == nil {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAlreadyExists, Text: "folder exists"}
	}
	if name == "" || strings.HasPrefix(name, "[Gmail]") {
		return no("cannot create that folder")
	}
	ss.s.create(name, "")
	return nil
}

func (ss *session) Delete(name string) error {
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	f, err := ss.s.folder(name)
	if err != nil {
		return err
	}
	if f.attr != "" || f.name == Inbox {
		return no("system folders cannot be deleted")
	}
	delete(ss.s.folders, f.name) // the messages keep their other labels
	return nil
}

func (ss *session) Rename(old, name string, _ *imap.RenameOptions) error {
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	f, err := ss.s.folder(old)
	if err != nil {
		return err
	}
	if f.attr != "" || f.name == Inbox {
		return no("system folders cannot be renamed")
	}
	if _, err := ss.s.folder(name); err == nil {
		return no("target exists")
	}
	delete(ss.s.folders, f.name)
	f.name = name
	ss.s.folders[name] = f
	return nil
}

func (ss *session) Subscribe(string) error   { return nil }
func (ss *session) Unsubscribe(string) error { return nil }

func (ss *session) List(w *imapserver.ListWriter, ref string, patterns []string, options *imap.ListOptions) error {
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	names := []string{"[Gmail]"}
	for n := range ss.s.folders {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		match := false
		for _, p := range patterns {
			if imapserver.MatchList(n, '/', ref, p) {
				match = true
			}
		}
		if !match {
			continue
		}
		data := &imap.ListData{Delim: '/', Mailbox: n}
		if n == "[Gmail]" {
			data.Attrs = []imap.MailboxAttr{imap.MailboxAttrNoSelect, imap.MailboxAttrHasChildren}
		} else {
			f := ss.s.folders[n]
			data.Attrs = []imap.MailboxAttr{imap.MailboxAttrHasNoChildren}
			if f.attr != "" {
				data.Attrs = append(data.Attrs, f.attr)
			}
			if options != nil && options.ReturnStatus != nil {
				data.Status = f.status(options.ReturnStatus)
				ss.noteModSeq(f)
			}
		}
		if err := w.WriteList(data); err != nil {
			return err
		}
	}
	return nil
}

func (f *folder) status(opts *imap.StatusOptions) *imap.StatusData {
	st := &imap.StatusData{Mailbox: f.name}
	if opts.NumMessages {
		n := uint32(len(f.entries))
		st.NumMessages = &n
	}
	if opts.UIDNext {
		st.UIDNext = f.uidNext
	}
	if opts.UIDValidity {
		st.UIDValidity = f.uidValidity
	}
	if opts.NumUnseen {
		var n uint32
		for _, e := range f.entries {
			if !e.msg.flags[imap.FlagSeen] {
				n++
			}
		}
		st.NumUnseen = &n
	}
	if opts.Size {
		var n int64
		for _, e := range f.entries {
			n += int64(len(e.msg.raw))
		}
		st.Size = &n
	}
	return st
}

func (ss *session) Status(name string, options *imap.StatusOptions) (*imap.StatusData, error) {
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	f, err := ss.s.folder(name)
	if err != nil {
		return nil, err
	}
	ss.noteModSeq(f)
	return f.status(options), nil
}

func (ss *session) Append(name string, r imap.LiteralReader, options *imap.AppendOptions) (*imap.AppendData, error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	f, err := ss.s.folder(name)
	if err != nil {
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTryCreate, Text: "no such folder"}
	}
	var flags []imap.Flag
	if options != nil {
		flags = options.Flags
	}
	var e *entry
	if options != nil {
		e = ss.s.deliver(f, raw, flags, options.Time)
	} else {
		e = ss.s.deliver(f, raw, flags, timeZero)
	}
	return &imap.AppendData{UID: e.uid, UIDValidity: f.uidValidity}, nil
}

// flushExpunged forgets the seen UIDs no longer in the selected folder,
// telling each with write (a sequence number, in order).
func (ss *session) flushExpunged(write func(seq uint32) error) error {
	if ss.selected == nil {
		return nil
	}
	out := ss.seen[:0]
	var err error
	for _, uid := range ss.seen {
		if ss.selected.byUID(uid) == nil && err == nil {
			err = write(uint32(len(out) + 1))
			continue
		}
		out = append(out, uid)
	}
	ss.seen = out
	return err
}

func (ss *session) Poll(w *imapserver.UpdateWriter, allowExpunge bool) error {
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	f := ss.selected
	if f == nil || ss.s.folders[f.name] != f {
		return nil
	}
	if allowExpunge {
		if err := ss.flushExpunged(w.WriteExpunge); err != nil {
			return err
		}
	}
	var last imap.UID
	if len(ss.seen) > 0 {
		last = ss.seen[len(ss.seen)-1]
	}
	grew := false
	for _, e := range f.entries {
		if e.uid > last {
			ss.seen = append(ss.seen, e.uid)
			grew = true
		}
	}
	if grew {
		return w.WriteNumMessages(uint32(len(ss.seen)))
	}
	return nil
}

func (ss *session) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	if err := ss.Poll(w, true); err != nil {
		return err
	}
	<-stop
	return nil
}

// target is one message a command names: its sequence number in this
// session and its entry.
type target struct {
	seq uint32
	e   *entry
}

// targets resolves a sequence or UID set in the selected folder (locked).
func (ss *session) targets(numSet imap.NumSet) []target {
	var out []target
	var max imap.UID
	if len(ss.seen) > 0 {
		max = ss.seen[len(ss.seen)-1]
	}
	for i, uid := range ss.seen {
		e := ss.selected.byUID(uid)
		if e == nil {
			continue
		}
		seq := uint32(i + 1)
		switch set := numSet.(type) {
		case imap.SeqSet:
			if inRanges(seq, uint32(len(ss.seen)), seqRanges(set)) {
				out = append(out, target{seq, e})
			}
		case imap.UIDSet:
			if inRanges(uint32(uid), uint32(max), uidRanges(set)) {
				out = append(out, target{seq, e})
			}
		}
	}
	return out
}

func seqRanges(set imap.SeqSet) [][2]uint32 {
	var out [][2]uint32
	for _, r := range set {
		out = append(out, [2]uint32{r.Start, r.Stop})
	}
	return out
}

func uidRanges(set imap.UIDSet) [][2]uint32 {
	var out [][2]uint32
	for _, r := range set {
		out = append(out, [2]uint32{uint32(r.Start), uint32(r.Stop)})
	}
	return out
}

// inRanges reports whether n is in one of the ranges, 0 standing for
// max ("*"), as RFC 3501 reads them (n:* includes max even when n > max).
func inRanges(n, max uint32, ranges [][2]uint32) bool {
	for _, r := range ranges {
		a, b := r[0], r[1]
		if a == 0 {
			a = max
		}
		if b == 0 {
			b = max
		}
		if a > b {
			a, b = b, a
		}
		if n >= a && n <= b {
			return true
		}
	}
	return false
}

func (ss *session) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet, options *imap.FetchOptions) error {
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	if ss.selected == nil {
		return no("no folder selected")
	}
	since := ss.since()
	for _, t := range ss.targets(numSet) {
		if since > 0 && t.e.modSeq <= since {
			continue // CHANGEDSINCE
		}
		m := t.e.msg
		for _, bs := range options.BodySection {
			if !bs.Peek && !ss.readOnly {
				ss.s.setFlag(m, imap.FlagSeen, true)
			}
		}
		rw := w.CreateMessage(t.seq)
		rw.WriteUID(t.e.uid)
		if options.Flags {
			rw.WriteFlags(m.flagList(t.e))
		}
		if options.InternalDate {
			rw.WriteInternalDate(m.date)
		}
		if options.RFC822Size {
			rw.WriteRFC822Size(int64(len(m.raw)))
		}
		if options.Envelope {
			rw.WriteEnvelope(imapserver.ExtractEnvelope(header(m.raw)))
		}
		if options.BodyStructure != nil {
			rw.WriteBodyStructure(imapserver.ExtractBodyStructure(bytes.NewReader(m.raw)))
		}
		for _, bs := range options.BodySection {
			buf := imapserver.ExtractBodySection(bytes.NewReader(m.raw), bs)
			wc := rw.WriteBodySection(bs, int64(len(buf)))
			if _, err := wc.Write(buf); err != nil {
				return err
			}
			if err := wc.Close(); err != nil {
				return err
			}
		}
		if err := rw.Close(); err != nil {
			return err
		}
	}
	return nil
}

func (ss *session) Store(w *imapserver.FetchWriter, numSet imap.NumSet, flags *imap.StoreFlags, _ *imap.StoreOptions) error {
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	if ss.selected == nil || ss.readOnly {
		return no("no folder selected for writing")
	}
	for _, t := range ss.targets(numSet) {
		want := map[imap.Flag]bool{}
		for _, fl := range flags.Flags {
			want[canonical(fl)] = true
		}
		ss.storeOne(t.e, flags.Op, want)
		if !flags.Silent {
			rw := w.CreateMessage(t.seq)
			rw.WriteUID(t.e.uid)
			rw.WriteFlags(t.e.msg.flagList(t.e))
			if err := rw.Close(); err != nil {
				return err
			}
		}
	}
	return nil
}

// storeOne applies a STORE to one entry: \Deleted to the view, the other
// flags to the message (locked).
func (ss *session) storeOne(e *entry, op imap.StoreFlagsOp, want map[imap.Flag]bool) {
	m := e.msg
	set := func(fl imap.Flag, on bool) {
		if fl == flagRecent {
			return
		}
		if fl == imap.FlagDeleted {
			if e.deleted != on {
				e.deleted = on
				e.modSeq = ss.selected.bump()
			}
			return
		}
		ss.s.setFlag(m, fl, on)
	}
	switch op {
	case imap.StoreFlagsAdd:
		for fl := range want {
			set(fl, true)
		}
	case imap.StoreFlagsDel:
		for fl := range want {
			set(fl, false)
		}
	default:
		for _, fl := range m.flagList(e) {
			if !want[fl] {
				set(fl, false)
			}
		}
		for fl := range want {
			set(fl, true)
		}
	}
}

func (ss *session) Expunge(w *imapserver.ExpungeWriter, uids *imap.UIDSet) error {
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	if ss.selected == nil || ss.readOnly {
		return no("no folder selected for writing")
	}
	if uids != nil {
		// Resolve "*" against this folder before the store looks.
		var set imap.UIDSet
		for _, t := range ss.targets(*uids) {
			set.AddNum(t.e.uid)
		}
		uids = &set
	}
	ss.s.expunge(ss.selected, uids)
	return ss.flushExpunged(w.WriteExpunge)
}

func (ss *session) Copy(numSet imap.NumSet, dest string) (*imap.CopyData, error) {
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	return ss.copyLocked(numSet, dest)
}

func (ss *session) copyLocked(numSet imap.NumSet, dest string) (*imap.CopyData, error) {
	if ss.selected == nil {
		return nil, no("no folder selected")
	}
	d, err := ss.s.folder(dest)
	if err != nil {
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTryCreate, Text: "no such folder"}
	}
	data := &imap.CopyData{UIDValidity: d.uidValidity}
	for _, t := range ss.targets(numSet) {
		de := ss.s.addTo(d, t.e.msg)
		if de == nil {
			continue
		}
		data.SourceUIDs.AddNum(t.e.uid)
		data.DestUIDs.AddNum(de.uid)
	}
	return data, nil
}

func (ss *session) Move(w *imapserver.MoveWriter, numSet imap.NumSet, dest string) error {
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	src := ss.selected
	ts := ss.targets(numSet)
	data, err := ss.copyLocked(numSet, dest)
	if err != nil {
		return err
	}
	if src == nil || ss.readOnly {
		return no("no folder selected for writing")
	}
	for _, t := range ts {
		switch src.kind() {
		case "label":
			src.remove(t.e.msg)
		case "starred":
			ss.s.setFlag(t.e.msg, imap.FlagFlagged, false)
		}
		// From All Mail into a label the message stays in All Mail; into
		// the Trash or Spam it left every view already.
	}
	if err := w.WriteCopyData(data); err != nil {
		return err
	}
	return ss.flushExpunged(w.WriteExpunge)
}

func (ss *session) Search(kind imapserver.NumKind, criteria *imap.SearchCriteria, options *imap.SearchOptions) (*imap.SearchData, error) {
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	if ss.selected == nil {
		return nil, no("no folder selected")
	}
	var seqs imap.SeqSet
	var uids imap.UIDSet
	data := &imap.SearchData{}
	var max imap.UID
	if len(ss.seen) > 0 {
		max = ss.seen[len(ss.seen)-1]
	}
	for i, uid := range ss.seen {
		e := ss.selected.byUID(uid)
		if e == nil || !ss.matches(uint32(i+1), uint32(len(ss.seen)), uint32(max), e, criteria) {
			continue
		}
		n := uint32(i + 1)
		if kind == imapserver.NumKindUID {
			n = uint32(uid)
		}
		seqs.AddNum(n)
		uids.AddNum(uid)
		if data.Min == 0 {
			data.Min = n
		}
		data.Max = n
		data.Count++
	}
	if kind == imapserver.NumKindUID {
		data.All = uids
	} else {
		data.All = seqs
	}
	return data, nil
}

// matches evaluates the search keys the engine and the tests use.
func (ss *session) matches(seq, nseq, max uint32, e *entry, c *imap.SearchCriteria) bool {
	for _, set := range c.SeqNum {
		if !inRanges(seq, nseq, seqRanges(set)) {
			return false
		}
	}
	for _, set := range c.UID {
		if !inRanges(uint32(e.uid), max, uidRanges(set)) {
			return false
		}
	}
	flags := map[imap.Flag]bool{}
	for _, fl := range e.msg.flagList(e) {
		flags[fl] = true
	}
	for _, fl := range c.Flag {
		if !flags[canonical(fl)] {
			return false
		}
	}
	for _, fl := range c.NotFlag {
		if flags[canonical(fl)] {
			return false
		}
	}
	if !c.Since.IsZero() && e.msg.date.Before(c.Since) {
		return false
	}
	if !c.Before.IsZero() && !e.msg.date.Before(c.Before) {
		return false
	}
	if c.Larger > 0 && int64(len(e.msg.raw)) <= c.Larger {
		return false
	}
	if c.Smaller > 0 && int64(len(e.msg.raw)) >= c.Smaller {
		return false
	}
	h := header(e.msg.raw)
	for _, f := range c.Header {
		if !strings.Contains(strings.ToLower(h.Get(f.Key)), strings.ToLower(f.Value)) {
			return false
		}
	}
	for _, n := range c.Not {
		if ss.matches(seq, nseq, max, e, &n) {
			return false
		}
	}
	for _, or := range c.Or {
		if !ss.matches(seq, nseq, max, e, &or[0]) && !ss.matches(seq, nseq, max, e, &or[1]) {
			return false
		}
	}
	return true
}
