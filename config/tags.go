package config

import (
	"sort"
	"strings"
)

// TagsNotmuch is the value of the tags key that syncs IMAP keywords with
// notmuch tags.
const TagsNotmuch = "notmuch"

// decodeTags reads and checks the tag keys of an IMAP account: tags,
// tag_map, tags_allow and tags_deny.
func (s *section) decodeTags(a *Account) {
	a.Tags, _ = s.str("tags")
	if s.ok("tags") && a.Tags != "" && a.Tags != TagsNotmuch {
		s.errorf("tags", "must be %q or \"\" (off), got %s", TagsNotmuch, s.got("tags"))
	}
	a.TagsAllow, _ = s.strings("tags_allow")
	a.TagsDeny, _ = s.strings("tags_deny")
	for _, k := range []string{"tags_allow", "tags_deny"} {
		list := a.TagsAllow
		if k == "tags_deny" {
			list = a.TagsDeny
		}
		for _, t := range list {
			if t == "" || strings.ContainsAny(t, " \t\r\n") {
				s.errorf(k, "tag patterns must be non-empty and without spaces, got %q", t)
			}
		}
	}
	v, ok := s.vals["tag_map"]
	if !ok {
		return
	}
	m, ok := v.(map[string]any)
	if !ok {
		s.typeError("tag_map", "a table of keyword = \"tag\" ({ \"$label1\" = \"important\" })")
		return
	}
	a.TagMap = map[string]string{}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		tag, ok := m[k].(string)
		switch {
		case !ok:
			s.errorf("tag_map", "%q: the tag must be a string, got %s", k, repr(m[k]))
		case !validKeyword(k):
			s.errorf("tag_map", "%q is not an IMAP keyword (printable ASCII without spaces or ( ) { %% * \" \\ ], not starting with \\)", k)
		case tag == "" || strings.ContainsAny(tag, "\r\n"):
			s.errorf("tag_map", "%q: the tag must be non-empty and on one line, got %q", k, tag)
		default:
			a.TagMap[k] = tag
		}
	}
}

// validKeyword reports whether s can be an IMAP keyword (an atom, not a
// system flag).
func validKeyword(s string) bool {
	if s == "" || s[0] == '\\' {
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
