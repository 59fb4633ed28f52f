package tags

import (
	"path"
	"sort"
	"strings"
)

// flagTags are the tags notmuch keeps in step with Maildir flags
// (maildir.synchronize_flags): the engine syncs those as flags, never as
// tags.
var flagTags = []string{"unread", "replied", "flagged", "passed", "draft"}

// Bookkeeping are the tags notmuch and its usual hooks set on their own;
// they never go to the server. The account's new.tags are added to them.
var Bookkeeping = []string{"inbox", "new", "attachment", "signed", "encrypted"}

// flagKeywords are IMAP keywords the engine syncs as Maildir flags.
var flagKeywords = []string{"$forwarded"}

// Mapping decides which IMAP keywords are tags and under which names. The
// zero value maps every keyword to the tag of the same name.
type Mapping struct {
	// Rename maps keywords to tag names ("$label1" → "important"); the
	// keyword is matched case-insensitively, as IMAP does.
	Rename map[string]string
	// Allow, when not empty, lists the tags that sync (patterns of
	// path.Match: "work", "project-*"); Deny the tags that never do. Deny
	// wins. Both apply to tag names (after Rename).
	Allow, Deny []string
	// Bookkeeping are tags that never sync (see the package variable of
	// that name, plus new.tags).
	Bookkeeping []string
}

// NewMapping returns the mapping of an account: its renames and lists,
// with notmuch's bookkeeping tags and newTags never synced.
func NewMapping(rename map[string]string, allow, deny, newTags []string) *Mapping {
	m := &Mapping{Allow: allow, Deny: deny}
	if len(rename) > 0 {
		m.Rename = map[string]string{}
		for k, v := range rename {
			m.Rename[strings.ToLower(k)] = v
		}
	}
	m.Bookkeeping = append(append([]string(nil), Bookkeeping...), newTags...)
	return m
}

// Synced reports whether a tag takes part in the sync.
func (m *Mapping) Synced(tag string) bool {
	if tag == "" || contains(flagTags, tag) || contains(m.Bookkeeping, tag) {
		return false
	}
	if !ValidKeyword(m.keyword(tag)) {
		return false
	}
	if matchAny(m.Deny, tag) {
		return false
	}
	return len(m.Allow) == 0 || matchAny(m.Allow, tag)
}

// Tag returns the tag of an IMAP flag, or false when it is a system flag,
// a flag the engine syncs as a Maildir flag, or a tag that does not sync.
func (m *Mapping) Tag(keyword string) (string, bool) {
	if keyword == "" || keyword[0] == '\\' || contains(flagKeywords, strings.ToLower(keyword)) {
		return "", false
	}
	tag := keyword
	if t, ok := m.Rename[strings.ToLower(keyword)]; ok {
		tag = t
	}
	if !m.Synced(tag) {
		return "", false
	}
	return tag, true
}

// Keyword returns the IMAP keyword of a synced tag.
func (m *Mapping) Keyword(tag string) string { return m.keyword(tag) }

func (m *Mapping) keyword(tag string) string {
	for k, v := range m.Rename {
		if v == tag {
			// The first renamed keyword in sorted order, so that the
			// answer does not depend on map order.
			best := k
			for k2, v2 := range m.Rename {
				if v2 == tag && k2 < best {
					best = k2
				}
			}
			return best
		}
	}
	return tag
}

// FromKeywords returns the synced tags of a message's IMAP flags, sorted.
func (m *Mapping) FromKeywords(flags []string) []string {
	var out []string
	for _, f := range flags {
		if t, ok := m.Tag(f); ok {
			out = append(out, t)
		}
	}
	return Normalize(out)
}

// Local returns the synced tags among a notmuch message's tags, sorted.
func (m *Mapping) Local(tags []string) []string {
	var out []string
	for _, t := range tags {
		if m.Synced(t) {
			out = append(out, t)
		}
	}
	return Normalize(out)
}

// ValidKeyword reports whether s can be an IMAP keyword: an atom of
// printable ASCII without the atom-specials of RFC 3501, not a system flag.
func ValidKeyword(s string) bool {
	if s == "" || len(s) > 200 || s[0] == '\\' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`(){%*"\]`, c) >= 0 {
			return false
		}
	}
	return true
}

// Normalize sorts a tag set and removes duplicates.
func Normalize(tags []string) []string {
	if len(tags) == 0 {
		return nil
	}
	out := append([]string(nil), tags...)
	sort.Strings(out)
	w := 0
	for i, t := range out {
		if i > 0 && t == out[w-1] {
			continue
		}
		out[w] = t
		w++
	}
	return out[:w]
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func matchAny(patterns []string, s string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, s); ok || p == s {
			return true
		}
	}
	return false
}
