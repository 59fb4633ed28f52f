package importer

import (
	"regexp"
	"strings"
	"sync"
)

// The OfflineIMAP config holds Python expressions. Only a few plain forms
// are understood here; everything else is left untranslated.

// pyLiteral reads a Python string literal ('...' or "...", optionally
// prefixed with r, u or b) or a list or tuple of them at s[i:], after
// spaces. It returns the string or the []string and the index after it.
func pyLiteral(s string, i int) (any, int, bool) {
	i = skipSpace(s, i)
	if i >= len(s) {
		return nil, i, false
	}
	if s[i] == '[' || s[i] == '(' {
		closer := byte(']')
		if s[i] == '(' {
			closer = ')'
		}
		i++
		list := []string{}
		for {
			i = skipSpace(s, i)
			if i < len(s) && s[i] == closer {
				return list, i + 1, true
			}
			v, j, ok := pyString(s, i)
			if !ok {
				return nil, i, false
			}
			list = append(list, v)
			i = skipSpace(s, j)
			if i < len(s) && s[i] == ',' {
				i++
				continue
			}
			if i < len(s) && s[i] == closer {
				return list, i + 1, true
			}
			return nil, i, false
		}
	}
	v, j, ok := pyString(s, i)
	if !ok {
		return nil, i, false
	}
	return v, j, true
}

// pyString reads one string literal at s[i:] (after spaces); adjacent
// literals are not joined.
func pyString(s string, i int) (string, int, bool) {
	i = skipSpace(s, i)
	raw := false
	for i < len(s) && strings.ContainsRune("rRuUbB", rune(s[i])) && i+1 < len(s) && (s[i+1] == '\'' || s[i+1] == '"' || strings.ContainsRune("rRuUbB", rune(s[i+1]))) {
		if s[i] == 'r' || s[i] == 'R' {
			raw = true
		}
		i++
	}
	if i >= len(s) || (s[i] != '\'' && s[i] != '"') {
		return "", i, false
	}
	q := s[i]
	i++
	var b strings.Builder
	for i < len(s) {
		c := s[i]
		switch {
		case c == q:
			return b.String(), i + 1, true
		case c == '\n':
			return "", i, false
		case c == '\\' && i+1 < len(s):
			n := s[i+1]
			if raw {
				b.WriteByte(c)
				b.WriteByte(n)
			} else {
				switch n {
				case 'n':
					b.WriteByte('\n')
				case 't':
					b.WriteByte('\t')
				case '\\', '\'', '"':
					b.WriteByte(n)
				default:
					b.WriteByte(c)
					b.WriteByte(n)
				}
			}
			i += 2
		default:
			b.WriteByte(c)
			i++
		}
	}
	return "", i, false
}

func skipSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\\' && i+1 < len(s) && s[i+1] == '\n') {
		i++
	}
	return i
}

// pyWholeLiteral returns the literal when s is nothing but one literal.
func pyWholeLiteral(s string) (any, bool) {
	v, end, ok := pyLiteral(s, 0)
	if !ok || skipSpace(s, end) != len(s) {
		return nil, false
	}
	return v, true
}

// pyStringList returns a list or tuple of string literals, or a single
// string (as a list of one).
func pyStringList(s string) ([]string, bool) {
	v, ok := pyWholeLiteral(s)
	if !ok {
		return nil, false
	}
	switch t := v.(type) {
	case []string:
		return t, true
	case string:
		return []string{t}, true
	}
	return nil, false
}

var folderFilterRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?s)^lambda\s+(\w+)\s*:\s*(\w+)\s+(not\s+in|in)\s+(.*)$`)
})

// pyFolderFilter understands "lambda f: f in [...]" and
// "lambda f: f not in [...]". It returns the names and whether the form
// is "not in".
func pyFolderFilter(s string) (names []string, exclude bool, ok bool) {
	s = strings.TrimSpace(strings.ReplaceAll(s, "\\\n", " "))
	m := folderFilterRE().FindStringSubmatch(s)
	if m == nil || m[1] != m[2] {
		return nil, false, false
	}
	v, ok := pyWholeLiteral(m[4])
	if !ok {
		return nil, false, false
	}
	names, isList := v.([]string) // "f in 'INBOX'" would be a substring test
	if !isList {
		return nil, false, false
	}
	return names, strings.HasPrefix(m[3], "not"), true
}

// pyPassword understands the plain forms of remotepasseval: a string
// literal, an environment variable (os.getenv, os.environ), and a command
// run through subprocess or os.popen. kind is "literal", "env" or
// "command".
func pyPassword(s string) (kind, value string, ok bool) {
	s = strings.TrimSpace(strings.ReplaceAll(s, "\\\n", " "))
	if v, ok := pyWholeLiteral(s); ok {
		if str, isString := v.(string); isString {
			return "literal", str, true
		}
		return "", "", false
	}
	if m := envCallRE().FindStringSubmatch(s); m != nil {
		if v, ok := pyWholeLiteral(m[1]); ok {
			if str, isString := v.(string); isString {
				return "env", str, true
			}
		}
		return "", "", false
	}
	if m := envIndexRE().FindStringSubmatch(s); m != nil {
		if v, ok := pyWholeLiteral(m[1]); ok {
			if str, isString := v.(string); isString {
				return "env", str, true
			}
		}
		return "", "", false
	}
	if cmd, ok := pyCommand(s); ok {
		return "command", cmd, true
	}
	return "", "", false
}

var (
	envCallRE  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^os\.(?:getenv|environ\.get)\(\s*(.*?)\s*\)$`) })
	envIndexRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^os\.environ\[\s*(.*?)\s*\]$`) })
	callRE     = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(subprocess\.check_output|subprocess\.getoutput|subprocess\.run|os\.popen)\(`)
	})
	kwargRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^\s*,\s*(\w+)\s*=\s*(True|False|None|subprocess\.PIPE|subprocess\.DEVNULL|'[^']*'|"[^"]*")`)
	})
	chainRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(?:\.(?:strip|rstrip|lstrip|decode|read|readline)\(\s*(?:'[^']*'|"[^"]*")?\s*\)|\.stdout|\.splitlines\(\)\[0\]|\.split\(\s*(?:'\\n'|"\\n")\s*\)\[0\])`)
	})
)

// pyCommand understands subprocess.check_output(ARG, ...),
// subprocess.run(ARG, ..., capture_output=True).stdout,
// subprocess.getoutput("cmd") and os.popen("cmd").read(), where ARG is a
// string (a shell command) or a list of strings (argv), followed by
// .decode(), .strip() and the like. It returns the shell command.
func pyCommand(s string) (string, bool) {
	m := callRE().FindStringSubmatch(s)
	if m == nil {
		return "", false
	}
	fn := m[1]
	v, i, ok := pyLiteral(s, len(m[0]))
	if !ok {
		return "", false
	}
	captured := false
	for {
		k := kwargRE().FindStringSubmatch(s[i:])
		if k == nil {
			break
		}
		if (k[1] == "capture_output" && k[2] == "True") || (k[1] == "stdout" && k[2] == "subprocess.PIPE") {
			captured = true
		}
		i += len(k[0])
	}
	i = skipSpace(s, i)
	if i < len(s) && s[i] == ',' {
		i = skipSpace(s, i+1)
	}
	if i >= len(s) || s[i] != ')' {
		return "", false
	}
	rest := s[i+1:]
	stdout := false
	for rest != "" {
		c := chainRE().FindString(rest)
		if c == "" {
			return "", false
		}
		if c == ".stdout" {
			stdout = true
		}
		rest = strings.TrimLeft(rest[len(c):], " ")
	}
	if fn == "subprocess.run" && !(captured && stdout) {
		return "", false
	}
	if (fn == "subprocess.getoutput" || fn == "os.popen") && !isString(v) {
		return "", false
	}
	switch t := v.(type) {
	case string:
		return t, t != ""
	case []string:
		return shellJoin(t), len(t) > 0
	}
	return "", false
}

func isString(v any) bool { _, ok := v.(string); return ok }
