package importer

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mailmirror/mailmirror/config"
)

// iniOpt is one option of an INI file (Python configparser syntax).
type iniOpt struct {
	key     string // lower case
	value   string // continuation lines joined with "\n"
	src     srcLine
	handled bool
}

type iniSection struct {
	name    string
	head    srcLine
	opts    []*iniOpt
	touched bool // some account used the section
	// comments are the user's comment lines in and just before the
	// section, as written.
	comments []string
}

// get returns the last option called key, or nil.
func (s *iniSection) get(key string) *iniOpt {
	if s == nil {
		return nil
	}
	for i := len(s.opts) - 1; i >= 0; i-- {
		if s.opts[i].key == key {
			return s.opts[i]
		}
	}
	return nil
}

type iniFile struct {
	sections []*iniSection
	byName   map[string]*iniSection
	def      *iniSection // [DEFAULT]
	orphans  []*iniOpt   // options before the first section header
	comments []string    // comment lines before the first section header
}

// parseINI reads the file as Python's configparser does: "[section]"
// headers, "key = value" or "key: value" options with keys in lower case,
// indented continuation lines, and whole-line comments starting with "#"
// or ";".
func parseINI(text string) *iniFile {
	f := &iniFile{byName: map[string]*iniSection{}}
	var cur *iniSection
	var last *iniOpt
	var pending []string // comment lines not yet given to a section
	flush := func() {
		if cur != nil {
			cur.comments = append(cur.comments, pending...)
		} else {
			f.comments = append(f.comments, pending...)
		}
		pending = nil
	}
	defer flush()
	for i, raw := range strings.Split(text, "\n") {
		raw = strings.TrimRight(strings.TrimSuffix(raw, "\r"), " \t")
		t := strings.TrimSpace(raw)
		switch {
		case t == "":
			last = nil
		case t[0] == '#' || t[0] == ';':
			pending = append(pending, "# "+strings.TrimSpace(t[1:]))
		case (raw[0] == ' ' || raw[0] == '\t') && last != nil:
			last.value += "\n" + t
			last.src.text += "\n" + raw
		case t[0] == '[' && strings.HasSuffix(t, "]"):
			name := strings.TrimSpace(t[1 : len(t)-1])
			cur = &iniSection{name: name, head: srcLine{i + 1, t}, comments: pending}
			pending = nil
			if name == "DEFAULT" {
				f.def = cur
			}
			f.sections = append(f.sections, cur)
			f.byName[name] = cur
			last = nil
		default:
			k, v := t, ""
			if j := strings.IndexAny(t, "=:"); j >= 0 {
				k, v = t[:j], t[j+1:]
			}
			flush()
			o := &iniOpt{key: strings.ToLower(strings.TrimSpace(k)), value: strings.TrimSpace(v), src: srcLine{i + 1, t}}
			if cur == nil {
				f.orphans = append(f.orphans, o)
			} else {
				cur.opts = append(cur.opts, o)
			}
			last = o
		}
	}
	return f
}

// lookup returns the option key of section s or of [DEFAULT], and its
// value with %(name)s references and %% resolved.
func (f *iniFile) lookup(s *iniSection, key string) (*iniOpt, string) {
	o := s.get(key)
	if o == nil && s != f.def {
		o = f.def.get(key)
	}
	if o == nil {
		return nil, ""
	}
	return o, f.interpolate(s, o.value, 0)
}

var interpRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`%%|%\(([^)]*)\)s`) })

func (f *iniFile) interpolate(s *iniSection, v string, depth int) string {
	if depth > 10 {
		return v
	}
	return interpRE().ReplaceAllStringFunc(v, func(m string) string {
		if m == "%%" {
			return "%"
		}
		name := strings.ToLower(interpRE().FindStringSubmatch(m)[1])
		o := s.get(name)
		if o == nil {
			o = f.def.get(name)
		}
		if o == nil {
			return m
		}
		o.handled = true
		return f.interpolate(s, o.value, depth+1)
	})
}

func iniBool(v string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "yes", "true", "on":
		return true, true
	case "0", "no", "false", "off":
		return false, true
	}
	return false, false
}

// Reasons shared by several OfflineIMAP options.
const (
	reasonEveryMessage = "no equivalent: mailmirror mirrors every message of a synced folder"
	reasonNoEquivalent = "no equivalent in mailmirror"
	reasonUnknown      = "not known to the importer"
	reasonAuth         = "no equivalent: mailmirror logs in with username and password"
	reasonTLSVersion   = "no equivalent: mailmirror requires TLS 1.2 or later"
)

var oiGeneralReasons = map[string]string{
	"pythonfile":      "no equivalent: mailmirror runs no Python (see the remotepasseval lines, if any)",
	"metadata":        "no equivalent: mailmirror keeps its sync state in state_dir",
	"maxsyncaccounts": "no equivalent: mailmirror syncs every account at the same time",
	"ui":              "no equivalent: mailmirror logs (log_level, log_format)",
	"ignore-readonly": reasonNoEquivalent,
	"socktimeout":     "no equivalent: mailmirror detects dead connections itself",
	"fsync":           "no equivalent: mailmirror always syncs messages to disk before recording them",
	"dry-run":         reasonNoEquivalent,
}

var oiAccountReasons = map[string]string{
	"presynchook":                "no equivalent: mailmirror has no hook before a sync",
	"quick":                      "not needed: mailmirror asks the server only for what changed",
	"startdate":                  reasonEveryMessage,
	"maxsize":                    reasonEveryMessage,
	"synclabels":                 reasonNoEquivalent,
	"labelsheader":               reasonNoEquivalent,
	"ignorelabels":               reasonNoEquivalent,
	"filterheaders":              reasonNoEquivalent,
	"proxy":                      reasonNoEquivalent,
	"authproxy":                  reasonNoEquivalent,
	"utf8foldernames":            reasonNoEquivalent,
	"maildir-windows-compatible": "not needed: mailmirror picks the Maildir file name format for the OS",
	"status_backend":             "no equivalent: mailmirror keeps its sync state in state_dir",
}

var oiRemoteReasons = map[string]string{
	"cert_fingerprint":      "no equivalent: mailmirror verifies certificates against CAs (system ones and tls_ca_file), not fingerprints",
	"ssl_version":           reasonTLSVersion,
	"tls_level":             reasonTLSVersion,
	"sslclientcert":         "no equivalent: mailmirror does not send client certificates",
	"sslclientkey":          "no equivalent: mailmirror does not send client certificates",
	"nametrans":             "no equivalent: mailmirror keeps the server's folder names (without the personal namespace prefix such as INBOX.)",
	"holdconnectionopen":    "not needed: mailmirror keeps its connections open",
	"keepalive":             "not needed: mailmirror keeps its connections alive itself",
	"expunge":               "no equivalent: mailmirror expunges what was deleted (see delete_mode)",
	"realdelete":            reasonNoEquivalent,
	"subscribedonly":        "no equivalent: mailmirror syncs every folder matching folders, subscribed or not",
	"reference":             "no equivalent: mailmirror syncs the folders of the server's personal namespace",
	"auth_mechanisms":       "no equivalent: mailmirror chooses the authentication mechanism itself",
	"remote_identity":       reasonAuth,
	"usecompression":        "no equivalent: mailmirror does not compress connections",
	"singlethreadperfolder": "no equivalent: not configurable in mailmirror",
	"createfolders":         "no equivalent: mailmirror decides itself when to create folders",
	"foldersort":            "no equivalent: not configurable in mailmirror",
	"folderincludes":        "no equivalent: list the folders in folders",
	"dynamic_folderfilter":  "not needed: mailmirror applies folders to every folder list it gets",
	"decodefoldernames":     reasonNoEquivalent,
	"ipv6":                  "no equivalent: mailmirror uses whatever address the host name resolves to",
	"preauthtunnel":         "no equivalent: mailmirror connects over TCP to host and port",
	"transporttunnel":       "no equivalent: mailmirror connects over TCP to host and port",
	"trashfolder":           reasonNoEquivalent,
	"spamfolder":            reasonNoEquivalent,
	"sync_deletes":          "no equivalent: mailmirror always syncs deletions both ways",
	"copy_ignore_eval":      reasonNoEquivalent,
}

var oiLocalReasons = map[string]string{
	"nametrans":                   "no equivalent: mailmirror names local folders after the server's",
	"folderfilter":                "no equivalent: mailmirror filters folders by server name only (folders)",
	"restoreatime":                reasonNoEquivalent,
	"utime_from_header":           reasonNoEquivalent,
	"filename_use_mail_timestamp": reasonNoEquivalent,
	"sync_deletes":                "no equivalent: mailmirror always syncs deletions both ways",
	"startdate":                   reasonEveryMessage,
	"maxage":                      reasonEveryMessage,
	"readonly":                    reasonNoEquivalent,
	"createfolders":               "no equivalent: mailmirror decides itself when to create folders",
	"foldersort":                  reasonNoEquivalent,
	"folderincludes":              reasonNoEquivalent,
}

// OfflineIMAP translates the text of an OfflineIMAP config file
// (~/.offlineimaprc) into a mailmirror config. source names the file in
// the output's header. Each account of [general] accounts whose local
// repository is a Maildir and remote one IMAP or Gmail becomes one
// account. It returns an error only when data is not text.
func OfflineIMAP(data []byte, source string) (*Result, error) {
	if err := checkText(data); err != nil {
		return nil, err
	}
	b := newBuilder("offlineimap", source)
	f := parseINI(string(data))
	b.top = append(b.top, f.comments...)
	if g := f.byName["general"]; g != nil {
		b.top = append(b.top, g.comments...)
	}
	for _, o := range f.orphans {
		b.notTranslated(nil, o.src, "outside any [section]")
	}

	general := f.byName["general"]
	var names []string
	if general != nil {
		general.touched = true
		for _, o := range general.opts {
			if o.key == "accounts" {
				o.handled = true
				continue
			}
			reason, ok := oiGeneralReasons[o.key]
			if !ok {
				reason = reasonUnknown
			}
			b.notTranslated(nil, o.src, reason)
			o.handled = true
		}
		if _, v := f.lookup(general, "accounts"); v != "" {
			for _, n := range strings.Split(v, ",") {
				if n = strings.TrimSpace(n); n != "" {
					names = append(names, n)
				}
			}
		}
	}
	if names == nil {
		// No [general] accounts: take every account section.
		for _, s := range f.sections {
			if n, ok := strings.CutPrefix(s.name, "Account "); ok {
				names = append(names, strings.TrimSpace(n))
			}
		}
	}

	for _, n := range names {
		as := f.byName["Account "+n]
		if as == nil {
			if o := general.get("accounts"); o != nil {
				b.notTranslated(nil, o.src, fmt.Sprintf("there is no [Account %s] section", n))
			}
			continue
		}
		b.oiAccount(f, n, as)
	}

	// Whatever no account used.
	for _, s := range f.sections {
		if s == f.def {
			for _, o := range s.opts {
				if !o.handled {
					b.notTranslated(nil, o.src, "[DEFAULT] value not used by a translated setting")
				}
			}
			continue
		}
		if s.touched {
			continue
		}
		b.top = append(b.top, s.comments...)
		reason := reasonNoEquivalent
		switch {
		case s.name == "mbnames":
			reason = "no equivalent: mailmirror writes no mailbox list for the mail client"
		case strings.HasPrefix(s.name, "Account "):
			reason = "account not listed in [general] accounts, so OfflineIMAP did not sync it either"
		case strings.HasPrefix(s.name, "Repository "):
			reason = "repository not used by a translated account"
		case strings.HasPrefix(s.name, "ui."):
			reason = "no equivalent: mailmirror logs (log_level, log_format)"
		}
		b.notTranslated(nil, s.head, reason)
		for _, o := range s.opts {
			b.notTranslated(nil, o.src, "part of the section above")
		}
	}
	return b.finish(), nil
}

// oiAccount translates one [Account name] with its two repositories.
func (b *builder) oiAccount(f *iniFile, name string, as *iniSection) {
	_, localName := f.lookup(as, "localrepository")
	_, remoteName := f.lookup(as, "remoterepository")
	local := f.byName["Repository "+localName]
	remote := f.byName["Repository "+remoteName]
	_, localType := f.lookup(local, "type")
	_, remoteType := f.lookup(remote, "type")
	localType, remoteType = strings.ToLower(localType), strings.ToLower(remoteType)

	var why string
	switch {
	case local == nil:
		why = fmt.Sprintf("its local repository %q has no [Repository] section", localName)
	case remote == nil:
		why = fmt.Sprintf("its remote repository %q has no [Repository] section", remoteName)
	case localType != "maildir" && localType != "gmailmaildir":
		why = fmt.Sprintf("mailmirror syncs with a local Maildir; the local repository has type %q", localType)
	case remoteType != "imap" && remoteType != "gmail":
		why = fmt.Sprintf("mailmirror syncs an IMAP server; the remote repository has type %q", remoteType)
	}
	if why != "" {
		// Leave the sections to the final sweep, with this reason on the
		// account's header.
		as.touched = true
		b.notTranslated(nil, as.head, "account not translated: "+why)
		for _, o := range as.opts {
			b.notTranslated(nil, o.src, "part of the section above")
		}
		return
	}
	as.touched, local.touched, remote.touched = true, true, true
	a := b.addAccount(name, fmt.Sprintf("[Account %s], [Repository %s], [Repository %s] in %s", name, localName, remoteName, b.source))
	a.userComments = append(append(append(a.userComments, as.comments...), local.comments...), remote.comments...)
	a.setString("protocol", config.ProtocolIMAP)

	// [Account]
	for _, o := range as.opts {
		_, v := f.lookup(as, o.key)
		switch o.key {
		case "localrepository", "remoterepository":
		case "autorefresh":
			min, err := strconv.ParseFloat(v, 64)
			if err != nil || min <= 0 {
				b.notTranslated(a, o.src, "not a positive number of minutes")
				continue
			}
			a.setString("poll_interval", minutesToDuration(min),
				fmt.Sprintf("from autorefresh (line %d); folders in idle_folders get new mail at once", o.src.line))
		case "maxage":
			days, err := strconv.Atoi(v)
			if err != nil || days <= 0 {
				b.refuse(a, o.src, "only a number of days is translated (max_age); OfflineIMAP left older messages alone, so leaving this out would download them")
				continue
			}
			a.setString("max_age", fmt.Sprintf("%dd", days), fmt.Sprintf("from maxage (line %d): older messages stay on the server, untouched", o.src.line))
		case "postsynchook":
			a.setString("on_new_mail", v,
				fmt.Sprintf("from postsynchook (line %d): OfflineIMAP ran it after every sync, mailmirror runs it after new mail arrived", o.src.line))
		default:
			reason, ok := oiAccountReasons[o.key]
			if !ok {
				reason = reasonUnknown
			}
			b.notTranslated(a, o.src, reason)
		}
		o.handled = true
	}

	b.oiRemote(f, a, remote, remoteType)
	b.oiLocal(f, a, local)
	if !a.has("folders") {
		a.set("folders", tomlStrings([]string{"*"}))
	}
}

// minutesToDuration writes a number of minutes as a duration string:
// 2.5 is "2m30s", 60 is "1h".
func minutesToDuration(min float64) string {
	d := time.Duration(min*float64(time.Minute) + 0.5).Round(time.Second)
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// oiRemote translates the remote (IMAP or Gmail) repository.
func (b *builder) oiRemote(f *iniFile, a *account, r *iniSection, typ string) {
	host := ""
	if typ == "gmail" {
		host = "imap.gmail.com"
		a.setString("host", host, "the remote repository has type = Gmail")
	}
	ssl, starttls := true, true // OfflineIMAP's defaults
	var tlsFrom srcLine
	for _, o := range r.opts {
		_, v := f.lookup(r, o.key)
		o.handled = true
		switch o.key {
		case "type":
		case "remotehost":
			host = v
			a.setString("host", v)
		case "remotehosteval", "remoteusereval", "remoteporteval":
			lit, ok := pyWholeLiteral(v)
			s, isString := lit.(string)
			if !ok {
				b.notTranslated(a, o.src, "calls Python code: write the value itself")
				continue
			}
			switch {
			case o.key == "remotehosteval" && isString:
				host = s
				a.setString("host", s)
			case o.key == "remoteusereval" && isString:
				a.setString("username", s)
			case o.key == "remoteporteval" && isString:
				if n, err := strconv.Atoi(s); err == nil {
					a.set("port", tomlInt(n))
				} else {
					b.notTranslated(a, o.src, "not a port number")
				}
			default:
				b.notTranslated(a, o.src, "not a plain value")
			}
		case "remoteport":
			n, err := strconv.Atoi(v)
			if err != nil {
				b.notTranslated(a, o.src, "not a port number")
				continue
			}
			a.set("port", tomlInt(n))
		case "remoteuser":
			a.setString("username", v)
		case "remotepass":
			b.setPlainPassword(a, v, o.src)
		case "remotepassfile":
			a.setString("password_command", "cat "+shellQuote(v),
				fmt.Sprintf("from remotepassfile (line %d)", o.src.line))
		case "remotepasseval":
			kind, val, ok := pyPassword(v)
			switch {
			case !ok:
				b.notTranslated(a, o.src, "calls Python code (a function of pythonfile?): write the equivalent shell command as password_command")
			case kind == "literal":
				b.setPlainPassword(a, val, o.src)
			case kind == "env":
				a.setString("password_env", val, fmt.Sprintf("from remotepasseval (line %d)", o.src.line))
			default:
				a.setString("password_command", val, fmt.Sprintf("from remotepasseval (line %d)", o.src.line))
			}
		case "ssl", "starttls":
			bv, ok := iniBool(v)
			if !ok {
				b.notTranslated(a, o.src, "not yes or no")
				continue
			}
			if o.key == "ssl" {
				ssl = bv
			} else {
				starttls = bv
			}
			tlsFrom = o.src
		case "sslcacertfile":
			if v == "OS-DEFAULT" {
				b.note(a, "sslcacertfile = OS-DEFAULT (line %d): mailmirror always trusts the system's CA certificates", o.src.line)
				continue
			}
			a.setString("tls_ca_file", v)
		case "folderfilter":
			names, exclude, ok := pyFolderFilter(v)
			if !ok {
				b.notTranslated(a, o.src, "only \"lambda f: f in [...]\" and \"lambda f: f not in [...]\" can be translated: list the folders in folders")
				a.set("folders", "[]", fmt.Sprintf("folderfilter (line %d) could not be translated: list the folders to sync", o.src.line))
				continue
			}
			var pats []string
			if exclude {
				pats = append(pats, "*")
			}
			for _, n := range names {
				p := b.oiFolderName(a, n)
				if exclude {
					p = "!" + p
				}
				pats = append(pats, p)
			}
			a.set("folders", tomlStrings(pats), fmt.Sprintf("from folderfilter (line %d)", o.src.line))
		case "idlefolders":
			names, ok := pyStringList(v)
			if !ok {
				b.notTranslated(a, o.src, "not a plain list of folder names")
				continue
			}
			for i := range names {
				names[i] = b.oiFolderName(a, names[i])
			}
			a.set("idle_folders", tomlStrings(names))
		case "maxconnections":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				b.notTranslated(a, o.src, "not a positive number")
				continue
			}
			if n > 64 {
				b.note(a, "maxconnections = %d (line %d) is above mailmirror's limit of 64", n, o.src.line)
				n = 64
			}
			a.set("max_connections", tomlInt(n))
		case "readonly":
			b.oiReadonly(a, o.src, v, config.DirectionPull)
		case "sync_deletes":
			b.oiSyncDeletes(a, o.src, v)
		default:
			if strings.HasPrefix(o.key, "oauth2_") {
				b.notTranslated(a, o.src, reasonAuth)
				continue
			}
			reason, ok := oiRemoteReasons[o.key]
			if !ok {
				reason = reasonUnknown
			}
			b.notTranslated(a, o.src, reason)
		}
	}
	switch {
	case ssl:
		b.setTLS(a, config.TLSImplicit, host, tlsFrom)
	case starttls:
		b.setTLS(a, config.TLSStartTLS, host, tlsFrom)
	default:
		b.setTLS(a, config.TLSNone, host, tlsFrom)
	}
	if !a.has("password") && !a.has("password_command") && !a.has("password_env") {
		b.setPasswordPlaceholder(a, "OfflineIMAP took this password from ~/.netrc, Python code or a prompt.")
	}
}

// oiReadonly translates readonly = True of a repository: the other side
// then only receives (dir is the direction that leaves this side alone).
// Both sides read-only is refused.
func (b *builder) oiReadonly(a *account, l srcLine, v string, dir string) {
	on, ok := iniBool(v)
	switch {
	case !ok:
		b.refuse(a, l, "not a boolean")
	case !on:
	case a.has("direction") && a.keys["direction"] != tomlString(dir):
		b.refuse(a, l, "both repositories are read-only: nothing would be synced")
	default:
		what := "OfflineIMAP never changed the server (readonly): server → local only"
		if dir == config.DirectionPush {
			what = "OfflineIMAP never changed the local Maildir (readonly): local → server only"
		}
		a.setString("direction", dir, fmt.Sprintf("from readonly (line %d): %s", l.line, what))
	}
}

// oiSyncDeletes refuses sync_deletes = no: OfflineIMAP then kept on one
// side what was deleted on the other, which mailmirror does not do.
func (b *builder) oiSyncDeletes(a *account, l srcLine, v string) {
	if on, ok := iniBool(v); ok && on {
		return
	}
	b.refuse(a, l, "OfflineIMAP kept messages deleted on the other side; mailmirror mirrors deletions (with direction = \"pull\" never to the server): remove this line to accept that")
}

// oiFolderName converts a server folder name as OfflineIMAP's folderfilter
// sees it to mailmirror's form: Courier-style "INBOX.Sent" becomes "Sent".
func (b *builder) oiFolderName(a *account, n string) string {
	if rest, ok := strings.CutPrefix(n, "INBOX."); ok && rest != "" {
		m := strings.ReplaceAll(rest, ".", "/")
		b.note(a, "%q became %q: mailmirror names folders without the server's namespace prefix, with \"/\" between levels", n, m)
		return m
	}
	return n
}

// oiLocal translates the local Maildir repository.
func (b *builder) oiLocal(f *iniFile, a *account, l *iniSection) {
	sep := "."
	sepSet := false
	for _, o := range l.opts {
		_, v := f.lookup(l, o.key)
		o.handled = true
		switch o.key {
		case "type":
			if strings.EqualFold(v, "GmailMaildir") {
				b.note(a, "the local repository had type GmailMaildir: Gmail labels are not kept in message headers")
			}
		case "localfolders":
			a.setString("maildir", trimSlash(v))
		case "readonly":
			b.oiReadonly(a, o.src, v, config.DirectionPush)
		case "sync_deletes":
			b.oiSyncDeletes(a, o.src, v)
		case "sep":
			sep, sepSet = v, true
			if v != "/" {
				b.notTranslated(a, o.src, fmt.Sprintf("no equivalent: OfflineIMAP stored subfolders as Parent%sChild directories; mailmirror's verbatim layout nests them as Parent/Child", v))
			}
		default:
			if strings.HasPrefix(o.key, "customflag_") {
				b.notTranslated(a, o.src, reasonNoEquivalent)
				continue
			}
			reason, ok := oiLocalReasons[o.key]
			if !ok {
				reason = reasonUnknown
			}
			b.notTranslated(a, o.src, reason)
		}
	}
	if !sepSet && sep == "." {
		b.note(a, "OfflineIMAP stored subfolders as Parent.Child directories (sep defaults to \".\"); mailmirror's verbatim layout nests them as Parent/Child")
	}
	a.setString("layout", config.LayoutVerbatim)
}
