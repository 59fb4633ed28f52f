package testenv

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// CompareAccount compares the user's server account with a local Maildir
// tree (see ReadMaildir) folder by folder and message by message, and
// reports every difference with t.Errorf. It returns whether both sides
// agree.
//
// Folders match by name (the server's separator is "/", like local names).
// Messages match by Message-ID as a multiset: a message missing on one side,
// or present twice on one side and once on the other, is a difference. Only
// the flags a Maildir file name can carry are compared: \Seen, \Answered,
// \Flagged, \Deleted, \Draft and $Forwarded; \Recent and keywords are
// ignored. Sizes and dates are not compared (the server counts CRLF line
// ends, a local file may not).
func CompareAccount(t testing.TB, u *User, root, layout string) bool {
	t.Helper()
	server := make(map[string][]Msg)
	for _, f := range u.Folders(t) {
		server[f] = u.Messages(t, f)
	}
	local := ReadMaildir(t, root, layout)
	diffs := DiffAccount(server, local)
	for _, d := range diffs {
		t.Errorf("server %s vs Maildir %s: %s", u.Name, root, d)
	}
	return len(diffs) == 0
}

// DiffAccount compares two accounts given as folder name → messages, the
// first from the server, the second local, as CompareAccount does, and
// returns the differences as readable lines, sorted by folder.
func DiffAccount(server, local map[string][]Msg) []string {
	names := make([]string, 0, len(server)+len(local))
	for n := range server {
		names = append(names, n)
	}
	for n := range local {
		if _, ok := server[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	var diffs []string
	for _, n := range names {
		s, inServer := server[n]
		l, inLocal := local[n]
		switch {
		case !inLocal:
			diffs = append(diffs, fmt.Sprintf("folder %q (%d messages) is on the server but not local", n, len(s)))
		case !inServer:
			diffs = append(diffs, fmt.Sprintf("folder %q (%d messages) is local but not on the server", n, len(l)))
		default:
			for _, d := range DiffMessages(s, l) {
				diffs = append(diffs, fmt.Sprintf("folder %q: %s", n, d))
			}
		}
	}
	return diffs
}

// DiffMessages compares the messages of one folder, server side and local
// side, as CompareAccount does, and returns the differences as readable
// lines, sorted by Message-ID.
func DiffMessages(server, local []Msg) []string {
	byID := func(msgs []Msg) map[string][]Msg {
		m := make(map[string][]Msg)
		for _, msg := range msgs {
			m[msg.MessageID] = append(m[msg.MessageID], msg)
		}
		return m
	}
	s, l := byID(server), byID(local)
	ids := make([]string, 0, len(s)+len(l))
	for id := range s {
		ids = append(ids, id)
	}
	for id := range l {
		if _, ok := s[id]; !ok {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	var diffs []string
	for _, id := range ids {
		ss, ls := slices.Clone(s[id]), slices.Clone(l[id])
		// Pair messages whose flags agree first, then the rest in order.
		for i := 0; i < len(ss); i++ {
			j := slices.IndexFunc(ls, func(m Msg) bool { return slices.Equal(comparedFlags(m.Flags), comparedFlags(ss[i].Flags)) })
			if j >= 0 {
				ss = slices.Delete(ss, i, i+1)
				ls = slices.Delete(ls, j, j+1)
				i--
			}
		}
		name := id
		if name == "" {
			name = "(no Message-ID)"
		}
		for len(ss) > 0 && len(ls) > 0 {
			diffs = append(diffs, fmt.Sprintf("%s: flags differ: server %s, local %s", name, describe(ss[0]), describe(ls[0])))
			ss, ls = ss[1:], ls[1:]
		}
		for _, m := range ss {
			diffs = append(diffs, fmt.Sprintf("%s: on the server %s, missing locally", name, describe(m)))
		}
		for _, m := range ls {
			diffs = append(diffs, fmt.Sprintf("%s: local %s, missing on the server", name, describe(m)))
		}
	}
	return diffs
}

// comparedFlags keeps the flags a Maildir can carry.
func comparedFlags(flags []string) []string {
	var out []string
	for _, f := range flags {
		if m, ok := maildirFlag(f); ok && !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	slices.Sort(out)
	return out
}

// describe names one message and its compared flags.
func describe(m Msg) string {
	where := fmt.Sprintf("UID %d", m.UID)
	if m.Path != "" {
		where = filepath.Join(filepath.Base(filepath.Dir(m.Path)), filepath.Base(m.Path))
	}
	return fmt.Sprintf("(%s) [%s]", where, strings.Join(comparedFlags(m.Flags), " "))
}
