package importer

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/mailmirror/mailmirror/config"
)

// Result is a translated configuration.
type Result struct {
	// TOML is the mailmirror config, with comments for everything that was
	// not translated.
	TOML string
	// Accounts lists the names of the [[account]] tables written.
	Accounts []string
	// NotTranslated lists the source lines that could not be translated,
	// as "line N: <text>  # <reason>", in the order they appear in TOML.
	NotTranslated []string
	// Refused lists the source lines that change what a channel does and
	// that mailmirror cannot do the same way, as "line N: <text>: <why>".
	// When it is not empty the translation must not be used as it is:
	// mailmirror import writes nothing and fails.
	Refused []string
	// Warnings are things the user must act on, such as a plaintext
	// password that requires the output file to be readable by its owner
	// only.
	Warnings []string
}

// srcLine is one option of the source file: its line number and its text
// as written (several lines for INI continuation lines).
type srcLine struct {
	line int
	text string
}

// account is one [[account]] table being built.
type account struct {
	name   string
	origin string            // where it came from, for a comment
	keys   map[string]string // key -> TOML value
	before map[string][]string
	notes  []string // comment lines after the keys
	// userComments are the comment lines of the source's sections this
	// account came from, kept as written under its header.
	userComments []string
	seen         map[int]bool
}

func newAccount(name, origin string) *account {
	return &account{name: name, origin: origin, keys: map[string]string{}, before: map[string][]string{}, seen: map[int]bool{}}
}

// set sets key to an encoded TOML value, with comment lines (without "#")
// written just before it.
func (a *account) set(key, value string, comments ...string) {
	a.keys[key] = value
	a.before[key] = append(a.before[key], comments...)
}

func (a *account) setString(key, v string, comments ...string) {
	a.set(key, tomlString(v), comments...)
}

func (a *account) has(key string) bool { _, ok := a.keys[key]; return ok }

// builder collects the output.
type builder struct {
	tool     string // "mbsync" or "offlineimap"
	source   string
	top      []string // comment lines before the first account
	accounts []*account
	res      Result
	names    map[string]bool
}

func newBuilder(tool, source string) *builder {
	return &builder{tool: tool, source: source, names: map[string]bool{}}
}

// notTranslated records a source line that has no equivalent, as a comment
// of a (or of the top of the file when a is nil). A line already recorded
// for a is not repeated.
func (b *builder) notTranslated(a *account, l srcLine, reason string) {
	if a != nil {
		if a.seen[l.line] {
			return
		}
		a.seen[l.line] = true
	}
	lines := strings.Split(strings.TrimRight(l.text, " \t\r\n"), "\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " \t\r")
	}
	var c []string
	for i, t := range lines {
		prefix := "# not translated: "
		if i > 0 {
			prefix = "#                  "
		}
		s := prefix + t
		if i == len(lines)-1 && reason != "" {
			s += "  # " + reason
		}
		c = append(c, s)
	}
	if a != nil {
		a.notes = append(a.notes, c...)
	} else {
		b.top = append(b.top, c...)
	}
	entry := fmt.Sprintf("line %d: %s", l.line, strings.Join(lines, " "))
	if reason != "" {
		entry += "  # " + reason
	}
	b.res.NotTranslated = append(b.res.NotTranslated, entry)
}

// refuse records a source line whose behaviour mailmirror cannot
// reproduce, so that the import fails; it is also kept as a comment.
func (b *builder) refuse(a *account, l srcLine, why string) {
	text := strings.Join(strings.Fields(l.text), " ")
	b.res.Refused = append(b.res.Refused, fmt.Sprintf("line %d: %s: %s", l.line, text, why))
	c := "# REFUSED: " + text + "  # " + why
	if a != nil {
		a.notes = append(a.notes, c)
	} else {
		b.top = append(b.top, c)
	}
}

// note adds a "# note:" comment to a.
func (b *builder) note(a *account, format string, args ...any) {
	a.notes = append(a.notes, "# note: "+fmt.Sprintf(format, args...))
}

var (
	nameSanitizer = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[^A-Za-z0-9._-]+`) })
	nonAlnumRE    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[^A-Za-z0-9]+`) })
	safeWordRE    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`) }) // needs no shell quoting
)

// addAccount adds an account named after want, made valid and unique.
func (b *builder) addAccount(want, origin string) *account {
	name := strings.Trim(nameSanitizer().ReplaceAllString(want, "-"), "-")
	if name == "" || name == "." || name == ".." {
		name = "account"
	}
	base := name
	for i := 2; b.names[name]; i++ {
		name = fmt.Sprintf("%s-%d", base, i)
	}
	b.names[name] = true
	a := newAccount(name, origin)
	a.setString("name", name)
	b.accounts = append(b.accounts, a)
	return a
}

// setTLS writes tls (and allow_insecure when a clear-text connection goes
// to a host that is not loopback) for a.
func (b *builder) setTLS(a *account, mode, host string, from srcLine) {
	if mode != config.TLSNone {
		a.setString("tls", mode)
		return
	}
	a.setString("tls", mode)
	if host != "" && !isLoopback(host) {
		a.set("allow_insecure", "true",
			fmt.Sprintf("WARNING: the %s config used no TLS (line %d: %s): the password crosses the network in", b.tool, from.line, strings.TrimSpace(from.text)),
			"clear text. Remove allow_insecure and set tls = \"starttls\" or \"implicit\" if the server allows it.")
		b.res.Warnings = append(b.res.Warnings, fmt.Sprintf("account %q: no TLS to %s: the password crosses the network in clear text", a.name, host))
	}
}

// setPlainPassword writes a plaintext password with the warning it needs.
func (b *builder) setPlainPassword(a *account, pw string, from srcLine) {
	a.setString("password", pw,
		fmt.Sprintf("WARNING: plaintext password from line %d. mailmirror refuses a config file holding a", from.line),
		"password that group or others can read: chmod 600 this file, or better replace this line",
		"with password_command (e.g. \"pass show mail/"+a.name+"\") or password_env.")
	b.res.Warnings = append(b.res.Warnings, fmt.Sprintf("account %q: plaintext password: chmod 600 the config file, or use password_command or password_env", a.name))
}

// setPasswordPlaceholder is used when the source has no usable password:
// the user must supply it through the environment or a command.
func (b *builder) setPasswordPlaceholder(a *account, why string) {
	env := "MAILMIRROR_PASSWORD_" + strings.ToUpper(nonAlnumRE().ReplaceAllString(a.name, "_"))
	a.setString("password_env", env,
		why,
		"mailmirror runs unattended and cannot prompt: set this variable in its environment,",
		"or replace this line with password_command.")
	b.res.Warnings = append(b.res.Warnings, fmt.Sprintf("account %q: no password translated: set $%s or password_command", a.name, env))
}

// finish renders the TOML text.
func (b *builder) finish() *Result {
	var w strings.Builder
	fmt.Fprintf(&w, "# mailmirror configuration translated from %s by \"mailmirror import %s\".\n", oneLine(b.source), b.tool)
	w.WriteString("# Lines that have no equivalent are kept as \"# not translated:\" comments.\n")
	w.WriteString("# Review it, then run \"mailmirror check --config FILE\".\n")
	if len(b.top) > 0 {
		w.WriteString("\n")
		for _, c := range b.top {
			w.WriteString(c + "\n")
		}
	}
	if len(b.accounts) == 0 {
		fmt.Fprintf(&w, "\n# No account could be translated.\n")
	}
	for _, a := range b.accounts {
		w.WriteString("\n[[account]]\n")
		if a.origin != "" {
			w.WriteString("# from " + oneLine(a.origin) + "\n")
		}
		for _, c := range a.userComments {
			w.WriteString(c + "\n")
		}
		for _, k := range config.KeyDocs() {
			if k.Table != config.TableAccount {
				continue
			}
			v, ok := a.keys[k.Name]
			if !ok {
				continue
			}
			for _, c := range a.before[k.Name] {
				w.WriteString("# " + c + "\n")
			}
			fmt.Fprintf(&w, "%s = %s\n", k.Name, v)
		}
		for _, c := range a.notes {
			w.WriteString(c + "\n")
		}
		writeDefaults(&w, a)
		b.res.Accounts = append(b.res.Accounts, a.name)
	}
	b.res.TOML = w.String()
	return &b.res
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// tomlString encodes s as a TOML basic string.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 || r == 0x7f || r == utf8.RuneError {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// tomlStrings encodes a TOML array of strings.
func tomlStrings(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = tomlString(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func tomlInt(i int) string { return strconv.Itoa(i) }

// isLoopback reports whether host is localhost or a loopback address, as
// config does.
func isLoopback(host string) bool {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(h, "[]"))
	return ip != nil && ip.IsLoopback()
}

// shellQuote quotes s for sh so that it is one word, leaving a leading
// "~/" and $VAR references to the shell.
func shellQuote(s string) string {
	if safeWordRE().MatchString(s) {
		return s
	}
	home := ""
	if strings.HasPrefix(s, "~/") {
		home, s = `"$HOME"/`, s[2:]
	}
	var b strings.Builder
	b.WriteString(home)
	b.WriteByte('"')
	for _, r := range s {
		if r == '"' || r == '\\' || r == '`' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}

// shellJoin joins argv into a shell command line, quoting with single
// quotes where needed.
func shellJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		if safeWordRE().MatchString(a) {
			q[i] = a
		} else {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}

// mergePatterns appends the patterns of add that are not in have yet.
func mergePatterns(have, add []string) []string {
	seen := map[string]bool{}
	for _, p := range have {
		seen[p] = true
	}
	for _, p := range add {
		if !seen[p] {
			have = append(have, p)
			seen[p] = true
		}
	}
	return have
}

// importDefaults are the keys whose defaults change what a migrated
// account does, with their IMAP defaults, listed under each account the
// import did not set them for.
var importDefaults = []struct{ key, value, why string }{
	{"direction", `"both"`, "two-way: local changes, deletes included, go to the server"},
	{"delete_mode", `"expunge"`, "a message deleted here is expunged on the server"},
	{"idle_folders", `["INBOX"]`, "watched with IDLE, new mail at once"},
	{"poll_interval", `"2m"`, "other folders are checked this often"},
}

// writeDefaults lists, as comments, the defaults now in effect for a's
// behaviour keys it does not set.
func writeDefaults(w *strings.Builder, a *account) {
	if a.keys["protocol"] != tomlString(config.ProtocolIMAP) {
		return
	}
	first := true
	for _, d := range importDefaults {
		if a.has(d.key) || d.key == "delete_mode" && a.keys["direction"] == tomlString(config.DirectionPull) {
			continue
		}
		if first {
			w.WriteString("# defaults now in effect (uncomment and change to override):\n")
			first = false
		}
		fmt.Fprintf(w, "# %s = %s  # %s\n", d.key, d.value, d.why)
	}
}
