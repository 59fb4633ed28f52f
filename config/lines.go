package config

import (
	"strconv"
	"strings"
)

// keyLines records on which line each key and each [[account]] table of a
// TOML file starts. The toml package keeps positions to itself (and one per
// key path, so the tables of an array overwrite each other), so the file is
// scanned here. It is run only on text the toml package has parsed.
type keyLines struct {
	top      map[string]int // first component of top-level keys and of table headers
	accounts []tableLines   // one per [[account]] header, in file order
}

// tableLines holds the lines of one [[account]] table.
type tableLines struct {
	header int
	keys   map[string]int // first component of each key, and of [account.x] headers
	// subs holds the [[account.x]] tables (arrays of tables inside the
	// account, such as folder_policy), by x, in file order.
	subs map[string][]tableLines
}

// subKey returns the line of key in the n-th [[account.table]] of account
// i, else the line of that table's header, else the line of table in the
// account (an inline array), else the account's header.
func (kl *keyLines) subKey(i int, table string, n int, key string) int {
	if i < 0 || i >= len(kl.accounts) {
		return kl.top["account"]
	}
	if subs := kl.accounts[i].subs[table]; n >= 0 && n < len(subs) {
		if l, ok := subs[n].keys[key]; ok {
			return l
		}
		return subs[n].header
	}
	return kl.accountKey(i, table)
}

// accountKey returns the line of key in account i, else the line of its
// header, else 0.
func (kl *keyLines) accountKey(i int, key string) int {
	if i < 0 || i >= len(kl.accounts) {
		return kl.top["account"]
	}
	if l, ok := kl.accounts[i].keys[key]; ok {
		return l
	}
	return kl.accounts[i].header
}

// accountHeader returns the line of the header of account i, or 0.
func (kl *keyLines) accountHeader(i int) int {
	if i < 0 || i >= len(kl.accounts) {
		return kl.top["account"]
	}
	return kl.accounts[i].header
}

type lineScanner struct {
	s    string
	pos  int
	line int
}

func scanKeyLines(data string) *keyLines {
	kl := &keyLines{top: map[string]int{}}
	// The TOML decoder reads over a byte order mark (UTF-8, or UTF-16's
	// two bytes, which some editors write): so must the line finder.
	for _, bom := range []string{"\xef\xbb\xbf", "\xff\xfe", "\xfe\xff"} {
		if strings.HasPrefix(data, bom) {
			data = data[len(bom):]
			break
		}
	}
	sc := &lineScanner{s: data, line: 1}
	const (
		inTop = iota
		inAccount
		inSub // an [[account.x]] table
		inOther
	)
	where := inTop
	var sub []tableLines // the array of the current inSub table
	record := func(m map[string]int, key string, line int) {
		if _, ok := m[key]; !ok {
			m[key] = line
		}
	}
	for sc.pos < len(sc.s) {
		sc.skipBlanks()
		if sc.pos >= len(sc.s) {
			break
		}
		switch c := sc.s[sc.pos]; {
		case c == '\n':
			sc.pos++
			sc.line++
		case c == '\r':
			sc.pos++
		case c == '#':
			sc.skipComment()
		case c == '[':
			line := sc.line
			sc.pos++
			double := sc.pos < len(sc.s) && sc.s[sc.pos] == '['
			if double {
				sc.pos++
			}
			path := sc.keyPath()
			sc.skipValue() // the closing brackets and any comment
			switch {
			case len(path) == 0:
				where = inOther
			case double && len(path) == 1 && path[0] == "account":
				kl.accounts = append(kl.accounts, tableLines{header: line, keys: map[string]int{}})
				record(kl.top, "account", line)
				where = inAccount
			case double && len(path) == 2 && path[0] == "account" && len(kl.accounts) > 0:
				a := &kl.accounts[len(kl.accounts)-1]
				record(a.keys, path[1], line)
				if a.subs == nil {
					a.subs = map[string][]tableLines{}
				}
				a.subs[path[1]] = append(a.subs[path[1]], tableLines{header: line, keys: map[string]int{}})
				sub = a.subs[path[1]]
				where = inSub
			case path[0] == "account" && len(path) > 1 && len(kl.accounts) > 0:
				record(kl.accounts[len(kl.accounts)-1].keys, path[1], line)
				where = inOther
			default:
				record(kl.top, path[0], line)
				where = inOther
			}
		default:
			line := sc.line
			path := sc.keyPath()
			if len(path) > 0 {
				switch where {
				case inTop:
					record(kl.top, path[0], line)
				case inAccount:
					record(kl.accounts[len(kl.accounts)-1].keys, path[0], line)
				case inSub:
					record(sub[len(sub)-1].keys, path[0], line)
				}
			}
			sc.skipValue()
		}
	}
	return kl
}

func (sc *lineScanner) skipBlanks() {
	for sc.pos < len(sc.s) && (sc.s[sc.pos] == ' ' || sc.s[sc.pos] == '\t') {
		sc.pos++
	}
}

// skipComment moves to the newline ending the current line.
func (sc *lineScanner) skipComment() {
	for sc.pos < len(sc.s) && sc.s[sc.pos] != '\n' {
		sc.pos++
	}
}

// keyPath reads a dotted key (bare, "basic" or 'literal' parts) and stops
// before '=' or ']'.
func (sc *lineScanner) keyPath() []string {
	var path []string
	for {
		sc.skipBlanks()
		if sc.pos >= len(sc.s) {
			return path
		}
		c := sc.s[sc.pos]
		switch {
		case c == '"':
			start := sc.pos
			sc.pos++
			for sc.pos < len(sc.s) && sc.s[sc.pos] != '"' && sc.s[sc.pos] != '\n' {
				if sc.s[sc.pos] == '\\' {
					sc.pos++
				}
				sc.pos++
			}
			if sc.pos < len(sc.s) && sc.s[sc.pos] == '"' {
				sc.pos++
			}
			raw := sc.s[start:min(sc.pos, len(sc.s))]
			if u, err := strconv.Unquote(raw); err == nil {
				path = append(path, u)
			} else {
				path = append(path, strings.Trim(raw, `"`))
			}
		case c == '\'':
			sc.pos++
			start := sc.pos
			for sc.pos < len(sc.s) && sc.s[sc.pos] != '\'' && sc.s[sc.pos] != '\n' {
				sc.pos++
			}
			path = append(path, sc.s[start:sc.pos])
			if sc.pos < len(sc.s) && sc.s[sc.pos] == '\'' {
				sc.pos++
			}
		case isBareKeyChar(c):
			start := sc.pos
			for sc.pos < len(sc.s) && isBareKeyChar(sc.s[sc.pos]) {
				sc.pos++
			}
			path = append(path, sc.s[start:sc.pos])
		default:
			return path
		}
		sc.skipBlanks()
		if sc.pos < len(sc.s) && sc.s[sc.pos] == '.' {
			sc.pos++
			continue
		}
		return path
	}
}

func isBareKeyChar(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// skipValue consumes the rest of a statement: strings (also multi-line
// ones), arrays and inline tables spanning lines, and a trailing comment,
// up to and including the newline that ends it.
func (sc *lineScanner) skipValue() {
	depth := 0
	for sc.pos < len(sc.s) {
		c := sc.s[sc.pos]
		switch {
		case c == '\n':
			sc.pos++
			sc.line++
			if depth <= 0 {
				return
			}
		case c == '#':
			sc.skipComment()
		case c == '[' || c == '{':
			depth++
			sc.pos++
		case c == ']' || c == '}':
			depth--
			sc.pos++
		case strings.HasPrefix(sc.s[sc.pos:], `"""`):
			sc.skipMultiline(`"""`, true)
		case strings.HasPrefix(sc.s[sc.pos:], `'''`):
			sc.skipMultiline(`'''`, false)
		case c == '"':
			sc.pos++
			for sc.pos < len(sc.s) && sc.s[sc.pos] != '"' && sc.s[sc.pos] != '\n' {
				if sc.s[sc.pos] == '\\' {
					sc.pos++
				}
				sc.pos++
			}
			if sc.pos < len(sc.s) && sc.s[sc.pos] == '"' {
				sc.pos++
			}
		case c == '\'':
			sc.pos++
			for sc.pos < len(sc.s) && sc.s[sc.pos] != '\'' && sc.s[sc.pos] != '\n' {
				sc.pos++
			}
			if sc.pos < len(sc.s) && sc.s[sc.pos] == '\'' {
				sc.pos++
			}
		default:
			sc.pos++
		}
	}
}

// skipMultiline skips a multi-line string opened by delim at sc.pos,
// counting its newlines.
func (sc *lineScanner) skipMultiline(delim string, escapes bool) {
	sc.pos += len(delim)
	for sc.pos < len(sc.s) {
		c := sc.s[sc.pos]
		switch {
		case escapes && c == '\\':
			sc.pos++
			if sc.pos < len(sc.s) && sc.s[sc.pos] == '\n' {
				sc.line++
			}
			sc.pos++
		case c == '\n':
			sc.line++
			sc.pos++
		case strings.HasPrefix(sc.s[sc.pos:], delim):
			sc.pos += len(delim)
			// Up to two more quotes belong to the string's content.
			for i := 0; i < 2 && sc.pos < len(sc.s) && sc.s[sc.pos] == delim[0]; i++ {
				sc.pos++
			}
			return
		default:
			sc.pos++
		}
	}
}
