package imapconn

import (
	"bytes"
	"strconv"
	"strings"
)

// repair returns a whole LIST, LSUB, STATUS or QUOTAROOT response as
// go-imap can parse it, or nil to drop it. A response it cannot make sense
// of passes on unchanged: go-imap decides.
func (w *wireConn) repair(resp []byte) []byte {
	typ := responseType(resp)
	pos := bytes.Index(bytes.ToUpper(resp), []byte(typ)) + len(typ)
	if typ == "QUOTAROOT" {
		return repairQuotaRoot(resp, pos)
	}
	if pos >= len(resp) || resp[pos] != ' ' {
		return resp
	}
	pos++
	if typ == "LIST" || typ == "LSUB" {
		// mailbox-list: "(" attrs ")" SP delim SP mailbox
		end, ok := skipParens(resp, pos)
		if !ok || end >= len(resp) || resp[end] != ' ' {
			return resp
		}
		_, end, ok = readString(resp, end+1)
		if !ok || end >= len(resp) || resp[end] != ' ' {
			return resp
		}
		pos = end + 1
	}
	name, end, ok := readString(resp, pos)
	if !ok {
		return resp
	}
	if strings.EqualFold(name, "INBOX") || validMUTF7(name) {
		if typ != "STATUS" {
			w.link.listed(name)
		}
		return resp
	}
	safe, ok := w.link.mapRaw(name)
	if !ok {
		return nil
	}
	out := append([]byte(nil), resp[:pos]...)
	out = append(out, quoteString(encodeMUTF7(safe))...)
	return append(out, resp[end:]...)
}

// repairQuotaRoot drops a QUOTAROOT response without a mailbox, with a
// mailbox that is not modified UTF-7, or with roots that are not strings:
// the quota is informational, a pass must not fail on it. ("* QUOTAROOT
// INBOX" with no root at all is valid, RFC 2087, and passes.)
func repairQuotaRoot(resp []byte, pos int) []byte {
	rest := bytes.TrimRight(resp[pos:], "\r\n")
	if len(rest) == 0 || rest[0] != ' ' {
		return nil
	}
	i := 1
	first := true
	for i <= len(rest) {
		s, end, ok := readString(rest, i)
		if !ok || s == "" && first {
			return nil
		}
		if first && !strings.EqualFold(s, "INBOX") && !validMUTF7(s) {
			return nil
		}
		first = false
		if end == len(rest) {
			return resp
		}
		if rest[end] != ' ' {
			return nil
		}
		i = end + 1
	}
	return nil
}

// skipParens returns the position after the parenthesised list at pos.
func skipParens(b []byte, pos int) (int, bool) {
	if pos >= len(b) || b[pos] != '(' {
		return 0, false
	}
	depth, quoted := 0, false
	for i := pos; i < len(b); i++ {
		switch c := b[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '(':
			depth++
		case c == ')':
			if depth--; depth == 0 {
				return i + 1, true
			}
		case c == '\r' || c == '\n':
			return 0, false
		}
	}
	return 0, false
}

// readString reads a quoted string, a literal or an atom (NIL included)
// at pos: its value and the position after it.
func readString(b []byte, pos int) (string, int, bool) {
	if pos >= len(b) {
		return "", 0, false
	}
	switch b[pos] {
	case '"':
		var sb strings.Builder
		for i := pos + 1; i < len(b); i++ {
			switch c := b[i]; c {
			case '\\':
				if i+1 < len(b) {
					i++
					sb.WriteByte(b[i])
				}
			case '"':
				return sb.String(), i + 1, true
			case '\n':
				return "", 0, false
			default:
				sb.WriteByte(c)
			}
		}
		return "", 0, false
	case '{':
		j := bytes.IndexByte(b[pos:], '}')
		if j < 0 {
			return "", 0, false
		}
		n, err := strconv.Atoi(strings.TrimSuffix(string(b[pos+1:pos+j]), "+"))
		start := pos + j + 1
		if err != nil || n < 0 || !bytes.HasPrefix(b[start:], []byte("\r\n")) || start+2+n > len(b) {
			return "", 0, false
		}
		start += 2
		return string(b[start : start+n]), start + n, true
	}
	i := pos
	for i < len(b) && !bytes.ContainsRune([]byte(" ()\r\n"), rune(b[i])) {
		i++
	}
	if i == pos {
		return "", 0, false
	}
	return string(b[pos:i]), i, true
}
