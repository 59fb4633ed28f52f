// Package fakegmail is an in-process IMAP server that keeps mail the way
// Gmail does, for tests of label sync: one store of messages, and folders
// that are views of it.
//
//   - "[Gmail]/All Mail" (\All) holds every message that is not in the
//     Trash or Spam; "INBOX", "[Gmail]/Sent Mail" (\Sent), "[Gmail]/Drafts"
//     (\Drafts), "[Gmail]/Important" (\Important) and user labels are
//     labels: a message is in such a folder when it has the label. Archived
//     mail (no label) is only in All Mail.
//   - "[Gmail]/Starred" (\Flagged) is the view of the messages with the
//     \Flagged flag: copying into it sets the flag, expunging clears it.
//   - Every view gives a message its own UID (UIDVALIDITY and UIDNEXT per
//     folder), and keeps its own MODSEQ counter (HighestModSeq; go-imap's
//     imapserver cannot speak CONDSTORE on the wire, so it is not
//     advertised).
//   - COPY into a label folder adds the label (the same message, a new UID
//     in that folder, no second copy in All Mail). \Deleted is per view:
//     set in a label folder and expunged there, it removes that label only;
//     expunged in All Mail, the message is deleted everywhere. COPY or MOVE
//     into "[Gmail]/Trash" (\Trash) or "[Gmail]/Spam" (\Junk) takes the
//     message out of All Mail and every label.
//   - APPEND into a label adds a new message with that label; into All
//     Mail, a new archived message.
//
// Unilateral updates: a session learns of expunges and new messages of its
// selected folder at each command (Poll), not of flag changes; IDLE waits
// without updates.
package fakegmail

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
)

// The system folders' names.
const (
	AllMail   = "[Gmail]/All Mail"
	Starred   = "[Gmail]/Starred"
	SentMail  = "[Gmail]/Sent Mail"
	Drafts    = "[Gmail]/Drafts"
	Important = "[Gmail]/Important"
	Trash     = "[Gmail]/Trash"
	Spam      = "[Gmail]/Spam"
	Inbox     = "INBOX"
)

// message is one stored message.
type message struct {
	id    int
	raw   []byte
	date  time.Time
	flags map[imap.Flag]bool // shared by every view, \Deleted excepted
	// where is AllMail for a message in All Mail, or Trash or Spam.
	where string
}

// entry is a message in one folder view.
type entry struct {
	uid     imap.UID
	msg     *message
	deleted bool // \Deleted, per view
	modSeq  uint64
}

// folder is one view.
type folder struct {
	name        string
	attr        imap.MailboxAttr // special use, "" for user labels and INBOX
	uidValidity uint32
	uidNext     imap.UID
	modSeq      uint64
	entries     []*entry // by UID
}

func (f *folder) kind() string {
	switch {
	case f.attr == imap.MailboxAttrAll:
		return "all"
	case f.attr == imap.MailboxAttrFlagged:
		return "starred"
	case f.attr == imap.MailboxAttrTrash || f.attr == imap.MailboxAttrJunk:
		return "bin"
	}
	return "label"
}

func (f *folder) find(m *message) *entry {
	for _, e := range f.entries {
		if e.msg == m {
			return e
		}
	}
	return nil
}

func (f *folder) byUID(uid imap.UID) *entry {
	i := sort.Search(len(f.entries), func(i int) bool { return f.entries[i].uid >= uid })
	if i < len(f.entries) && f.entries[i].uid == uid {
		return f.entries[i]
	}
	return nil
}

func (f *folder) bump() uint64 {
	f.modSeq++
	return f.modSeq
}

func (f *folder) add(m *message) *entry {
	if e := f.find(m); e != nil {
		return e
	}
	e := &entry{uid: f.uidNext, msg: m, modSeq: f.bump()}
	f.uidNext++
	f.entries = append(f.entries, e)
	return e
}

func (f *folder) remove(m *message) bool {
	for i, e := range f.entries {
		if e.msg == m {
			f.entries = append(f.entries[:i], f.entries[i+1:]...)
			f.bump()
			return true
		}
	}
	return false
}

// Store is the account's mail: messages and folder views. Its methods are
// safe for concurrent use.
type Store struct {
	mu      sync.Mutex
	nextID  int
	nextUV  uint32
	folders map[string]*folder
	msgs    map[int]*message
	selects map[string]int // SELECT/EXAMINE per folder name
}

func newStore() *Store {
	s := &Store{folders: map[string]*folder{}, msgs: map[int]*message{}, nextUV: 1000, selects: map[string]int{}}
	s.create(Inbox, "")
	s.create(AllMail, imap.MailboxAttrAll)
	s.create(Starred, imap.MailboxAttrFlagged)
	s.create(SentMail, imap.MailboxAttrSent)
	s.create(Drafts, imap.MailboxAttrDrafts)
	s.create(Important, imap.MailboxAttrImportant)
	s.create(Trash, imap.MailboxAttrTrash)
	s.create(Spam, imap.MailboxAttrJunk)
	return s
}

func (s *Store) create(name string, attr imap.MailboxAttr) *folder {
	s.nextUV++
	f := &folder{name: name, attr: attr, uidValidity: s.nextUV, uidNext: 1, modSeq: 1}
	s.folders[name] = f
	return f
}

func (s *Store) folder(name string) (*folder, error) {
	if strings.EqualFold(name, Inbox) {
		name = Inbox
	}
	f := s.folders[name]
	if f == nil {
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeNonExistent, Text: fmt.Sprintf("no folder %q", name)}
	}
	return f, nil
}

// views returns the folders that show m.
func (s *Store) views(m *message) []*folder {
	var out []*folder
	for _, f := range s.folders {
		if f.find(m) != nil {
			out = append(out, f)
		}
	}
	return out
}

// deliver adds a new message to folder f (locked).
func (s *Store) deliver(f *folder, raw []byte, flags []imap.Flag, date time.Time) *entry {
	s.nextID++
	m := &message{id: s.nextID, raw: append([]byte(nil), raw...), date: date, flags: map[imap.Flag]bool{}, where: AllMail}
	if date.IsZero() {
		m.date = time.Now()
	}
	s.msgs[m.id] = m
	deleted := false
	for _, fl := range flags {
		fl = canonical(fl)
		if fl == imap.FlagDeleted {
			deleted = true
			continue
		}
		if fl != flagRecent {
			m.flags[fl] = true
		}
	}
	if f.kind() == "bin" {
		m.where = f.name
		e := f.add(m)
		e.deleted = deleted
		return e
	}
	s.folders[AllMail].add(m)
	if m.flags[imap.FlagFlagged] {
		s.folders[Starred].add(m)
	}
	e := f.add(m)
	e.deleted = deleted
	return e
}

// addTo puts an existing message into folder dest: a label added, the
// star set, or the message thrown into the Trash or Spam (locked).
func (s *Store) addTo(dest *folder, m *message) *entry {
	switch dest.kind() {
	case "bin":
		if m.where == dest.name {
			return dest.find(m)
		}
		for _, f := range s.views(m) {
			f.remove(m)
		}
		m.where = dest.name
		return dest.add(m)
	case "all":
		return s.restore(m)
	case "starred":
		s.restore(m)
		s.setFlag(m, imap.FlagFlagged, true)
		return dest.find(m)
	}
	s.restore(m)
	return dest.add(m)
}

// restore brings a message in the Trash or Spam back into All Mail.
func (s *Store) restore(m *message) *entry {
	if m.where != AllMail {
		s.folders[m.where].remove(m)
		m.where = AllMail
		if m.flags[imap.FlagFlagged] {
			s.folders[Starred].add(m)
		}
	}
	return s.folders[AllMail].add(m)
}

// setFlag changes a shared flag, bumping the modseq of every view of m;
// \Flagged moves m in or out of Starred (locked).
func (s *Store) setFlag(m *message, fl imap.Flag, on bool) {
	if m.flags[fl] == on {
		return
	}
	if on {
		m.flags[fl] = true
	} else {
		delete(m.flags, fl)
	}
	for _, f := range s.views(m) {
		f.find(m).modSeq = f.bump()
	}
	if fl == imap.FlagFlagged && m.where == AllMail {
		if on {
			s.folders[Starred].add(m)
		} else {
			s.folders[Starred].remove(m)
		}
	}
}

// expunge removes the entries of f with \Deleted among uids (all when
// uids is nil) and returns their UIDs: in a label folder the label goes,
// in Starred the star, in All Mail, the Trash or Spam the message itself
// (locked).
func (s *Store) expunge(f *folder, uids *imap.UIDSet) []imap.UID {
	var gone []*entry
	for _, e := range f.entries {
		if e.deleted && (uids == nil || uids.Contains(e.uid)) {
			gone = append(gone, e)
		}
	}
	var out []imap.UID
	for _, e := range gone {
		out = append(out, e.uid)
		switch f.kind() {
		case "label":
			f.remove(e.msg)
		case "starred":
			s.setFlag(e.msg, imap.FlagFlagged, false)
			f.remove(e.msg)
		default:
			for _, v := range s.views(e.msg) {
				v.remove(e.msg)
			}
			delete(s.msgs, e.msg.id)
		}
	}
	return out
}

func canonical(fl imap.Flag) imap.Flag {
	for _, sys := range []imap.Flag{imap.FlagSeen, imap.FlagAnswered, imap.FlagFlagged, imap.FlagDeleted, imap.FlagDraft, flagRecent} {
		if strings.EqualFold(string(fl), string(sys)) {
			return sys
		}
	}
	return fl
}

func (m *message) flagList(e *entry) []imap.Flag {
	var out []imap.Flag
	for fl := range m.flags {
		out = append(out, fl)
	}
	if e != nil && e.deleted {
		out = append(out, imap.FlagDeleted)
	}
	sort.Slice(out, func(a, b int) bool { return out[a] < out[b] })
	return out
}

// Msg is one message of a folder, as tests see it.
type Msg struct {
	UID       uint32
	ID        int // the store's message id: the same in every view
	MessageID string
	Flags     []string
}

// Messages returns a folder's messages by UID.
func (s *Store) Messages(folder string) []Msg {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.folder(folder)
	if err != nil {
		return nil
	}
	var out []Msg
	for _, e := range f.entries {
		var flags []string
		for _, fl := range e.msg.flagList(e) {
			flags = append(flags, string(fl))
		}
		out = append(out, Msg{UID: uint32(e.uid), ID: e.msg.id, MessageID: messageID(e.msg.raw), Flags: flags})
	}
	return out
}

// Labels returns the folders that show the message with that Message-ID
// (All Mail, Starred and the labels; or the Trash or Spam), sorted; nil
// when the store has no such message.
func (s *Store) Labels(id string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.msgs {
		if messageID(m.raw) == id {
			var out []string
			for _, f := range s.views(m) {
				out = append(out, f.name)
			}
			sort.Strings(out)
			return out
		}
	}
	return nil
}

// Selects returns how many times clients selected each folder so far.
func (s *Store) Selects() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, v := range s.selects {
		out[k] = v
	}
	return out
}

// Count is the number of messages in the store (every view together).
func (s *Store) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.msgs)
}

// Status is a folder's counters.
type Status struct {
	UIDValidity   uint32
	UIDNext       uint32
	Messages      int
	HighestModSeq uint64
}

// Status returns a folder's counters (zero for a missing folder).
func (s *Store) Status(folder string) Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.folder(folder)
	if err != nil {
		return Status{}
	}
	return Status{f.uidValidity, uint32(f.uidNext), len(f.entries), f.modSeq}
}

// Deliver adds a new message to folder (a label: it has that label and is
// in All Mail; All Mail: archived) and returns its UID there.
func (s *Store) Deliver(folder string, raw []byte, flags ...imap.Flag) (uint32, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.folder(folder)
	if err != nil {
		return 0, err
	}
	return uint32(s.deliver(f, raw, flags, time.Time{}).uid), nil
}

// AddLabel puts the message with that Message-ID into folder (as a COPY
// from another client would), creating a missing user label.
func (s *Store) AddLabel(id, folder string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.byMessageID(id)
	if m == nil {
		return fmt.Errorf("fakegmail: no message %s", id)
	}
	f, err := s.folder(folder)
	if err != nil {
		f = s.create(folder, "")
	}
	s.addTo(f, m)
	return nil
}

// RemoveLabel takes the message with that Message-ID out of a label folder
// (\Deleted and expunge there, as another client would).
func (s *Store) RemoveLabel(id, folder string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.byMessageID(id)
	f, err := s.folder(folder)
	if err != nil {
		return err
	}
	e := f.find(m)
	if m == nil || e == nil {
		return fmt.Errorf("fakegmail: %s is not in %s", id, folder)
	}
	e.deleted = true
	var set imap.UIDSet
	set.AddNum(e.uid)
	s.expunge(f, &set)
	return nil
}

// SetFlag sets or clears a flag of the message with that Message-ID, as
// another client would (\Flagged stars it).
func (s *Store) SetFlag(id string, flag imap.Flag, on bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.byMessageID(id)
	if m == nil {
		return fmt.Errorf("fakegmail: no message %s", id)
	}
	s.setFlag(m, canonical(flag), on)
	return nil
}

// NewUIDValidity gives a folder a new UIDVALIDITY and numbers its
// messages again from 1, as a server that rebuilt its index would.
func (s *Store) NewUIDValidity(folder string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.folder(folder)
	if err != nil {
		return err
	}
	s.nextUV++
	f.uidValidity, f.uidNext = s.nextUV, 1
	for _, e := range f.entries {
		e.uid = f.uidNext
		f.uidNext++
	}
	return nil
}

// DeleteLabel deletes a user label folder (its messages keep their other
// labels and stay in All Mail).
func (s *Store) DeleteLabel(folder string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.folder(folder)
	if err != nil {
		return err
	}
	if f.attr != "" || f.name == Inbox {
		return fmt.Errorf("fakegmail: %s is a system folder", folder)
	}
	delete(s.folders, f.name)
	return nil
}

func (s *Store) byMessageID(id string) *message {
	for _, m := range s.msgs {
		if messageID(m.raw) == id {
			return m
		}
	}
	return nil
}

// messageID returns the Message-ID header of a raw message, "" when none.
func messageID(raw []byte) string {
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" {
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "Message-Id") {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// flagRecent is IMAP4rev1's \Recent, which go-imap v2 has no name for.
const flagRecent imap.Flag = `\Recent`
