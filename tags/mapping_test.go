package tags

import (
	"slices"
	"testing"
)

func TestMappingKeywords(t *testing.T) {
	m := NewMapping(map[string]string{"$label1": "important", "$Junk": "spam"}, nil, []string{"private*"}, []string{"unseen"})
	cases := []struct {
		kw, tag string
		ok      bool
	}{
		{`\Seen`, "", false},
		{`\Flagged`, "", false},
		{`$Forwarded`, "", false}, // a Maildir flag (P)
		{`$Label1`, "important", true},
		{`$junk`, "spam", true},
		{`$NotJunk`, "$NotJunk", true},
		{`work`, "work", true},
		{`private-x`, "", false}, // denied
		{`inbox`, "", false},     // bookkeeping
		{`unseen`, "", false},    // new.tags
		{`unread`, "", false},    // a flag tag
	}
	for _, c := range cases {
		tag, ok := m.Tag(c.kw)
		if tag != c.tag || ok != c.ok {
			t.Errorf("Tag(%q) = %q, %v; want %q, %v", c.kw, tag, ok, c.tag, c.ok)
		}
	}
	if k := m.Keyword("important"); k != "$label1" {
		t.Errorf("Keyword(important) = %q", k)
	}
	if k := m.Keyword("work"); k != "work" {
		t.Errorf("Keyword(work) = %q", k)
	}
	local := m.Local([]string{"inbox", "unread", "attachment", "signed", "encrypted", "new", "unseen", "replied", "work", "has space", "important", "private1"})
	if !slices.Equal(local, []string{"important", "work"}) {
		t.Errorf("Local = %q", local)
	}
}

func TestMappingAllow(t *testing.T) {
	m := NewMapping(nil, []string{"project-*", "todo"}, []string{"project-secret"}, nil)
	got := m.Local([]string{"project-a", "project-secret", "todo", "other"})
	if !slices.Equal(got, []string{"project-a", "todo"}) {
		t.Errorf("Local = %q", got)
	}
}

func TestMerge(t *testing.T) {
	s := func(x ...string) []string { return x }
	cases := []struct {
		name                string
		base, local, remote []string
		hasBase             bool
		want                []string
	}{
		{"added locally", s("a"), s("a", "b"), s("a"), true, s("a", "b")},
		{"added on server", s("a"), s("a"), s("a", "c"), true, s("a", "c")},
		{"removed locally", s("a", "b"), s("a"), s("a", "b"), true, s("a")},
		{"removed on server", s("a", "b"), s("a", "b"), s("b"), true, s("b")},
		{"both add", s(), s("x"), s("y"), true, s("x", "y")},
		{"remove vs untouched elsewhere", s("a", "b"), s("b", "c"), s("a", "b", "d"), true, s("b", "c", "d")},
		{"both remove", s("a"), s(), s(), true, nil},
		{"stale device: local unchanged", s("old"), s("old"), s("new"), true, s("new")},
		{"no base: union", nil, s("l"), s("r"), false, s("l", "r")},
	}
	for _, c := range cases {
		got := Merge(c.base, c.hasBase, c.local, c.remote)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: Merge(%q, %q, %q) = %q, want %q", c.name, c.base, c.local, c.remote, got, c.want)
		}
	}
}
