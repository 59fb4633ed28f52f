package imapconn

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
)

// Link is what the connections of one account share: the server's
// quirks learnt on any of them (folder names that are not modified UTF-7,
// optional extensions whose replies go-imap cannot parse) and the health
// of the network path to it. One Link per account, shared by the engine's
// Pool and the daemon's IDLE connections (DialOptions.Link). Safe for
// concurrent use.
type Link struct {
	mu       sync.Mutex
	toRaw    map[string]string   // safe (UTF-8) name → raw wire bytes
	toSafe   map[string]string   // raw wire bytes → safe name; "" = skipped
	plain    map[string]bool     // valid names listed (as on the wire)
	disabled map[imap.Cap]string // extension → why it is off
	warned   map[string]bool
	warnings []string  // not taken yet
	dead     time.Time // when a connection was last found dead
}

// NewLink returns an empty Link. It does no I/O.
func NewLink() *Link {
	return &Link{toRaw: map[string]string{}, toSafe: map[string]string{}, plain: map[string]bool{}, disabled: map[imap.Cap]string{}, warned: map[string]bool{}}
}

// warn queues a warning once per Link.
func (l *Link) warn(msg string) {
	if l.warned[msg] {
		return
	}
	l.warned[msg] = true
	l.warnings = append(l.warnings, msg)
}

// TakeWarnings returns the warnings not taken yet: each quirk is reported
// once for the Link's lifetime (the daemon logs them once).
func (l *Link) TakeWarnings() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.warnings
	l.warnings = nil
	return w
}

// Disable turns an optional extension off for every connection of the
// link from now on (Conn.Caps no longer reports it).
func (l *Link) Disable(c imap.Cap, reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.disabled[c]; ok {
		return
	}
	l.disabled[c] = reason
	l.warn(fmt.Sprintf("the server's %s support is broken (%s): carrying on without it", c, reason))
}

// Disabled lists the extensions turned off, sorted.
func (l *Link) Disabled() []imap.Cap {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []imap.Cap
	for c := range l.disabled {
		out = append(out, c)
	}
	sort.Slice(out, func(a, b int) bool { return out[a] < out[b] })
	return out
}

func (l *Link) isDisabled(c imap.Cap) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.disabled[c]
	return ok
}

// MarkDead records that a connection of the link stopped answering (a
// read timeout, the daemon's IDLE watchdog): the idle connections of the
// link are checked with a NOOP before they are used again.
func (l *Link) MarkDead() {
	l.mu.Lock()
	l.dead = time.Now()
	l.mu.Unlock()
}

func (l *Link) deadAfter(t time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.dead.IsZero() && !l.dead.Before(t)
}

// mapRaw returns the name go-imap is shown for a raw mailbox name that is
// not modified UTF-7, registering it for the way back; ok is false when
// the folder must be skipped (a name that cannot be sent back in a quoted
// string: NUL, CR, LF).
func (l *Link) mapRaw(raw string) (safe string, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s, seen := l.toSafe[raw]; seen {
		return s, s != ""
	}
	if strings.ContainsAny(raw, "\x00\r\n") {
		l.toSafe[raw] = ""
		l.warn(fmt.Sprintf("server folder %s: name is not valid modified UTF-7 and cannot be sent back: skipped", strconv.Quote(raw)))
		return "", false
	}
	base := safeName(raw)
	safe = base
	for n := 2; ; n++ {
		// Not the name of another odd folder, nor of a proper one
		// listed already.
		if _, taken := l.toRaw[safe]; !taken && !l.plain[encodeMUTF7(safe)] {
			break
		}
		safe = fmt.Sprintf("%s~%d", base, n)
	}
	l.toRaw[safe] = raw
	l.toSafe[raw] = safe
	l.warn(fmt.Sprintf("server folder %s: name is not valid modified UTF-7: synced as %q", strconv.Quote(raw), safe))
	return safe, true
}

// listed records a valid mailbox name as listed, so that no odd folder is
// given its name.
func (l *Link) listed(wire string) {
	l.mu.Lock()
	l.plain[wire] = true
	l.mu.Unlock()
}

// rawNames returns the quoted wire forms go-imap sends for the mapped
// names and the quoted raw forms to send instead; nil when none.
func (l *Link) rawNames() map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.toRaw) == 0 {
		return nil
	}
	m := make(map[string]string, len(l.toRaw))
	for safe, raw := range l.toRaw {
		m[quoteString(encodeMUTF7(safe))] = quoteString(raw)
	}
	return m
}

// quoteString is s as an IMAP quoted string.
func quoteString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
