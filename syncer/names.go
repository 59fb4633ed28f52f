package syncer

import (
	"fmt"
	"strings"

	"github.com/mailmirror/mailmirror/maildir"
)

// nameMap maps server mailbox names to local folder names and back: the
// personal namespace prefix ("INBOX." on Cyrus and Courier) is not repeated
// locally and the server's hierarchy delimiter becomes "/".
type nameMap struct {
	prefix string // personal namespace prefix, e.g. "INBOX."
	delim  rune   // server hierarchy delimiter; 0 = flat
}

// local returns the local name of a server mailbox, or an error for a name
// that cannot be represented (a "/" inside a component of a server whose
// delimiter is not "/", or empty components).
func (m nameMap) local(remote string) (string, error) {
	if strings.EqualFold(remote, "INBOX") {
		return maildir.Inbox, nil
	}
	name := remote
	if m.prefix != "" && strings.HasPrefix(name, m.prefix) && len(name) > len(m.prefix) {
		name = name[len(m.prefix):]
	}
	var parts []string
	if m.delim == 0 {
		parts = []string{name}
	} else {
		parts = strings.Split(name, string(m.delim))
	}
	for _, p := range parts {
		if p == "" {
			return "", fmt.Errorf("server folder %q: empty hierarchy level", remote)
		}
		if m.delim != '/' && strings.Contains(p, "/") {
			return "", fmt.Errorf("server folder %q: contains \"/\", which is not the server's hierarchy delimiter %q", remote, string(m.delim))
		}
	}
	if strings.EqualFold(parts[0], "INBOX") && len(parts) == 1 {
		return maildir.Inbox, nil
	}
	return strings.Join(parts, "/"), nil
}

// remote returns the server name of a local folder.
func (m nameMap) remote(local string) (string, error) {
	if strings.EqualFold(local, maildir.Inbox) {
		return "INBOX", nil
	}
	parts := strings.Split(local, "/")
	if m.delim == 0 && len(parts) > 1 {
		return "", fmt.Errorf("local folder %q: the server has no folder hierarchy", local)
	}
	for _, p := range parts {
		if m.delim != 0 && strings.ContainsRune(p, m.delim) {
			return "", fmt.Errorf("local folder %q: %q contains the server's hierarchy delimiter %q", local, p, string(m.delim))
		}
	}
	return m.prefix + strings.Join(parts, string(m.delim)), nil
}
