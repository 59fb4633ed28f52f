package syncer

import (
	"path"
	"sort"
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/tags"
)

// Gmail labels as notmuch tags (provider = "gmail" and tags = "notmuch";
// docs/tags.md, "Gmail labels"). Gmail keeps one copy of each message and
// shows it in a folder per label; "[Gmail]/All Mail" holds every message.
// So All Mail is mirrored (with the Trash and Spam, whose messages are not
// in All Mail: the preset's default folders), the label folders are not,
// and each label folder's membership is a tag of the All Mail copy:
//
//   - INBOX ↔ inbox, \Sent ↔ sent, \Important ↔ important, user labels by
//     name (tag_map renames them, tags_allow/tags_deny choose); Starred is
//     the \Flagged flag (Maildir F, notmuch's flagged) and Drafts the
//     \Draft flag, both synced as flags of the All Mail copy already;
//   - membership is found by identity (identityFields, hash and size as the
//     pairs keep them) per label folder, kept in the state (gmail_members:
//     label UID ↔ All Mail UID), and re-read only for label folders whose
//     UIDVALIDITY, UIDNEXT or MESSAGES moved (a flag change, which moves
//     HIGHESTMODSEQ alone, cannot change a membership): new UIDs from the
//     stored UIDNEXT, UID SEARCH ALL only when the count disagrees;
//   - a tag added locally is a UID COPY from All Mail into the label's
//     folder (CREATEd when missing), a tag removed is UID STORE \Deleted +
//     UID EXPUNGE of that message in the label folder (never in All Mail,
//     never a plain EXPUNGE; without UIDPLUS removals wait, with a warning);
//   - the three-way merge uses the All Mail pair's tag base (tag_bases);
//     the first merge of a message takes the tags of notmuch's new.tags
//     (inbox) from the server, so that `notmuch new` tagging every new
//     message inbox does not put archived mail back into the INBOX.
//
// IMAP keywords are not synced as tags on such an account: Gmail turns
// keywords into labels itself.

// gmailLabels reports whether the account syncs Gmail labels as tags.
func (s *Syncer) gmailLabels() bool {
	return s.acct.Provider == config.ProviderGmail && s.acct.Tags == config.TagsNotmuch
}

// gmailAllMail reports whether a server folder is Gmail's All Mail.
func gmailAllMail(r *remoteFolder) bool {
	if r.hasAttr(imap.MailboxAttrAll) {
		return true
	}
	return r.name == "[Gmail]/All Mail" || r.name == "[Google Mail]/All Mail"
}

// gmailNotLabel reports whether a server folder is not a label folder: All
// Mail, the Trash and Spam (mirrored as folders), Starred and Drafts (flags)
// and folders that cannot be selected.
func gmailNotLabel(r *remoteFolder) bool {
	if gmailAllMail(r) || r.hasAttr(imap.MailboxAttrNoSelect) || r.hasAttr(imap.MailboxAttrNonExistent) {
		return true
	}
	for _, a := range []imap.MailboxAttr{imap.MailboxAttrTrash, imap.MailboxAttrJunk, imap.MailboxAttrFlagged, imap.MailboxAttrDrafts} {
		if r.hasAttr(a) {
			return true
		}
	}
	for _, n := range []string{"Trash", "Spam", "Starred", "Drafts", "Bin"} {
		if r.name == "[Gmail]/"+n || r.name == "[Google Mail]/"+n {
			return true
		}
	}
	return false
}

// labelFolder is a server folder whose membership is a tag.
type labelFolder struct {
	name   string
	tag    string
	status *imap.StatusData
}

// gmailFolderTag is the tag of a label folder, before renames.
func gmailFolderTag(r *remoteFolder) string {
	switch {
	case strings.EqualFold(r.name, "INBOX"):
		return "inbox"
	case r.hasAttr(imap.MailboxAttrSent):
		return "sent"
	case r.hasAttr(imap.MailboxAttrImportant):
		return "important"
	}
	return r.name
}

// labelTag returns the tag of a label folder, or false when it does not
// sync (renamed by tag_map, chosen by tags_allow/tags_deny).
func labelTag(m *tags.Mapping, r *remoteFolder) (string, bool) {
	tag := gmailFolderTag(r)
	if t, ok := m.Rename[strings.ToLower(tag)]; ok {
		tag = t
	}
	return tag, labelSynced(m, tag)
}

// gmailFlagTags are the tags notmuch mirrors from Maildir flags: they stay
// flags.
var gmailFlagTags = []string{"unread", "replied", "flagged", "passed", "draft"}

// labelSynced reports whether a tag can be a label: not a flag tag, not a
// bookkeeping tag (inbox excepted: it is the INBOX), a name Gmail accepts
// for a label, and allowed by tags_allow/tags_deny.
func labelSynced(m *tags.Mapping, tag string) bool {
	if tag == "" || contains(gmailFlagTags, tag) || (tag != "inbox" && contains(m.Bookkeeping, tag)) {
		return false
	}
	if strings.ContainsAny(tag, "*%\\\"\r\n\x00") || strings.HasPrefix(tag, "/") || strings.HasSuffix(tag, "/") ||
		strings.Contains(tag, "//") || strings.HasPrefix(tag, "[Gmail]") || strings.HasPrefix(tag, "[Google Mail]") {
		return false
	}
	for _, p := range m.Deny {
		if ok, _ := path.Match(p, tag); ok || p == tag {
			return false
		}
	}
	if len(m.Allow) == 0 {
		return true
	}
	for _, p := range m.Allow {
		if ok, _ := path.Match(p, tag); ok || p == tag {
			return true
		}
	}
	return false
}

// gmailFolders returns All Mail and the label folders by tag, from the
// pass's LIST. Two folders with one tag: the first by name wins.
func (s *Syncer) gmailFolders(m *tags.Mapping) (all *remoteFolder, labels map[string]*labelFolder) {
	names := make([]string, 0, len(s.remotes))
	for n := range s.remotes {
		names = append(names, n)
	}
	sort.Strings(names)
	labels = map[string]*labelFolder{}
	for _, n := range names {
		r := s.remotes[n]
		if gmailAllMail(r) && all == nil {
			all = r
			continue
		}
		if gmailNotLabel(r) {
			continue
		}
		tag, ok := labelTag(m, r)
		if !ok {
			continue
		}
		if prev := labels[tag]; prev != nil {
			s.warn("Gmail folders %q and %q are both the tag %q; %q is not synced", prev.name, n, tag, n)
			continue
		}
		if ln, err := s.names.local(n); err == nil && s.acct.MatchFolder(ln) {
			s.warn("Gmail folder %q is the tag %q and is also mirrored as a folder (folders matches it): its messages are stored twice", n, tag)
		}
		labels[tag] = &labelFolder{name: n, tag: tag, status: r.status}
	}
	return all, labels
}

// labelFolderName is the server folder of a tag that has none yet: the
// INBOX, or a user label of the tag's name (the keyword tag_map renames
// to it, when there is one).
func labelFolderName(m *tags.Mapping, tag string) string {
	if tag == "inbox" {
		return "INBOX"
	}
	if kw := m.Keyword(tag); kw != tag {
		return kw
	}
	return tag
}
