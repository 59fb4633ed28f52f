package importer

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/mailmirror/mailmirror/config"
)

// mbOpt is one line of an mbsync config: a keyword and its arguments.
type mbOpt struct {
	key  string // keyword in lower case
	args []string
	src  srcLine
	bad  string // why the arguments could not be read, "" if fine
	// comments are the user's comment lines before a global option.
	comments []string
}

func (o *mbOpt) arg() string {
	if len(o.args) == 0 {
		return ""
	}
	return strings.Join(o.args, " ")
}

// mbSection is an IMAPAccount, IMAPStore, MaildirStore, Channel or Group
// section.
type mbSection struct {
	kind string // lower-case section keyword
	name string
	head *mbOpt
	opts []*mbOpt
	used bool
	// comments are the user's own comment lines just before the header
	// and inside the section, as written.
	comments []string
}

func (s *mbSection) lines() []srcLine {
	l := []srcLine{s.head.src}
	for _, o := range s.opts {
		l = append(l, o.src)
	}
	return l
}

func (s *mbSection) last(key string) *mbOpt {
	for i := len(s.opts) - 1; i >= 0; i-- {
		if s.opts[i].key == key {
			return s.opts[i]
		}
	}
	return nil
}

var mbSectionKinds = map[string]string{
	"imapaccount": "IMAPAccount", "imapstore": "IMAPStore", "maildirstore": "MaildirStore",
	"channel": "Channel", "group": "Group",
}

// mbArgs splits the arguments of an mbsync line the way isync does:
// whitespace separates arguments, double quotes (anywhere in an argument)
// protect whitespace, a backslash takes the next character literally, and
// "#" at the start of an argument begins a comment.
func mbArgs(s string) ([]string, string) {
	var args []string
	i := 0
	for {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i >= len(s) || s[i] == '#' {
			return args, ""
		}
		var b strings.Builder
		quoted, escaped := false, false
		for ; i < len(s); i++ {
			c := s[i]
			if escaped {
				b.WriteByte(c)
				escaped = false
			} else if c == '\\' {
				escaped = true
			} else if c == '"' {
				quoted = !quoted
			} else if !quoted && (c == ' ' || c == '\t') {
				break
			} else {
				b.WriteByte(c)
			}
		}
		if escaped {
			return args, "unterminated escape sequence"
		}
		if quoted {
			return args, "missing closing quote"
		}
		args = append(args, b.String())
	}
}

// parseMbsync reads the options outside any section and the sections.
func parseMbsync(text string) (globals []*mbOpt, sections []*mbSection) {
	var cur *mbSection
	var pending []string // comment lines not yet given to a section
	for i, raw := range strings.Split(text, "\n") {
		t := strings.TrimSpace(strings.TrimSuffix(raw, "\r"))
		if t == "" {
			cur = nil
			continue
		}
		if t[0] == '#' {
			if cur != nil {
				cur.comments = append(cur.comments, t)
			} else {
				pending = append(pending, t)
			}
			continue
		}
		kw, rest, _ := strings.Cut(strings.ReplaceAll(t, "\t", " "), " ")
		args, bad := mbArgs(rest)
		o := &mbOpt{key: strings.ToLower(kw), args: args, src: srcLine{i + 1, t}, bad: bad}
		if cur != nil && cur.kind == "group" && (o.key == "channel" || o.key == "channels") {
			cur.opts = append(cur.opts, o)
			continue
		}
		if _, ok := mbSectionKinds[o.key]; ok {
			cur = &mbSection{kind: o.key, name: o.arg(), head: o, comments: pending}
			pending = nil
			if len(args) > 0 {
				cur.name = args[0]
			}
			sections = append(sections, cur)
			continue
		}
		if cur == nil {
			o.comments, pending = pending, nil
			globals = append(globals, o)
		} else {
			cur.opts = append(cur.opts, o)
		}
	}
	if len(pending) > 0 {
		globals = append(globals, &mbOpt{comments: pending})
	}
	return globals, sections
}

// mbChannelReasons explains why Channel options (also valid globally) have
// no equivalent.
var mbChannelReasons = map[string]string{
	"sync":            "no equivalent: mailmirror always syncs new messages, flags and deletions both ways",
	"create":          "no equivalent: mailmirror decides itself when to create folders",
	"remove":          "no equivalent: mailmirror does not propagate folder deletions this way",
	"expunge":         "no equivalent: mailmirror expunges what was deleted (see delete_mode)",
	"copyarrivaldate": "no equivalent: not configurable in mailmirror",
	"maxmessages":     "no equivalent: mailmirror mirrors every message of a synced folder",
	"expireunread":    "no equivalent: mailmirror mirrors every message of a synced folder",
	"syncstate":       "no equivalent: mailmirror keeps its sync state in state_dir",
	"maxsize":         "no equivalent: mailmirror mirrors every message in full",
	"fsync":           "no equivalent: mailmirror always syncs messages to disk before recording them",
	"fielddelimiter":  "no equivalent: mailmirror keeps no state files named after folders",
	"bufferlimit":     "no equivalent: not configurable in mailmirror",
}

// mbBox is a parsed "Far :store:box" reference.
type mbBox struct {
	store, box string
	opt        *mbOpt
}

func parseMbBox(o *mbOpt) (mbBox, bool) {
	s := o.arg()
	if !strings.HasPrefix(s, ":") {
		return mbBox{}, false
	}
	store, box, ok := strings.Cut(s[1:], ":")
	if !ok {
		return mbBox{}, false
	}
	return mbBox{store: store, box: box, opt: o}, true
}

// mbPair is one mailmirror account: an IMAP store and a Maildir store and
// the channels between them.
type mbPair struct {
	imap, maildir *mbSection
	account       *mbSection // the IMAPAccount of the IMAP store, or nil
	channels      []*mbSection
}

// MBSync translates the text of an mbsync config file (~/.mbsyncrc) into a
// mailmirror config. source names the file in the output's header. Each
// pair of an IMAP store and a Maildir store connected by Channels becomes
// one account. It returns an error only when data is not text.
func MBSync(data []byte, source string) (*Result, error) {
	if err := checkText(data); err != nil {
		return nil, err
	}
	b := newBuilder("mbsync", source)
	globals, sections := parseMbsync(string(data))

	stores := map[string]*mbSection{}
	accounts := map[string]*mbSection{}
	for _, s := range sections {
		switch s.kind {
		case "imapstore", "maildirstore":
			stores[s.name] = s
		case "imapaccount":
			accounts[s.name] = s
		}
	}

	behaviour := map[string]*mbOpt{}
	for _, o := range globals {
		b.top = append(b.top, o.comments...)
		if o.key == "" {
			continue // trailing comments only
		}
		if mbBehaviourKeys[o.key] && o.bad == "" {
			behaviour[o.key] = o
			b.top = append(b.top, "# applied to every Channel below: "+strings.TrimSpace(o.src.text))
			continue
		}
		reason, ok := mbChannelReasons[o.key]
		if !ok {
			reason = "not known to the importer"
		}
		b.notTranslated(nil, o.src, reason)
	}

	// Pair the channels' stores.
	var pairs []*mbPair
	pairOf := map[string]*mbPair{}
	for _, ch := range sections {
		if ch.kind != "channel" {
			continue
		}
		var boxes []mbBox
		for _, o := range ch.opts {
			if o.key == "far" || o.key == "master" || o.key == "near" || o.key == "slave" {
				if bx, ok := parseMbBox(o); ok {
					boxes = append(boxes, bx)
				}
			}
		}
		var imap, md *mbSection
		for _, bx := range boxes {
			switch s := stores[bx.store]; {
			case s == nil:
			case s.kind == "imapstore" && imap == nil:
				imap = s
			case s.kind == "maildirstore" && md == nil:
				md = s
			}
		}
		if len(boxes) != 2 || imap == nil || md == nil {
			reason := "a mailmirror account connects an IMAP store with a Maildir store; this Channel does not"
			if len(boxes) != 2 {
				reason = "the Channel's Far and Near stores could not be read"
			}
			for _, l := range ch.lines() {
				b.notTranslated(nil, l, reason)
				reason = "part of the Channel above"
			}
			ch.used = true
			continue
		}
		key := imap.name + "\x00" + md.name
		p := pairOf[key]
		if p == nil {
			p = &mbPair{imap: imap, maildir: md}
			if o := imap.last("account"); o != nil {
				p.account = accounts[o.arg()]
			}
			pairOf[key] = p
			pairs = append(pairs, p)
		}
		p.channels = append(p.channels, ch)
		ch.used = true
	}

	// Name the accounts: after the IMAPAccount (or the IMAPStore) unless
	// several pairs share it.
	uses := map[string]int{}
	pairName := func(p *mbPair) string {
		if p.account != nil {
			return p.account.name
		}
		return p.imap.name
	}
	for _, p := range pairs {
		uses[pairName(p)]++
	}
	for _, p := range pairs {
		name := pairName(p)
		if uses[name] > 1 {
			name = p.channels[0].name
		}
		var origin []string
		if p.account != nil {
			origin = append(origin, "IMAPAccount "+p.account.name)
			p.account.used = true
		}
		origin = append(origin, "IMAPStore "+p.imap.name, "MaildirStore "+p.maildir.name)
		for _, ch := range p.channels {
			origin = append(origin, "Channel "+ch.name)
		}
		a := b.addAccount(name, strings.Join(origin, ", ")+" in "+source)
		for _, sec := range append([]*mbSection{p.account, p.imap, p.maildir}, p.channels...) {
			if sec != nil {
				a.userComments = append(a.userComments, sec.comments...)
			}
		}
		a.setString("protocol", config.ProtocolIMAP)
		p.imap.used, p.maildir.used = true, true
		b.mbIMAP(a, p)
		b.mbMaildir(a, p.maildir)
		b.mbChannels(a, p, behaviour)
	}

	for _, s := range sections {
		if s.used {
			continue
		}
		b.top = append(b.top, s.comments...)
		reason := fmt.Sprintf("%s %s is not used by any Channel between an IMAP and a Maildir store", mbSectionKinds[s.kind], s.name)
		if s.kind == "group" {
			reason = "no equivalent: mailmirror has no groups, it syncs every account"
		}
		for _, l := range s.lines() {
			b.notTranslated(nil, l, reason)
			reason = "part of the section above"
		}
	}
	return b.finish(), nil
}

// mbIMAP translates the connection options of an IMAP store and of its
// IMAPAccount.
func (b *builder) mbIMAP(a *account, p *mbPair) {
	var opts []*mbOpt
	if p.account != nil {
		opts = append(opts, p.account.opts...)
	}
	opts = append(opts, p.imap.opts...)

	host, user := "", ""
	tlsMode, tlsFrom := "", srcLine{}
	port := 0
	var keychain *mbOpt
	for _, o := range opts {
		if o.key == "host" {
			host = o.arg()
		}
		if o.key == "user" {
			user = o.arg()
		}
	}
	for _, o := range opts {
		if o.bad != "" {
			b.notTranslated(a, o.src, "cannot be read: "+o.bad)
			continue
		}
		v := o.arg()
		switch o.key {
		case "account":
			// The reference to the IMAPAccount, followed above.
		case "host":
			a.setString("host", v)
		case "port":
			n, err := strconv.Atoi(v)
			if err != nil {
				b.notTranslated(a, o.src, "not a port number")
				continue
			}
			port = n
			a.set("port", tomlInt(n))
		case "user":
			a.setString("username", v)
		case "usercmd":
			b.notTranslated(a, o.src, "no equivalent: mailmirror needs the user name itself (username)")
		case "pass":
			b.setPlainPassword(a, v, o.src)
		case "passcmd":
			cmd := v
			if strings.HasPrefix(cmd, "+") {
				cmd = strings.TrimSpace(cmd[1:])
				b.note(a, "PassCmd on line %d started with \"+\" (it may prompt on the terminal); mailmirror runs it without one", o.src.line)
			}
			a.setString("password_command", cmd)
		case "usekeychain":
			if isYes(v) {
				keychain = o
			}
		case "ssltype", "tlstype":
			switch strings.ToLower(v) {
			case "imaps":
				tlsMode, tlsFrom = config.TLSImplicit, o.src
			case "starttls":
				tlsMode, tlsFrom = config.TLSStartTLS, o.src
			case "none":
				tlsMode, tlsFrom = config.TLSNone, o.src
			default:
				b.notTranslated(a, o.src, "unknown TLS type")
			}
		case "useimaps":
			if isYes(v) {
				tlsMode, tlsFrom = config.TLSImplicit, o.src
			}
		case "requiressl", "usesslv2", "usesslv3", "usetlsv1", "usetlsv1.1", "usetlsv1.2", "usetlsv1.3", "sslversions", "tlsversions":
			b.notTranslated(a, o.src, "no equivalent: mailmirror requires TLS 1.2 or later")
		case "certificatefile":
			a.setString("tls_ca_file", v)
			b.note(a, "tls_ca_file comes from CertificateFile (line %d): mailmirror trusts the CA certificates in it (a self-signed server certificate in it is trusted too, an expired one is not)", o.src.line)
		case "systemcertificates":
			if !isYes(v) {
				b.notTranslated(a, o.src, "no equivalent: mailmirror trusts the system's CA certificates as well as tls_ca_file")
			}
		case "clientcertificate", "clientkey":
			b.notTranslated(a, o.src, "no equivalent: mailmirror does not send client certificates")
		case "tunnel":
			b.notTranslated(a, o.src, "no equivalent: mailmirror connects over TCP to host and port")
		case "authmechs", "authmech":
			b.notTranslated(a, o.src, "no equivalent: mailmirror chooses the authentication mechanism itself")
		case "pipelinedepth", "timeout", "cipherstring", "ciphersstring", "disableextension", "disableextensions":
			b.notTranslated(a, o.src, "no equivalent: not configurable in mailmirror")
		case "path":
			if strings.EqualFold(v, "INBOX.") || strings.EqualFold(v, "INBOX/") {
				b.notTranslated(a, o.src, "not needed: mailmirror removes the server's personal namespace prefix (such as INBOX.) by itself")
			} else {
				b.notTranslated(a, o.src, "no equivalent: mailmirror syncs the folders of the server's personal namespace, without another prefix")
			}
		case "pathdelimiter", "pathdelim":
			b.notTranslated(a, o.src, "not needed: mailmirror reads the hierarchy delimiter from the server")
		case "usenamespace":
			if !isYes(v) {
				b.notTranslated(a, o.src, "no equivalent: mailmirror always uses the server's personal namespace")
			}
		case "subscribedonly":
			if isYes(v) {
				b.notTranslated(a, o.src, "no equivalent: mailmirror syncs every folder matching folders, subscribed or not")
			}
		case "trash":
			a.setString("delete_mode", config.DeleteTrash,
				fmt.Sprintf("from Trash %s (line %d): messages deleted locally are moved to the server's Trash folder", v, o.src.line))
		case "trashnewonly", "trashremotenew", "maxsize", "mapinbox", "flatten":
			b.notTranslated(a, o.src, "no equivalent in mailmirror")
		default:
			b.notTranslated(a, o.src, "not known to the importer")
		}
	}
	if keychain != nil {
		if host != "" && user != "" && !a.has("password") && !a.has("password_command") {
			a.setString("password_command", "security find-internet-password -s "+shellJoin([]string{host})+" -a "+shellJoin([]string{user})+" -w",
				fmt.Sprintf("from UseKeychain (line %d): reads the password from the macOS Keychain", keychain.src.line))
		} else {
			b.notTranslated(a, keychain.src, "the Keychain item needs Host and User")
		}
	}
	if tlsMode == "" {
		// mbsync's default is STARTTLS; on port 993 that cannot have worked.
		tlsMode = config.TLSStartTLS
		if port == 993 {
			tlsMode = config.TLSImplicit
		}
	}
	b.setTLS(a, tlsMode, host, tlsFrom)
	if !a.has("password") && !a.has("password_command") {
		b.setPasswordPlaceholder(a, "mbsync asked for this password on the terminal (no Pass or PassCmd).")
	}
}

// mbMaildir translates a MaildirStore into maildir and layout.
func (b *builder) mbMaildir(a *account, s *mbSection) {
	var pathOpt, inboxOpt, subOpt *mbOpt
	for _, o := range s.opts {
		if o.bad != "" {
			b.notTranslated(a, o.src, "cannot be read: "+o.bad)
			continue
		}
		switch o.key {
		case "path":
			pathOpt = o
		case "inbox":
			inboxOpt = o
		case "subfolders":
			subOpt = o
		case "altmap":
			if isYes(o.arg()) {
				b.notTranslated(a, o.src, "not needed: mailmirror keeps UIDs in its state database, not in the Maildir")
			}
		case "infodelimiter":
			b.notTranslated(a, o.src, "no equivalent: mailmirror uses \":\" (\";\" on Windows)")
		case "flatten":
			b.notTranslated(a, o.src, "no equivalent: mailmirror stores the folder hierarchy as directories (see layout)")
		case "trash", "trashnewonly", "trashremotenew":
			b.notTranslated(a, o.src, "no equivalent: mailmirror keeps no local trash folder")
		case "maxsize", "mapinbox":
			b.notTranslated(a, o.src, "no equivalent in mailmirror")
		default:
			b.notTranslated(a, o.src, "not known to the importer")
		}
	}
	layout := config.LayoutVerbatim
	if subOpt != nil {
		switch strings.ToLower(subOpt.arg()) {
		case "verbatim":
		case "maildir++":
			layout = config.LayoutMaildirPP
		case "legacy":
			b.notTranslated(a, subOpt.src, "no equivalent: mbsync's Legacy layout (Path/top/.sub/.subsub) differs from mailmirror's verbatim (Path/top/sub/subsub) and maildir++ layouts; verbatim is used, move existing subfolders")
		default:
			b.notTranslated(a, subOpt.src, "unknown SubFolders style")
		}
	}
	inbox := "~/Maildir" // mbsync's default
	if inboxOpt != nil {
		inbox = inboxOpt.arg()
	}
	var maildir string
	switch {
	case layout == config.LayoutMaildirPP:
		maildir = inbox
		if pathOpt != nil {
			b.notTranslated(a, pathOpt.src, "ignored: with SubFolders Maildir++ the Maildir root is the Inbox")
		}
	case pathOpt != nil:
		p := pathOpt.arg()
		if !strings.HasSuffix(p, "/") {
			b.note(a, "Path on line %d has no trailing \"/\": mbsync named folders %s<name>; mailmirror uses %s/<name>", pathOpt.src.line, p, p)
		}
		maildir = trimSlash(p)
		if want := maildir + "/INBOX"; cleanPath(inbox) != cleanPath(want) {
			line := "Inbox " + inbox + " (mbsync's default)"
			if inboxOpt != nil {
				line = inboxOpt.src.text
			}
			b.note(a, "mbsync kept INBOX in %s (%s); mailmirror keeps it in %s: move the messages there before the first sync", inbox, line, want)
			if inboxOpt != nil {
				a.seen[inboxOpt.src.line] = true
			}
		} else if inboxOpt != nil {
			a.seen[inboxOpt.src.line] = true
		}
	default:
		// Only an Inbox: INBOX is <maildir>/INBOX.
		maildir = path.Dir(trimSlash(inbox))
		if path.Base(trimSlash(inbox)) != "INBOX" {
			b.note(a, "mbsync kept INBOX in %s; mailmirror keeps it in %s/INBOX: move the messages there before the first sync", inbox, maildir)
		}
	}
	if maildir != "" && !strings.HasPrefix(maildir, "/") && !strings.HasPrefix(maildir, "~") && !strings.HasPrefix(maildir, "$") {
		b.note(a, "maildir is a relative path: mailmirror resolves it against the directory of its config file")
	}
	a.setString("maildir", maildir)
	a.setString("layout", layout)
}

// mbChannels translates the channels of a pair into folders.
func (b *builder) mbChannels(a *account, p *mbPair, behaviour map[string]*mbOpt) {
	var folders []string
	dirs := map[string]int{} // direction -> line of the first channel asking for it
	contributing, excluding := 0, false
	for _, ch := range p.channels {
		var imapBox, mdBox *mbBox
		var patterns []*mbOpt
		for _, o := range ch.opts {
			if o.bad != "" {
				b.notTranslated(a, o.src, "cannot be read: "+o.bad)
				continue
			}
			switch o.key {
			case "far", "master", "near", "slave":
				bx, _ := parseMbBox(o)
				if bx.store == p.imap.name && imapBox == nil {
					imapBox = &bx
				} else {
					mdBox = &bx
				}
			case "pattern", "patterns":
				patterns = append(patterns, o)
			case "sync", "expunge", "maxmessages", "create", "remove":
				// mbBehaviour, below
			default:
				reason, ok := mbChannelReasons[o.key]
				if !ok {
					reason = "not known to the importer"
				}
				b.notTranslated(a, o.src, reason)
			}
		}
		d := b.mbBehaviour(a, ch, behaviour)
		if _, ok := dirs[d]; !ok {
			dirs[d] = ch.head.src.line
		}
		var list []string
		if len(patterns) > 0 {
			if !sameBox(imapBox.box, mdBox.box) {
				b.channelBoxMismatch(a, imapBox, mdBox, patterns)
				continue
			}
			prefix := imapBox.box
			for _, o := range patterns {
				for _, pat := range o.args {
					if ex, ok := strings.CutPrefix(pat, "!"); ok {
						list = append(list, "!"+prefix+ex)
					} else {
						list = append(list, prefix+pat)
					}
				}
			}
			if inc, ex, ok := overriddenExclusion(list); ok {
				b.note(a, "in Channel %s, mbsync let the later pattern %q override %q; in mailmirror exclusions always win, so folders matching both are not synced", ch.name, inc, "!"+ex)
			}
		} else {
			box, mb := imapBox.box, mdBox.box
			if box == "" {
				box = "INBOX"
			}
			if mb == "" {
				mb = "INBOX"
			}
			if !sameBox(box, mb) {
				b.channelBoxMismatch(a, imapBox, mdBox, nil)
				continue
			}
			if strings.ContainsAny(box, "*%") {
				b.note(a, "the folder name %q contains \"*\" or \"%%\", which folders treats as wildcards", box)
			}
			list = []string{box}
		}
		for _, pat := range list {
			if strings.HasPrefix(pat, "!") {
				excluding = true
			}
		}
		contributing++
		folders = mergePatterns(folders, list)
	}
	if contributing > 1 && excluding {
		b.note(a, "folders merges the patterns of %d channels: an exclusion of one channel now applies to the folders of every channel", contributing)
	}
	b.mbDirection(a, p, dirs)
	if len(folders) == 0 {
		// Nothing could be translated: sync nothing rather than everything.
		a.set("folders", "[]", "no Channel of this account could be translated: list the folders to sync")
		return
	}
	a.set("folders", tomlStrings(folders))
}

// mbDirection sets the account's direction from its channels' Sync
// lines; channels of one account that disagree are refused.
func (b *builder) mbDirection(a *account, p *mbPair, dirs map[string]int) {
	if len(dirs) > 1 {
		b.refuse(a, p.channels[0].head.src, "the Channels of this account sync in different directions (Sync lines); mailmirror has one direction per account (or per folder with [[account.folder_policy]] direction): make them agree, or split the stores")
		return
	}
	for d := range dirs {
		if d != "" {
			a.setString("direction", d, "from the Channel's Sync line: "+map[string]string{
				config.DirectionPull: "server → local only, the server is never changed",
				config.DirectionPush: "local → server only, the Maildir is never changed by the server",
			}[d])
		}
	}
}

// channelBoxMismatch reports a channel whose two sides use different
// mailbox names, which mailmirror cannot express.
func (b *builder) channelBoxMismatch(a *account, imapBox, mdBox *mbBox, patterns []*mbOpt) {
	reason := fmt.Sprintf("no equivalent: mailmirror uses the same folder names on both sides, this Channel maps %q to %q", imapBox.box, mdBox.box)
	b.notTranslated(a, imapBox.opt.src, reason)
	b.notTranslated(a, mdBox.opt.src, reason)
	for _, o := range patterns {
		b.notTranslated(a, o.src, "part of the Channel above")
	}
}

// overriddenExclusion finds an include pattern that comes after an
// exclusion it may override in mbsync (later patterns win there).
func overriddenExclusion(list []string) (inc, ex string, ok bool) {
	for i, p := range list {
		e, isEx := strings.CutPrefix(p, "!")
		if !isEx {
			continue
		}
		for _, q := range list[i+1:] {
			if !strings.HasPrefix(q, "!") && patternsOverlap(e, q) {
				return q, e, true
			}
		}
	}
	return "", "", false
}

// patternsOverlap is a cheap test whether two patterns can match the same
// name: one matches the other read as a literal name.
func patternsOverlap(p, q string) bool {
	a := &config.Account{Protocol: config.ProtocolIMAP}
	a.Folders = []string{p}
	if a.MatchFolder(q) {
		return true
	}
	a.Folders = []string{q}
	return a.MatchFolder(p)
}

func sameBox(a, b string) bool {
	if strings.EqualFold(a, "INBOX") && strings.EqualFold(b, "INBOX") {
		return true
	}
	return a == b
}

func isYes(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "yes", "true", "on", "1":
		return true
	}
	return false
}

func trimSlash(p string) string {
	for len(p) > 1 && strings.HasSuffix(p, "/") {
		p = p[:len(p)-1]
	}
	return p
}

func cleanPath(p string) string { return path.Clean(p) }

// checkText refuses data that is not text.
func checkText(data []byte) error {
	if strings.IndexByte(string(data), 0) >= 0 {
		return fmt.Errorf("importer: the file is not text (it contains NUL bytes)")
	}
	return nil
}
