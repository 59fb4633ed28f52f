package config

import (
	"errors"
	"strings"
)

// checkPattern checks one entry of folders or idle_folders.
func checkPattern(p string) error {
	q := strings.TrimPrefix(p, "!")
	if q == "" {
		return errors.New("empty pattern")
	}
	for _, r := range q {
		if r < 0x20 || r == 0x7f {
			return errors.New("pattern contains a control character")
		}
	}
	return nil
}

// matchList reports whether name is selected by patterns: it must match
// at least one pattern without "!" (or the list has only "!" patterns)
// and none with "!". An empty list selects nothing.
func matchList(patterns []string, name string) bool {
	if len(patterns) == 0 {
		return false
	}
	name = normInbox(name)
	included, haveInclude := false, false
	for _, p := range patterns {
		if ex, ok := strings.CutPrefix(p, "!"); ok {
			if globMatch(normInbox(ex), name) {
				return false
			}
			continue
		}
		haveInclude = true
		if !included && globMatch(normInbox(p), name) {
			included = true
		}
	}
	return included || !haveInclude
}

// normInbox spells a first hierarchy level equal to INBOX in any case as
// "INBOX", since IMAP treats INBOX case-insensitively.
func normInbox(name string) string {
	first, rest, found := strings.Cut(name, "/")
	if strings.EqualFold(first, "INBOX") && first != "INBOX" {
		if found {
			return "INBOX/" + rest
		}
		return "INBOX"
	}
	return name
}

// globMatch matches name against pattern, where "*" matches any run of
// characters including "/" and "%" any run of characters except "/".
// Every other character matches itself.
func globMatch(pattern, name string) bool {
	p, n := []rune(pattern), []rune(name)
	// Backtracking matcher, memoized so that patterns with many stars stay
	// linear in len(pattern)*len(name).
	type state struct{ pi, ni int }
	failed := map[state]bool{}
	var match func(pi, ni int) bool
	match = func(pi, ni int) bool {
		if failed[state{pi, ni}] {
			return false
		}
		if matchFrom(p, n, pi, ni, match) {
			return true
		}
		failed[state{pi, ni}] = true
		return false
	}
	return match(0, 0)
}

// matchFrom matches p[pi:] against n[ni:], calling match for the
// alternatives a wildcard opens.
func matchFrom(p, n []rune, pi, ni int, match func(pi, ni int) bool) bool {
	{
		for pi < len(p) {
			switch p[pi] {
			case '*':
				for pi < len(p) && p[pi] == '*' {
					pi++
				}
				if pi == len(p) {
					return true
				}
				for k := ni; k <= len(n); k++ {
					if match(pi, k) {
						return true
					}
				}
				return false
			case '%':
				pi++
				for k := ni; k <= len(n); k++ {
					if match(pi, k) {
						return true
					}
					if k < len(n) && n[k] == '/' {
						break
					}
				}
				return false
			default:
				if ni >= len(n) || n[ni] != p[pi] {
					return false
				}
				pi++
				ni++
			}
		}
		return ni == len(n)
	}
}
