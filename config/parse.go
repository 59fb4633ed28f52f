package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/BurntSushi/toml"
)

// Load reads the config file at path and returns it parsed, with defaults
// filled in and validated. On Unix it refuses a file that holds a plaintext
// password and is readable by group or others. Relative paths in the file
// are relative to the directory of the file. When the file was read but is
// not valid, the error is an ErrorList naming every problem.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	p := newParser(data, path)
	p.run()
	if p.passwordLine > 0 && runtime.GOOS != "windows" && info.Mode().Perm()&0o077 != 0 {
		abs, err := filepath.Abs(path)
		if err != nil {
			abs = path
		}
		p.add(&Error{File: p.file, Line: p.passwordLine, Account: p.passwordAccount, Key: "password",
			Msg: fmt.Sprintf("the file holds a plaintext password and is readable by group or others (mode %04o): "+
				"run \"chmod 600 %s\", or use password_command or password_env instead", info.Mode().Perm(), abs)})
	}
	if len(p.errs) > 0 {
		return nil, p.sorted()
	}
	p.cfg.Path = path
	return p.cfg, nil
}

// Parse parses config text the way Load does, without the file permission
// check. filename is used in messages (its base name) and its directory
// is the base of relative paths. The returned Config has an empty Path.
func Parse(data []byte, filename string) (*Config, error) {
	p := newParser(data, filename)
	p.run()
	if len(p.errs) > 0 {
		return nil, p.sorted()
	}
	return p.cfg, nil
}

// parser holds the state of one Load or Parse.
type parser struct {
	file  string // base name, for messages
	dir   string // base of relative paths
	data  string
	lines *keyLines
	errs  ErrorList
	cfg   *Config

	passwordLine    int // first line with a plaintext password, 0 if none
	passwordAccount string
}

func newParser(data []byte, filename string) *parser {
	dir := filepath.Dir(filename)
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return &parser{file: filepath.Base(filename), dir: dir, data: string(data), cfg: &Config{}}
}

func (p *parser) add(e *Error) { p.errs = append(p.errs, e) }

// sorted returns the errors in line order, file-wide ones first.
func (p *parser) sorted() ErrorList {
	l := append(ErrorList(nil), p.errs...)
	sort.SliceStable(l, func(i, j int) bool { return l[i].Line < l[j].Line })
	return l
}

func (p *parser) run() {
	var raw map[string]any
	if _, err := toml.Decode(p.data, &raw); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			p.add(&Error{File: p.file, Line: pe.Position.Line, Msg: "invalid TOML: " + p.redact(pe.Message, pe.Position.Line)})
		} else {
			p.add(&Error{File: p.file, Msg: "invalid TOML: " + p.redact(err.Error(), 0)})
		}
		return
	}
	p.lines = scanKeyLines(p.data)

	top := &section{p: p, vals: map[string]any{}, line: func(k string) int { return p.lines.top[k] }}
	var accounts []map[string]any
	for _, k := range sortedKeys(raw, top.line) {
		v := raw[k]
		switch {
		case k == "account":
			accounts = p.accountTables(v)
		case keyDoc(TableTop, k) != nil:
			top.vals[k] = v
		default:
			top.unknown(k, v)
		}
	}
	p.top(top)

	var secs []*section
	for i, m := range accounts {
		s := &section{p: p, index: i, vals: map[string]any{}}
		s.line = func(k string) int { return p.lines.accountKey(s.index, k) }
		s.label = fmt.Sprintf("#%d", i+1)
		if n, ok := m["name"].(string); ok && n != "" {
			s.label = n
		}
		for _, k := range sortedKeys(m, s.line) {
			v := m[k]
			if keyDoc(TableAccount, k) != nil {
				s.vals[k] = v
			} else {
				s.unknown(k, v)
			}
		}
		a := s.decodeAccount()
		s.defaults(a)
		s.validate(a)
		p.cfg.Accounts = append(p.cfg.Accounts, a)
		secs = append(secs, s)
	}
	p.crossCheck(secs)
}

var (
	passwordLineRE = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^\s*(?:password|"password"|'password'|oauth_client_secret|"oauth_client_secret"|'oauth_client_secret')\s*=(.*)$`)
	})
	quotedRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`"((?:[^"\\]|\\.)*)"`) })
)

// redact hides a TOML syntax message that could show part of a password:
// one about a line setting password, or one quoting text that occurs in
// the value of such a line.
func (p *parser) redact(msg string, line int) string {
	const hidden = "syntax error in a password line (details not shown, they would show the password); write it as password = \"...\""
	lines := strings.Split(p.data, "\n")
	if line > 0 && line <= len(lines) && passwordLineRE().MatchString(lines[line-1]) {
		return hidden
	}
	for _, l := range lines {
		m := passwordLineRE().FindStringSubmatch(l)
		if m == nil {
			continue
		}
		for _, q := range quotedRE().FindAllStringSubmatch(msg, -1) {
			if q[1] != "" && strings.Contains(m[1], q[1]) {
				return hidden
			}
		}
	}
	return msg
}

// accountTables returns the [[account]] tables, or reports that account is
// not an array of tables.
func (p *parser) accountTables(v any) []map[string]any {
	line := p.lines.top["account"]
	switch t := v.(type) {
	case []map[string]any:
		return t
	case []any:
		var out []map[string]any
		for _, e := range t {
			m, ok := e.(map[string]any)
			if !ok {
				p.add(&Error{File: p.file, Line: line, Key: "account", Msg: "must be an array of tables ([[account]]), got " + repr(v)})
				return nil
			}
			out = append(out, m)
		}
		return out
	case map[string]any:
		p.add(&Error{File: p.file, Line: line, Key: "account", Msg: "must be written [[account]] (an array of tables), not [account]"})
	default:
		p.add(&Error{File: p.file, Line: line, Key: "account", Msg: "must be an array of tables ([[account]]), got " + repr(v)})
	}
	return nil
}

// top decodes, defaults and validates the top-level keys.
func (p *parser) top(s *section) {
	c := p.cfg
	if v, ok := s.path("state_dir"); ok {
		c.StateDir = v
	} else if !s.bad["state_dir"] {
		d, err := DefaultStateDir()
		if err != nil {
			s.errorf("state_dir", "%v; set state_dir", err)
		}
		c.StateDir = d
	}
	c.LogLevel, _ = s.str("log_level")
	c.LogFormat, _ = s.str("log_format")

	if c.LogLevel == "" && !s.has("log_level") {
		c.LogLevel = "info"
	}
	if c.LogFormat == "" && !s.has("log_format") {
		c.LogFormat = "text"
	}

	s.oneOf("log_level", c.LogLevel, "debug", "info", "warn", "error")
	s.oneOf("log_format", c.LogFormat, "text", "json")
}

// section is one table being decoded: the top level or one account.
type section struct {
	p     *parser
	index int    // account index
	label string // account label for messages, "" for the top level
	// prefix is put before key names in messages ("folder_policy." in
	// the tables of an account's folder_policy).
	prefix string
	vals   map[string]any
	line   func(key string) int
	bad    map[string]bool // keys whose value had the wrong type or could not be expanded
}

func (s *section) errorf(key, format string, args ...any) {
	s.p.add(&Error{File: s.p.file, Line: s.line(key), Account: s.label, Key: s.prefix + key, Msg: fmt.Sprintf(format, args...)})
}

// errorAt reports a problem not tied to one key at line.
func (s *section) errorAt(line int, format string, args ...any) {
	s.p.add(&Error{File: s.p.file, Line: line, Account: s.label, Msg: fmt.Sprintf(format, args...)})
}

func (s *section) unknown(key string, v any) {
	what := "key"
	if _, ok := v.(map[string]any); ok {
		what = "table"
	}
	table := TableTop
	if s.label != "" {
		table = TableAccount
	}
	hint := ""
	if what == "key" {
		hint = didYouMean(table, key)
	}
	s.errorAt(s.line(key), "unknown %s %q%s", what, key, hint)
}

func (s *section) has(key string) bool { _, ok := s.vals[key]; return ok }

// ok reports whether key is set with a usable value.
func (s *section) ok(key string) bool { return s.has(key) && !s.bad[key] }

func (s *section) markBad(key string) {
	if s.bad == nil {
		s.bad = map[string]bool{}
	}
	s.bad[key] = true
}

// got renders the value of key as written, for messages.
func (s *section) got(key string) string { return repr(s.vals[key]) }

func (s *section) typeError(key, want string) {
	s.markBad(key)
	if key == "password" || key == "oauth_client_secret" {
		s.errorf(key, "must be %s", want)
		return
	}
	s.errorf(key, "must be %s, got %s", want, s.got(key))
}

func (s *section) str(key string) (string, bool) {
	v, ok := s.vals[key]
	if !ok {
		return "", false
	}
	str, ok := v.(string)
	if !ok {
		s.typeError(key, "a string")
		return "", false
	}
	return str, true
}

func (s *section) boolean(key string) (bool, bool) {
	v, ok := s.vals[key]
	if !ok {
		return false, false
	}
	b, ok := v.(bool)
	if !ok {
		s.typeError(key, "true or false")
		return false, false
	}
	return b, true
}

func (s *section) integer(key string) (int, bool) {
	v, ok := s.vals[key]
	if !ok {
		return 0, false
	}
	i, ok := v.(int64)
	if !ok {
		s.typeError(key, "an integer")
		return 0, false
	}
	if int64(int(i)) != i {
		s.markBad(key)
		s.errorf(key, "out of range, got %d", i)
		return 0, false
	}
	return int(i), true
}

func (s *section) strings(key string) ([]string, bool) {
	v, ok := s.vals[key]
	if !ok {
		return nil, false
	}
	arr, ok := v.([]any)
	if !ok {
		s.typeError(key, "an array of strings")
		return nil, false
	}
	out := make([]string, 0, len(arr))
	for _, e := range arr {
		str, ok := e.(string)
		if !ok {
			s.typeError(key, "an array of strings")
			return nil, false
		}
		out = append(out, str)
	}
	return out, true
}

func (s *section) duration(key string) (time.Duration, bool) {
	v, ok := s.vals[key]
	if !ok {
		return 0, false
	}
	str, isString := v.(string)
	d, err := ParseDuration(str)
	if !isString || err != nil {
		s.markBad(key)
		s.errorf(key, "must be a duration such as \"90s\", \"5m\" or \"14d\", got %s", s.got(key))
		return 0, false
	}
	return d, true
}

// path returns key expanded (~, $VAR) and made absolute.
func (s *section) path(key string) (string, bool) {
	str, ok := s.str(key)
	if !ok {
		return "", false
	}
	if str == "" {
		s.markBad(key)
		s.errorf(key, "must not be empty")
		return "", false
	}
	p, err := expandPath(str, s.p.dir)
	if err != nil {
		s.markBad(key)
		s.errorf(key, "%v, got %s", err, s.got(key))
		return "", false
	}
	return p, true
}

// oneOf reports key's value when it is not one of allowed.
func (s *section) oneOf(key, v string, allowed ...string) bool {
	if s.bad[key] {
		return false
	}
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	q := make([]string, len(allowed))
	for i, a := range allowed {
		q[i] = strconv.Quote(a)
	}
	list := strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
	got := strconv.Quote(v)
	if s.has(key) {
		got = s.got(key)
	}
	s.errorf(key, "must be %s, got %s", list, got)
	return false
}

// sortedKeys returns the keys of m by line, then by name, so that messages
// come out in a stable order.
func sortedKeys(m map[string]any, line func(string) int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		li, lj := line(keys[i]), line(keys[j])
		if li != lj {
			return li < lj
		}
		return keys[i] < keys[j]
	})
	return keys
}

// repr renders a decoded TOML value roughly as it was written.
func repr(v any) string {
	switch t := v.(type) {
	case nil:
		return "nothing"
	case string:
		return strconv.Quote(t)
	case int64:
		return strconv.FormatInt(t, 10)
	case float64:
		return strconv.FormatFloat(t, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(t)
	case time.Time:
		return t.Format(time.RFC3339Nano)
	case []any:
		s := make([]string, len(t))
		for i, e := range t {
			s[i] = repr(e)
		}
		return "[" + strings.Join(s, ", ") + "]"
	case []map[string]any:
		return "an array of tables"
	case map[string]any:
		return "a table"
	default:
		return fmt.Sprint(t)
	}
}
