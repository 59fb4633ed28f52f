package corpus

import (
	"bufio"
	"bytes"
	"fmt"
	"net/textproto"
	"slices"
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/internal/testenv"
)

// Snapshot reads every selectable folder of the server, read-only, over a
// connection of its own that it logs out before returning: per folder, the
// messages with UID, Message-ID, flags (without \Recent), size and
// INTERNALDATE, in the form testenv.DiffAccount compares with a local
// Maildir read by ReadMaildir.
func (s *Server) Snapshot() (map[string][]testenv.Msg, error) {
	c, err := s.Dial()
	if err != nil {
		return nil, err
	}
	defer logout(c)
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		return nil, fmt.Errorf("corpus: list: %w", err)
	}
	out := make(map[string][]testenv.Msg)
	hdr := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Message-ID"}, Peek: true}
	for _, l := range list {
		if slices.Contains(l.Attrs, imap.MailboxAttrNoSelect) || slices.Contains(l.Attrs, imap.MailboxAttrNonExistent) {
			continue
		}
		sel, err := c.Select(l.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait()
		if err != nil {
			return nil, fmt.Errorf("corpus: examine %q: %w", l.Mailbox, err)
		}
		msgs := []testenv.Msg{}
		if sel.NumMessages > 0 {
			bufs, err := c.Fetch(imap.UIDSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{
				UID: true, Flags: true, RFC822Size: true, InternalDate: true,
				BodySection: []*imap.FetchItemBodySection{hdr},
			}).Collect()
			if err != nil {
				return nil, fmt.Errorf("corpus: fetch %q: %w", l.Mailbox, err)
			}
			for _, b := range bufs {
				m := testenv.Msg{UID: uint32(b.UID), Size: b.RFC822Size, Date: b.InternalDate}
				h, _ := textproto.NewReader(bufio.NewReader(bytes.NewReader(b.FindBodySection(hdr)))).ReadMIMEHeader()
				m.MessageID = strings.TrimSpace(h.Get("Message-Id"))
				for _, f := range b.Flags {
					if !strings.EqualFold(string(f), `\Recent`) {
						m.Flags = append(m.Flags, string(f))
					}
				}
				slices.Sort(m.Flags)
				msgs = append(msgs, m)
			}
		}
		out[l.Mailbox] = msgs
	}
	return out, nil
}

// ReadMaildir reads a local Maildir tree as testenv.ReadMaildir does
// (layout "verbatim" or "maildir++"), returning an error instead of
// failing a test.
func ReadMaildir(root, layout string) (map[string][]testenv.Msg, error) {
	var out map[string][]testenv.Msg
	t := &TB{}
	err := t.run(func() { out = testenv.ReadMaildir(t, root, layout) })
	return out, err
}
