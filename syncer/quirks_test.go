package syncer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/imapconn"
	"github.com/mailmirror/mailmirror/internal/testenv/fakeimap"
)

// passOn runs one pass with a fresh Syncer sharing link (nil: its own).
func (h *hostile) passOn(link *imapconn.Link) (Stats, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := New(h.acct, h.store, h.db, Options{DialOptions: DialOptions{Password: "pw", Timeout: 3 * time.Second, Link: link}})
	defer s.Close()
	st, err := s.Sync(ctx)
	h.t.Logf("pass: %v; err = %v; warnings %q", st, err, st.Warnings)
	return st, err
}

// warned returns the warnings that mention s.
func warned(st Stats, s string) []string {
	var out []string
	for _, w := range st.Warnings {
		if strings.Contains(w, s) {
			out = append(out, w)
		}
	}
	return out
}

// TestQuirkFolderNamesNotModifiedUTF7: folder names sent as raw 8-bit or
// with control characters made go-imap fail the whole LIST, so that no
// folder of the account synced. Now every other folder syncs, an odd one
// under a safe name (selected on the server by its own bytes), one that
// cannot be sent back (a line feed) is skipped, each with one warning
// naming it; a second pass transfers nothing.
func TestQuirkFolderNamesNotModifiedUTF7(t *testing.T) {
	srv := fakeimap.New()
	h := newHostile(t, srv)
	odd := map[string]string{ // wire name → local folder
		"Caf\xe9":         "Café",
		"bad\xff\xfeutf8": "badÿþutf8",
		"raw\x01ctl":      "raw\x01ctl",
		"amp&here":        "amp&here",
	}
	srv.Lock()
	srv.Mailbox("INBOX").Add(h.msg("inbox"))
	srv.AddMailbox("Archive").Add(h.msg("archive"))
	for wire := range odd {
		mb := srv.AddMailbox("x-" + wire)
		mb.Wire = wire
		mb.Add(h.msg("in " + strconv.Quote(wire)))
	}
	skipped := srv.AddMailbox("x-nl")
	skipped.Wire = "nl\nx"
	skipped.Add(h.msg("in nl"))
	srv.Unlock()

	st, err := h.passOn(nil)
	if err != nil {
		t.Fatalf("odd folder names stopped the pass: %v", err)
	}
	local := h.local()
	for _, f := range append([]string{"INBOX", "Archive"}, values(odd)...) {
		if len(local[f]) != 1 {
			t.Errorf("local folder %q: %d messages, want 1 (local folders: %q)", f, len(local[f]), keys(local))
		}
	}
	if len(local) != 2+len(odd) {
		t.Errorf("local folders %q, want INBOX, Archive and the odd ones but the skipped one", keys(local))
	}
	for wire := range odd {
		if n := len(warned(st, strconv.Quote(wire))); n != 1 {
			t.Errorf("%d warnings name %q, want 1: %q", n, wire, st.Warnings)
		}
	}
	if w := warned(st, strconv.Quote("nl\nx")); len(w) != 1 || !strings.Contains(w[0], "skipped") {
		t.Errorf("the skipped folder: warnings %q", st.Warnings)
	}
	h.confined()

	// A local flag change reaches the odd folder on the server, by its
	// own name; nothing is transferred again.
	m := local["Café"][0]
	if err := setLocalFlag(m.Path, 'F'); err != nil {
		t.Fatal(err)
	}
	st, err = h.passOn(nil)
	if err != nil || st.Down.New != 0 || st.Up.New != 0 || st.Up.Flags != 1 {
		t.Errorf("second pass: %v, %v (want one flag up, nothing new)", st, err)
	}
	srv.Lock()
	var flags []string
	for _, mb := range srv.Mailboxes() {
		if mb.Wire == "Caf\xe9" {
			flags = mb.Messages[0].Flags
		}
	}
	srv.Unlock()
	if !strings.Contains(strings.Join(flags, " "), `\Flagged`) {
		t.Errorf("server flags of the message in %q: %q", "Caf\xe9", flags)
	}
}

// TestQuirkQuotaRootWithoutMailbox: a "* QUOTAROOT" naming nothing made
// go-imap fail the connection ("imapwire: expected SP") and the pass with
// it. The connection layer drops the line; the pass syncs.
func TestQuirkQuotaRootWithoutMailbox(t *testing.T) {
	for _, reply := range []string{"* QUOTAROOT\r\n", "* QUOTAROOT INBOX\r\n", "* QUOTAROOT \r\n"} {
		t.Run(strconv.Quote(reply), func(t *testing.T) {
			srv := fakeimap.New()
			srv.Caps = []string{"UIDPLUS", "MOVE", "NAMESPACE", "QUOTA"}
			srv.Hook = func(s *fakeimap.Session, c *fakeimap.Command) bool {
				if c.Name == "GETQUOTAROOT" {
					s.Printf("%s%s OK done\r\n", reply, c.Tag)
					return true
				}
				return false
			}
			h := newHostile(t, srv)
			srv.Lock()
			srv.Mailbox("INBOX").Add(h.msg("inbox"))
			srv.Unlock()
			st, err := h.passOn(nil)
			if err != nil || st.Down.New != 1 || len(h.local()["INBOX"]) != 1 {
				t.Fatalf("pass: %v, %v; local %v", st, err, keys(h.local()))
			}
		})
	}
}

// TestQuirkBrokenExtensionReplies: an optional extension whose reply
// go-imap cannot parse kills the connection. The pass carries on without
// the extension (QUOTA: the quota is skipped; LIST-STATUS: the pass is run
// again with LIST and STATUS), says so once, and a later pass sharing the
// Link (the daemon's) does not try it again.
func TestQuirkBrokenExtensionReplies(t *testing.T) {
	cases := []struct {
		ext  imap.Cap
		hook func(s *fakeimap.Session, c *fakeimap.Command) bool
		uses string // the command that uses the extension
	}{
		{imap.CapQuota, func(s *fakeimap.Session, c *fakeimap.Command) bool {
			if c.Name != "GETQUOTAROOT" {
				return false
			}
			s.Printf("* QUOTAROOT INBOX \"r\"\r\n* QUOTA \"r\" (STORAGE many 10)\r\n%s OK done\r\n", c.Tag)
			return true
		}, "GETQUOTAROOT"},
		{imap.CapListStatus, func(s *fakeimap.Session, c *fakeimap.Command) bool {
			if c.Name != "LIST" || !strings.Contains(c.Raw, "RETURN") {
				return false
			}
			s.Printf("* LIST () \"/\" INBOX\r\n* STATUS INBOX (MESSAGES x)\r\n%s OK done\r\n", c.Tag)
			return true
		}, "RETURN (STATUS"},
	}
	for _, tc := range cases {
		t.Run(string(tc.ext), func(t *testing.T) {
			srv := fakeimap.New()
			srv.Caps = []string{"UIDPLUS", "MOVE", "NAMESPACE", "LIST-STATUS", "QUOTA"}
			srv.Hook = tc.hook
			h := newHostile(t, srv)
			srv.Lock()
			srv.Mailbox("INBOX").Add(h.msg("inbox"))
			srv.Unlock()
			link := imapconn.NewLink()
			st, err := h.passOn(link)
			if err != nil || st.Down.New != 1 || len(h.local()["INBOX"]) != 1 {
				t.Fatalf("pass: %v, %v", st, err)
			}
			if w := warned(st, string(tc.ext)); len(w) != 1 {
				t.Errorf("warnings about %s: %q, want one", tc.ext, st.Warnings)
			}
			if d := link.Disabled(); len(d) != 1 || d[0] != tc.ext {
				t.Errorf("extensions turned off: %v, want %s", d, tc.ext)
			}
			uses := func() int {
				n := 0
				for _, c := range srv.Commands() {
					if strings.Contains(c, tc.uses) {
						n++
					}
				}
				return n
			}
			before := uses()
			st, err = h.passOn(link)
			if err != nil || len(warned(st, string(tc.ext))) != 0 {
				t.Errorf("second pass: %v, %v, warnings %q", st, err, st.Warnings)
			}
			if uses() != before {
				t.Errorf("the second pass used %s again", tc.ext)
			}
		})
	}
}

// setLocalFlag adds a flag letter to a Maildir file, as a mail client
// would (moving it to cur/).
func setLocalFlag(path string, flag byte) error {
	dir, base := filepath.Split(path)
	letters := ""
	if i := strings.Index(base, ":2,"); i >= 0 {
		base, letters = base[:i], base[i+3:]
	}
	l := []byte(letters + string(flag))
	slices.Sort(l)
	return os.Rename(path, filepath.Join(filepath.Dir(filepath.Clean(dir)), "cur", base+":2,"+string(l)))
}

func values(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, fmt.Sprintf("%q", k))
	}
	return out
}
