package fakeimap

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// handle answers a command the normal way.
func (ss *Session) handle(c *Command) {
	srv := ss.srv
	ok := func(text string) { ss.Printf("%s OK %s\r\n", c.Tag, text) }
	no := func(text string) { ss.Printf("%s NO %s\r\n", c.Tag, text) }
	bad := func(text string) { ss.Printf("%s BAD %s\r\n", c.Tag, text) }
	arg := func(i int) string {
		if i < len(c.Args) {
			return c.Args[i].S
		}
		return ""
	}
	switch c.Name {
	case "CAPABILITY":
		ss.Printf("* CAPABILITY %s\r\n", ss.caps())
		ok("CAPABILITY done")
	case "NOOP", "CHECK":
		ok("done")
	case "LOGOUT":
		ss.Printf("* BYE bye\r\n")
		ok("LOGOUT done")
		ss.Close()
	case "ID":
		ss.Printf("* ID NIL\r\n")
		ok("ID done")
	case "ENABLE":
		ok("ENABLE done")
	case "COMPRESS":
		switch {
		case !srv.hasCap("COMPRESS=DEFLATE") || !strings.EqualFold(arg(0), "DEFLATE"):
			bad("COMPRESS DEFLATE not offered")
		case ss.zw != nil:
			no("[COMPRESSIONACTIVE] already")
		default:
			ok("DEFLATE active")
			ss.bw.Flush()
			ss.startDeflate()
		}
	case "LOGIN":
		user, pass := arg(0), arg(1)
		srv.passwords = append(srv.passwords, pass)
		if srv.Users != nil && srv.Users[user] != pass {
			no("[AUTHENTICATIONFAILED] wrong user or password")
			return
		}
		ss.User = user
		ok("[CAPABILITY " + ss.caps() + "] logged in")
	case "AUTHENTICATE":
		if !strings.EqualFold(arg(0), "PLAIN") {
			no("unsupported mechanism")
			return
		}
		resp := arg(1)
		if resp == "" {
			ss.Printf("+ \r\n")
			ss.bw.Flush()
			line, err := ss.br.ReadString('\n')
			if err != nil {
				ss.Close()
				return
			}
			resp = strings.TrimRight(line, "\r\n")
		}
		raw, err := base64.StdEncoding.DecodeString(resp)
		parts := strings.Split(string(raw), "\x00")
		if err != nil || len(parts) != 3 {
			bad("bad PLAIN response")
			return
		}
		srv.passwords = append(srv.passwords, parts[2])
		if srv.Users != nil && srv.Users[parts[1]] != parts[2] {
			no("[AUTHENTICATIONFAILED] wrong user or password")
			return
		}
		ss.User = parts[1]
		ok("[CAPABILITY " + ss.caps() + "] logged in")
	case "NAMESPACE":
		if srv.Namespace == nil {
			ss.Printf("* NAMESPACE ((\"\" %s)) NIL NIL\r\n", quote(srv.delim()))
		} else {
			ss.Printf("* NAMESPACE ((%s %s)) NIL NIL\r\n", quote(*srv.Namespace), quote(srv.delim()))
		}
		ok("NAMESPACE done")
	case "LIST", "LSUB":
		ss.list(c)
		ok(c.Name + " done")
	case "STATUS":
		mb := ss.find(arg(0))
		if mb == nil {
			no("no such mailbox")
			return
		}
		ss.status(mb)
		ok("STATUS done")
	case "SELECT", "EXAMINE":
		mb := ss.find(arg(0))
		if mb == nil {
			ss.Selected = nil
			no("no such mailbox")
			return
		}
		if srv.OnSelect != nil {
			srv.OnSelect(ss, mb)
		}
		ss.Selected = mb
		ss.Printf("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n")
		ss.Printf("* %d EXISTS\r\n", len(mb.Messages))
		ss.Printf("* 0 RECENT\r\n")
		ss.Printf("* OK [UIDVALIDITY %d] UIDs valid\r\n", mb.UIDValidity)
		ss.Printf("* OK [UIDNEXT %d] predicted next UID\r\n", mb.UIDNext)
		if srv.hasCap("CONDSTORE") {
			ss.Printf("* OK [HIGHESTMODSEQ %d] highest\r\n", mb.HighestModSeq)
		}
		if c.Name == "EXAMINE" {
			ok("[READ-ONLY] EXAMINE done")
		} else {
			ok("[READ-WRITE] SELECT done")
		}
	case "UNSELECT", "CLOSE":
		ss.Selected = nil
		ok("done")
	case "CREATE":
		name, err := DecodeMUTF7(arg(0))
		if err != nil {
			no("bad name")
			return
		}
		if ss.find(arg(0)) != nil {
			no("[ALREADYEXISTS] exists")
			return
		}
		srv.AddMailbox(name)
		ok("CREATE done")
	case "DELETE":
		mb := ss.find(arg(0))
		if mb == nil {
			no("no such mailbox")
			return
		}
		srv.RemoveMailbox(mb.Name)
		ok("DELETE done")
	case "APPEND":
		ss.append(c, ok, no)
	case "UID FETCH", "UID SEARCH", "UID STORE", "UID EXPUNGE", "UID MOVE", "UID COPY", "EXPUNGE":
		if ss.Selected == nil {
			bad("no mailbox selected")
			return
		}
		switch c.Name {
		case "UID FETCH":
			if err := ss.fetch(c); err != nil {
				bad(err.Error())
				return
			}
			if srv.FetchNo != nil {
				if text := srv.FetchNo(ss, c); text != "" {
					no(text)
					return
				}
			}
			ok("FETCH done")
		case "UID SEARCH":
			ss.search(c)
			ok("SEARCH done")
		case "UID STORE":
			ss.store(c)
			ok("STORE done")
		case "UID EXPUNGE", "EXPUNGE":
			ss.expunge(c)
			ok("EXPUNGE done")
		case "UID MOVE", "UID COPY":
			ss.copy(c, ok, no)
		}
	default:
		bad("unknown command " + c.Name)
	}
}

func (ss *Session) list(c *Command) {
	srv := ss.srv
	withStatus := false
	for _, a := range c.Args {
		if a.IsL {
			for _, x := range a.List {
				if strings.EqualFold(x.S, "STATUS") {
					withStatus = true
				}
			}
		}
	}
	for _, mb := range srv.mailboxes {
		attrs := strings.Join(mb.Attrs, " ")
		if len(mb.Messages) == 0 && attrs == "" {
			attrs = `\HasNoChildren`
		}
		ss.Printf("* %s (%s) %s %s\r\n", strings.TrimPrefix(c.Name, "UID "), attrs, quote(srv.delim()), quote(mb.wireName()))
		if withStatus && !slices.Contains(mb.Attrs, `\Noselect`) {
			ss.status(mb)
		}
	}
}

func (ss *Session) status(mb *Mailbox) {
	modseq := ""
	if ss.srv.hasCap("CONDSTORE") {
		modseq = fmt.Sprintf(" HIGHESTMODSEQ %d", mb.HighestModSeq)
	}
	ss.Printf("* STATUS %s (MESSAGES %d UIDNEXT %d UIDVALIDITY %d UNSEEN 0%s)\r\n", quote(mb.wireName()), len(mb.Messages), mb.UIDNext, mb.UIDValidity, modseq)
}

func (ss *Session) append(c *Command, ok, no func(string)) {
	if len(c.Args) < 2 {
		no("bad APPEND")
		return
	}
	mb := ss.find(c.Args[0].S)
	if mb == nil {
		no("[TRYCREATE] no such mailbox")
		return
	}
	var flags []string
	date := time.Now().UTC().Truncate(time.Second)
	for _, a := range c.Args[1 : len(c.Args)-1] {
		if a.IsL {
			for _, f := range a.List {
				flags = append(flags, f.S)
			}
		} else if t, err := time.Parse("02-Jan-2006 15:04:05 -0700", strings.TrimSpace(a.S)); err == nil {
			date = t
		}
	}
	m := mb.Add([]byte(c.Args[len(c.Args)-1].S), flags...)
	m.Date = date
	if !ss.srv.hasCap("UIDPLUS") {
		ok("APPEND done") // APPENDUID is UIDPLUS's
		return
	}
	ok(fmt.Sprintf("[APPENDUID %d %d] APPEND done", mb.UIDValidity, m.UID))
}

// fetch answers UID FETCH set items.
func (ss *Session) fetch(c *Command) error {
	if len(c.Args) < 2 {
		return fmt.Errorf("bad FETCH")
	}
	msgs, err := uidsOf(ss.Selected, c.Args[0].S)
	if err != nil {
		return err
	}
	var items []string
	if c.Args[1].IsL {
		for _, t := range c.Args[1].List {
			items = append(items, t.S)
		}
	} else {
		items = []string{c.Args[1].S}
	}
	// (CHANGEDSINCE n) keeps the messages changed after n.
	var since uint64
	if len(c.Args) > 2 && c.Args[2].IsL {
		l := c.Args[2].List
		for i := 0; i+1 < len(l); i++ {
			if strings.EqualFold(l[i].S, "CHANGEDSINCE") {
				since, _ = strconv.ParseUint(l[i+1].S, 10, 64)
				items = append(items, "MODSEQ")
			}
		}
	}
	for _, m := range msgs {
		if since > 0 && m.ModSeq <= since {
			continue
		}
		seq := slices.Index(ss.Selected.Messages, m) + 1
		resp := encodeFetch(seq, m, items)
		if ss.srv.OnFetch != nil {
			resp = ss.srv.OnFetch(ss, ss.Selected, m, resp)
		}
		ss.Write(resp)
	}
	return nil
}

// encodeFetch is one message's FETCH response.
func encodeFetch(seq int, m *Message, items []string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "* %d FETCH (UID %d", seq, m.UID)
	for _, it := range items {
		up := strings.ToUpper(it)
		switch {
		case up == "UID":
		case up == "FLAGS":
			fmt.Fprintf(&b, " FLAGS (%s)", strings.Join(m.Flags, " "))
		case up == "INTERNALDATE":
			fmt.Fprintf(&b, " INTERNALDATE \"%s\"", m.Date.Format("02-Jan-2006 15:04:05 -0700"))
		case up == "RFC822.SIZE":
			fmt.Fprintf(&b, " RFC822.SIZE %d", len(m.Body))
		case up == "MODSEQ":
			fmt.Fprintf(&b, " MODSEQ (%d)", max(m.ModSeq, 1))
		case strings.HasPrefix(up, "BODY.PEEK[") || strings.HasPrefix(up, "BODY["):
			sec := it[strings.IndexByte(it, '[')+1 : strings.LastIndexByte(it, ']')]
			data := section(m.Body, sec)
			fmt.Fprintf(&b, " BODY[%s] {%d}\r\n", sec, len(data))
			b.Write(data)
		}
	}
	b.WriteString(")\r\n")
	return b.Bytes()
}

// section returns a body section: "" (the whole message), "HEADER", or
// "HEADER.FIELDS (A B)".
func section(body []byte, sec string) []byte {
	up := strings.ToUpper(sec)
	hdrEnd := bytes.Index(body, []byte("\r\n\r\n"))
	header := body
	if hdrEnd >= 0 {
		header = body[:hdrEnd+4]
	}
	switch {
	case up == "":
		return body
	case up == "HEADER":
		return header
	case strings.HasPrefix(up, "HEADER.FIELDS"):
		open, close := strings.IndexByte(sec, '('), strings.IndexByte(sec, ')')
		var want []string
		if open >= 0 && close > open {
			for _, f := range strings.Fields(strings.ToLower(sec[open+1 : close])) {
				want = append(want, strings.Trim(f, `"`))
			}
		}
		var out bytes.Buffer
		keep := false
		for _, line := range bytes.SplitAfter(header, []byte("\n")) {
			t := bytes.TrimRight(line, "\r\n")
			if len(t) == 0 {
				break
			}
			if t[0] == ' ' || t[0] == '\t' {
				if keep {
					out.Write(line)
				}
				continue
			}
			name, _, _ := bytes.Cut(t, []byte(":"))
			keep = slices.Contains(want, strings.ToLower(string(name)))
			if keep {
				out.Write(line)
			}
		}
		out.WriteString("\r\n")
		return out.Bytes()
	}
	return nil
}

func (ss *Session) search(c *Command) {
	var uids []uint32
	for _, m := range ss.Selected.Messages {
		uids = append(uids, m.UID)
	}
	esearch := false
	for _, a := range c.Args {
		if strings.EqualFold(a.S, "RETURN") {
			esearch = true
		}
	}
	if esearch {
		if len(uids) == 0 {
			ss.Printf("* ESEARCH (TAG %q) UID\r\n", c.Tag)
		} else {
			ss.Printf("* ESEARCH (TAG %q) UID ALL %s\r\n", c.Tag, UIDSet(uids))
		}
		return
	}
	var parts []string
	for _, u := range uids {
		parts = append(parts, strconv.FormatUint(uint64(u), 10))
	}
	ss.Printf("* SEARCH %s\r\n", strings.Join(parts, " "))
}

func (ss *Session) store(c *Command) {
	if len(c.Args) < 3 {
		return
	}
	msgs, err := uidsOf(ss.Selected, c.Args[0].S)
	if err != nil {
		return
	}
	op := strings.ToUpper(c.Args[1].S)
	var flags []string
	for _, f := range c.Args[2].List {
		flags = append(flags, f.S)
	}
	if !c.Args[2].IsL {
		flags = []string{c.Args[2].S}
	}
	for _, m := range msgs {
		ss.Selected.HighestModSeq++
		m.ModSeq = ss.Selected.HighestModSeq
		switch {
		case strings.HasPrefix(op, "+"):
			for _, f := range flags {
				if !slices.ContainsFunc(m.Flags, func(x string) bool { return strings.EqualFold(x, f) }) {
					m.Flags = append(m.Flags, f)
				}
			}
		case strings.HasPrefix(op, "-"):
			m.Flags = slices.DeleteFunc(m.Flags, func(x string) bool {
				return slices.ContainsFunc(flags, func(f string) bool { return strings.EqualFold(x, f) })
			})
		default:
			m.Flags = append([]string(nil), flags...)
		}
		if !strings.Contains(op, "SILENT") {
			seq := slices.Index(ss.Selected.Messages, m) + 1
			ss.Printf("* %d FETCH (UID %d FLAGS (%s))\r\n", seq, m.UID, strings.Join(m.Flags, " "))
		}
	}
}

func (ss *Session) expunge(c *Command) {
	mb := ss.Selected
	var only map[uint32]bool
	if c.Name == "UID EXPUNGE" && len(c.Args) > 0 {
		msgs, _ := uidsOf(mb, c.Args[0].S)
		only = map[uint32]bool{}
		for _, m := range msgs {
			only[m.UID] = true
		}
	}
	for i := 0; i < len(mb.Messages); i++ {
		m := mb.Messages[i]
		if !slices.Contains(m.Flags, `\Deleted`) || only != nil && !only[m.UID] {
			continue
		}
		ss.Printf("* %d EXPUNGE\r\n", i+1)
		mb.Messages = append(mb.Messages[:i], mb.Messages[i+1:]...)
		mb.HighestModSeq++
		i--
	}
}

func (ss *Session) copy(c *Command, ok, no func(string)) {
	if len(c.Args) < 2 {
		no("bad command")
		return
	}
	dst := ss.find(c.Args[1].S)
	if dst == nil {
		no("[TRYCREATE] no such mailbox")
		return
	}
	msgs, err := uidsOf(ss.Selected, c.Args[0].S)
	if err != nil {
		no("bad set")
		return
	}
	var from, to []uint32
	for _, m := range msgs {
		n := dst.Add(bytes.Clone(m.Body), slices.Clone(m.Flags)...)
		n.Date = m.Date
		from = append(from, m.UID)
		to = append(to, n.UID)
	}
	code := ""
	if len(from) > 0 {
		code = fmt.Sprintf("[COPYUID %d %s %s] ", dst.UIDValidity, UIDSet(from), UIDSet(to))
	}
	if c.Name == "UID MOVE" {
		if code != "" {
			ss.Printf("* OK %s\r\n", strings.TrimSpace(code))
		}
		for _, m := range msgs {
			i := slices.Index(ss.Selected.Messages, m)
			ss.Printf("* %d EXPUNGE\r\n", i+1)
			ss.Selected.Messages = slices.Delete(ss.Selected.Messages, i, i+1)
		}
		ok("MOVE done")
		return
	}
	ok(code + "COPY done")
}
