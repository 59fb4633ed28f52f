package imapconn

import (
	"strings"

	"github.com/emersion/go-imap/v2"
)

// Caps returns the server's capabilities less the extensions the Link
// turned off (Link.Disable): the engine asks it before using any.
func (c *Conn) Caps() imap.CapSet {
	caps := c.Client.Caps()
	off := c.link.Disabled()
	if len(off) == 0 {
		return caps
	}
	out := make(imap.CapSet, len(caps))
	for k, v := range caps {
		out[k] = v
	}
	for _, x := range off {
		delete(out, x)
	}
	return out
}

// Link is the Link the connection reports to.
func (c *Conn) Link() *Link { return c.link }

// Close closes the connection (without LOGOUT).
func (c *Conn) Close() error {
	c.wire.closeOurs()
	return c.Client.Close()
}

// MarkDead closes a connection found not answering (the daemon's IDLE
// watchdog) and tells its Link, so that the link's other connections are
// checked before use.
func (c *Conn) MarkDead() {
	c.link.MarkDead()
	c.Close()
}

// blame maps the response go-imap could not parse to the optional
// extension it belongs to; "" when it is no optional extension's.
func blame(typ string) imap.Cap {
	switch {
	case typ == "QUOTA" || typ == "QUOTAROOT":
		return imap.CapQuota
	case typ == "ESEARCH":
		return imap.CapESearch
	case typ == "ID":
		return imap.CapID
	case typ == "LIST" || typ == "STATUS":
		return imap.CapListStatus
	case typ == "NAMESPACE":
		return imap.CapNamespace
	case typ == "OK HIGHESTMODSEQ" || typ == "OK NOMODSEQ" || typ == "ENABLED":
		return imap.CapCondStore
	case strings.HasPrefix(typ, "OK APPENDUID") || strings.HasPrefix(typ, "OK COPYUID"):
		return imap.CapUIDPlus
	}
	return ""
}

// NoteFailure is called with a connection that failed: when go-imap gave
// up on it because of a reply it could not parse, the extension that reply
// belongs to is turned off for the Link (and warned about once); it
// reports that extension. A connection that failed for another reason
// (network, timeout, our own Close) reports "".
func (c *Conn) NoteFailure() imap.Cap {
	typ, ok := c.wire.parseFailure()
	if !ok {
		return ""
	}
	ext := blame(typ)
	if ext == "" {
		return ""
	}
	c.link.Disable(ext, "a "+typ+" reply go-imap cannot parse")
	return ext
}
