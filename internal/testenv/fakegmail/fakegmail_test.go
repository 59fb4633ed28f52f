package fakegmail

import (
	"fmt"
	"slices"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

func dial(t *testing.T, s *Server) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(s.Addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(s.User, s.Password).Wait(); err != nil {
		t.Fatal(err)
	}
	return c
}

func raw(n int) []byte {
	return []byte(fmt.Sprintf("Message-Id: <m%d@test>\r\nSubject: message %d\r\n\r\nbody %d\r\n", n, n, n))
}

func id(n int) string { return fmt.Sprintf("<m%d@test>", n) }

func appendTo(t *testing.T, c *imapclient.Client, folder string, r []byte, flags ...imap.Flag) imap.UID {
	t.Helper()
	cmd := c.Append(folder, int64(len(r)), &imap.AppendOptions{Flags: flags})
	cmd.Write(r)
	cmd.Close()
	d, err := cmd.Wait()
	if err != nil {
		t.Fatal(err)
	}
	return d.UID
}

func wantLabels(t *testing.T, s *Server, msgid string, want ...string) {
	t.Helper()
	slices.Sort(want)
	if got := s.Store.Labels(msgid); !slices.Equal(got, want) {
		t.Fatalf("%s is in %q, want %q", msgid, got, want)
	}
}

func TestListSpecialUse(t *testing.T) {
	s := Start(t)
	c := dial(t, s)
	list, err := c.List("", "*", &imap.ListOptions{ReturnStatus: &imap.StatusOptions{NumMessages: true, UIDNext: true, UIDValidity: true}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	attrs := map[string][]imap.MailboxAttr{}
	for _, l := range list {
		attrs[l.Mailbox] = l.Attrs
		if l.Mailbox != "[Gmail]" && (l.Status == nil || l.Status.UIDValidity == 0) {
			t.Errorf("%s: no status in LIST-STATUS", l.Mailbox)
		}
	}
	for name, a := range map[string]imap.MailboxAttr{AllMail: imap.MailboxAttrAll, Starred: imap.MailboxAttrFlagged, SentMail: imap.MailboxAttrSent, Trash: imap.MailboxAttrTrash, Spam: imap.MailboxAttrJunk, Drafts: imap.MailboxAttrDrafts, Important: imap.MailboxAttrImportant, "[Gmail]": imap.MailboxAttrNoSelect} {
		if !slices.Contains(attrs[name], a) {
			t.Errorf("%s: attributes %q lack %s", name, attrs[name], a)
		}
	}
	if _, ok := attrs[Inbox]; !ok {
		t.Error("no INBOX")
	}
}

// TestLabelsAreViews: a message appended to INBOX is in All Mail; COPY
// into a label adds the label without a second message; expunge in a
// label removes only that label; expunge in All Mail deletes it.
func TestLabelsAreViews(t *testing.T) {
	s := Start(t)
	c := dial(t, s)
	c.Create("Work", nil).Wait()
	uid := appendTo(t, c, Inbox, raw(1))
	wantLabels(t, s, id(1), Inbox, AllMail)
	if _, err := c.Select(Inbox, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	cd, err := c.Copy(imap.UIDSetNum(uid), "Work").Wait()
	if err != nil {
		t.Fatal(err)
	}
	if s.Store.Count() != 1 {
		t.Fatalf("%d messages after COPY into a label, want 1", s.Store.Count())
	}
	wantLabels(t, s, id(1), Inbox, AllMail, "Work")
	work := s.Store.Messages("Work")
	if len(work) != 1 || cd.DestUIDs.String() != fmt.Sprint(work[0].UID) || cd.UIDValidity != s.Store.Status("Work").UIDValidity {
		t.Fatalf("COPYUID %v/%d, Work has %v", cd.DestUIDs, cd.UIDValidity, work)
	}
	// A second COPY adds nothing.
	c.Copy(imap.UIDSetNum(uid), "Work").Wait()
	if n := len(s.Store.Messages("Work")); n != 1 {
		t.Fatalf("Work has %d entries after a second COPY", n)
	}
	// Remove INBOX: \Deleted + UID EXPUNGE in INBOX archives it.
	c.Store(imap.UIDSetNum(uid), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close()
	if fl := s.Store.Messages(AllMail)[0].Flags; slices.Contains(fl, string(imap.FlagDeleted)) {
		t.Fatalf("\\Deleted in INBOX shows in All Mail: %q", fl)
	}
	if err := c.UIDExpunge(imap.UIDSetNum(uid)).Close(); err != nil {
		t.Fatal(err)
	}
	wantLabels(t, s, id(1), AllMail, "Work")
	// Archived (no label at all): only in All Mail.
	s.Store.RemoveLabel(id(1), "Work")
	wantLabels(t, s, id(1), AllMail)
	// Expunge in All Mail deletes.
	c.Select(AllMail, nil).Wait()
	all := s.Store.Messages(AllMail)
	c.Store(imap.UIDSetNum(imap.UID(all[0].UID)), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close()
	c.UIDExpunge(imap.UIDSetNum(imap.UID(all[0].UID))).Close()
	if s.Store.Count() != 0 || s.Store.Labels(id(1)) != nil {
		t.Fatalf("expunged in All Mail but still stored: %q", s.Store.Labels(id(1)))
	}
}

// TestStarredIsFlagged: \Flagged and Starred membership are one thing.
func TestStarredIsFlagged(t *testing.T) {
	s := Start(t)
	c := dial(t, s)
	appendTo(t, c, AllMail, raw(1))
	wantLabels(t, s, id(1), AllMail)
	c.Select(AllMail, nil).Wait()
	c.Store(imap.UIDSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close()
	wantLabels(t, s, id(1), AllMail, Starred)
	c.Select(Starred, nil).Wait()
	c.Store(imap.UIDSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close()
	c.UIDExpunge(imap.UIDSetNum(1)).Close()
	wantLabels(t, s, id(1), AllMail)
	if fl := s.Store.Messages(AllMail)[0].Flags; slices.Contains(fl, string(imap.FlagFlagged)) {
		t.Fatalf("still \\Flagged after leaving Starred: %q", fl)
	}
	// COPY into Starred stars it.
	c.Select(AllMail, nil).Wait()
	c.Copy(imap.UIDSetNum(1), Starred).Wait()
	if fl := s.Store.Messages(AllMail)[0].Flags; !slices.Contains(fl, string(imap.FlagFlagged)) {
		t.Fatalf("not \\Flagged after COPY into Starred: %q", fl)
	}
}

// TestCountersPerView: each view has its own UIDVALIDITY, UIDNEXT and
// MODSEQ; a flag change moves the modseq of every view of the message.
func TestCountersPerView(t *testing.T) {
	s := Start(t)
	c := dial(t, s)
	c.Create("L", nil).Wait()
	appendTo(t, c, Inbox, raw(1))
	appendTo(t, c, Inbox, raw(2))
	appendTo(t, c, AllMail, raw(3))
	in, all, l := s.Store.Status(Inbox), s.Store.Status(AllMail), s.Store.Status("L")
	if in.UIDValidity == all.UIDValidity || in.Messages != 2 || all.Messages != 3 || in.UIDNext != 3 || all.UIDNext != 4 || l.Messages != 0 {
		t.Fatalf("INBOX %+v All Mail %+v L %+v", in, all, l)
	}
	c.Select(AllMail, nil).Wait()
	c.Copy(imap.UIDSetNum(3), "L").Wait()
	if got := s.Store.Messages("L"); len(got) != 1 || got[0].UID != 1 || got[0].MessageID != id(3) {
		t.Fatalf("L: %v", got)
	}
	before := s.Store.Status("L").HighestModSeq
	inBefore := s.Store.Status(Inbox).HighestModSeq
	c.Store(imap.UIDSetNum(3), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close()
	if s.Store.Status("L").HighestModSeq <= before {
		t.Error("a flag change did not move the label view's modseq")
	}
	if s.Store.Status(Inbox).HighestModSeq != inBefore {
		t.Error("a flag change moved the modseq of a view without the message")
	}
	// UID FETCH n:* (the server also answers n:* past the end with the
	// last message, as RFC 3501 says, which go-imap's client drops).
	c.Select(Inbox, nil).Wait()
	var set imap.UIDSet
	set.AddRange(2, 0)
	msgs, err := c.Fetch(set, &imap.FetchOptions{UID: true}).Collect()
	if err != nil || len(msgs) != 1 || msgs[0].UID != 2 {
		t.Fatalf("UID FETCH 2:* = %v, %v", msgs, err)
	}
	if !inRanges(2, 2, uidRanges(imap.UIDSet{{Start: 10, Stop: 0}})) {
		t.Error("10:* does not hold the last UID")
	}
}

// TestTrashLeavesAllMail: MOVE into the Trash takes the message out of All
// Mail and every label; a new session's sequence numbers follow.
func TestTrashLeavesAllMail(t *testing.T) {
	s := Start(t)
	c := dial(t, s)
	appendTo(t, c, Inbox, raw(1))
	appendTo(t, c, Inbox, raw(2))
	c.Select(AllMail, nil).Wait()
	if _, err := c.Move(imap.UIDSetNum(1), Trash).Wait(); err != nil {
		t.Fatal(err)
	}
	wantLabels(t, s, id(1), Trash)
	wantLabels(t, s, id(2), Inbox, AllMail)
	c2 := dial(t, s)
	sel, err := c2.Select(Inbox, nil).Wait()
	if err != nil || sel.NumMessages != 1 {
		t.Fatalf("INBOX after trashing: %v, %v", sel, err)
	}
	res, err := c2.UIDSearch(&imap.SearchCriteria{}, nil).Wait()
	if err != nil || res.AllUIDs()[0] != 2 {
		t.Fatalf("UID SEARCH ALL = %v, %v", res, err)
	}
}

// TestCondStore: CONDSTORE as the engine uses it: HIGHESTMODSEQ in SELECT
// and STATUS (LIST-STATUS too), FETCH CHANGEDSINCE per view.
func TestCondStore(t *testing.T) {
	s := Start(t)
	c := dial(t, s)
	if !c.Caps().Has(imap.CapCondStore) {
		t.Fatalf("no CONDSTORE in %v", c.Caps())
	}
	appendTo(t, c, Inbox, raw(1))
	appendTo(t, c, Inbox, raw(2))
	sel, err := c.Select(Inbox, &imap.SelectOptions{CondStore: true}).Wait()
	if err != nil || sel.HighestModSeq != s.Store.Status(Inbox).HighestModSeq || sel.HighestModSeq == 0 {
		t.Fatalf("SELECT (CONDSTORE): %+v, %v; store %d", sel, err, s.Store.Status(Inbox).HighestModSeq)
	}
	c.Store(imap.UIDSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close()
	var all imap.UIDSet
	all.AddRange(1, 0)
	msgs, err := c.Fetch(all, &imap.FetchOptions{UID: true, Flags: true, ChangedSince: sel.HighestModSeq}).Collect()
	if err != nil || len(msgs) != 1 || msgs[0].UID != 2 {
		t.Fatalf("FETCH CHANGEDSINCE: %v, %v", msgs, err)
	}
	if msgs, _ := c.Fetch(all, &imap.FetchOptions{UID: true, Flags: true}).Collect(); len(msgs) != 2 {
		t.Fatalf("FETCH without CHANGEDSINCE after one with: %d messages", len(msgs))
	}
	st, err := c.Status(AllMail, &imap.StatusOptions{NumMessages: true, HighestModSeq: true}).Wait()
	if err != nil || st.HighestModSeq != s.Store.Status(AllMail).HighestModSeq || st.HighestModSeq == 0 {
		t.Fatalf("STATUS HIGHESTMODSEQ: %+v, %v", st, err)
	}
	list, err := c.List("", "*", &imap.ListOptions{ReturnStatus: &imap.StatusOptions{UIDNext: true, HighestModSeq: true}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range list {
		if l.Mailbox == Inbox && (l.Status == nil || l.Status.HighestModSeq != s.Store.Status(Inbox).HighestModSeq) {
			t.Fatalf("LIST-STATUS of INBOX: %+v", l.Status)
		}
	}
	// A body with a literal passes the rewriting untouched.
	sec := &imap.FetchItemBodySection{Peek: true}
	msgs, err = c.Fetch(imap.UIDSetNum(1), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{sec}}).Collect()
	if err != nil || len(msgs) != 1 || string(msgs[0].FindBodySection(sec)) != string(raw(1)) {
		t.Fatalf("body through the CONDSTORE layer: %v", err)
	}
}
