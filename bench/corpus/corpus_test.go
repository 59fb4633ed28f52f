package corpus

import (
	"bytes"
	"fmt"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/internal/testenv"
)

func TestMessageIsDeterministic(t *testing.T) {
	a, err := New(Default(200, 7))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := New(Default(200, 7))
	other, _ := New(Default(200, 8))
	for _, i := range []int{0, 1, 57, 199, 200, 201} {
		ma, mb, mo := a.Message(i), b.Message(i), other.Message(i)
		if !bytes.Equal(ma.Data, mb.Data) || ma.Folder != mb.Folder || ma.Flags != mb.Flags || !ma.Date.Equal(mb.Date) {
			t.Errorf("message %d differs between two corpora of the same spec", i)
		}
		if bytes.Equal(ma.Data, mo.Data) {
			t.Errorf("message %d is the same with another seed", i)
		}
	}
}

func TestDefaultCorpusShape(t *testing.T) {
	const n = 600
	c, err := New(Default(n, 1))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"INBOX": 300, "Archive": 180, "Lists/golang": 90, "Sent": 30}
	got := map[string]int{}
	ids := map[string]bool{}
	var attachments, seen, flagged int
	var prev time.Time
	for i := range n + 2 {
		m := c.Message(i)
		if i >= n {
			if m.Folder != "INBOX" || m.Flags != "" || !m.Date.After(c.Spec().End) {
				t.Errorf("extra message %d: folder %q, flags %q, date %v", i, m.Folder, m.Flags, m.Date)
			}
		} else {
			got[m.Folder]++
		}
		if i > 0 && i < n && m.Date.Before(prev) {
			t.Errorf("message %d is dated %v, before message %d", i, m.Date, i-1)
		}
		prev = m.Date
		if !bytes.HasSuffix(m.Data, []byte("\r\n")) || bytes.Contains(bytes.ReplaceAll(m.Data, []byte("\r\n"), nil), []byte("\n")) {
			t.Fatalf("message %d: not CRLF throughout", i)
		}
		parsed, err := mail.ReadMessage(bytes.NewReader(m.Data))
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if id := parsed.Header.Get("Message-Id"); id != m.MessageID || ids[id] {
			t.Fatalf("message %d: Message-ID %q (generated %q), or repeated", i, id, m.MessageID)
		}
		ids[m.MessageID] = true
		size := len(m.Data)
		if strings.HasPrefix(parsed.Header.Get("Content-Type"), "multipart/mixed") {
			attachments++
			if size < 95_000 || size > 605_000 {
				t.Errorf("message %d with an attachment: %d bytes, want 100-600 KB", i, size)
			}
		} else if size < 2000 || size > 21_000 {
			t.Errorf("text message %d: %d bytes", i, size)
		}
		if strings.Contains(m.Flags, "S") {
			seen++
		}
		if strings.Contains(m.Flags, "F") {
			flagged++
		}
		if !slices.IsSorted([]byte(m.Flags)) {
			t.Errorf("message %d: flags %q not sorted", i, m.Flags)
		}
	}
	for f, k := range want {
		if got[f] != k {
			t.Errorf("%s holds %d messages, want %d", f, got[f], k)
		}
	}
	if attachments != n*5/100 {
		t.Errorf("%d messages with an attachment, want %d", attachments, n*5/100)
	}
	if seen < n*65/100 || seen > n*75/100 || flagged < n*3/100 || flagged > n*7/100 {
		t.Errorf("%d seen, %d flagged of %d", seen, flagged, n)
	}
}

func TestNewRejectsBadSpecs(t *testing.T) {
	for name, mod := range map[string]func(*Spec){
		"no messages":   func(s *Spec) { s.Messages = 0 },
		"shares != 100": func(s *Spec) { s.Folders[0].Percent = 10 },
		"no folders":    func(s *Spec) { s.Folders = nil },
		"sizes":         func(s *Spec) { s.TextMax = 1 },
	} {
		s := Default(10, 1)
		mod(&s)
		if _, err := New(s); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestEachStopsAtFirstError(t *testing.T) {
	c, _ := New(Default(50, 1))
	err := c.Each(3, func(m Message) error {
		if m.Index == 10 {
			return imapErr
		}
		return nil
	})
	if err != imapErr {
		t.Fatalf("Each returned %v", err)
	}
}

var imapErr = &imap.Error{Type: imap.StatusResponseTypeNo, Text: "test"}

// loaded checks every message of c is on the server with its flags, date
// and size.
func loaded(t *testing.T, s *Server, c *Corpus) {
	t.Helper()
	byID := map[string]Message{}
	for i := range c.Len() {
		m := c.Message(i)
		byID[m.MessageID] = m
	}
	total := 0
	for _, f := range c.Folders() {
		msgs := s.User.Messages(t, f)
		total += len(msgs)
		for _, got := range msgs {
			want, ok := byID[got.MessageID]
			if !ok || want.Folder != f {
				t.Errorf("%s UID %d: unexpected message %s", f, got.UID, got.MessageID)
				continue
			}
			var flags []string
			for _, fl := range want.IMAPFlags() {
				flags = append(flags, string(fl))
			}
			slices.Sort(flags)
			if !slices.Equal(got.Flags, flags) || got.Size != int64(len(want.Data)) || !got.Date.Equal(want.Date) {
				t.Errorf("%s UID %d: flags %v size %d date %v, want %v %d %v", f, got.UID, got.Flags, got.Size, got.Date, flags, len(want.Data), want.Date)
			}
		}
	}
	if total != c.Len() {
		t.Errorf("server holds %d messages, want %d", total, c.Len())
	}
}

func TestLoadMaildir(t *testing.T) {
	testenv.RequireDovecot(t)
	c, _ := New(Default(60, 3))
	s, err := StartServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := s.LoadMaildir(c, 2)
	if err != nil {
		t.Fatal(err)
	}
	if st.Messages != 60 || st.Bytes <= 0 {
		t.Errorf("stats %+v", st)
	}
	loaded(t, s, c)
	// UIDs follow the dates.
	msgs := s.User.Messages(t, "INBOX")
	for i := 1; i < len(msgs); i++ {
		if msgs[i].Date.Before(msgs[i-1].Date) {
			t.Errorf("INBOX UID %d dated before UID %d", msgs[i].UID, msgs[i-1].UID)
		}
	}
}

func TestLoadAppendChangeFlagsAndCounters(t *testing.T) {
	testenv.RequireDovecot(t)
	c, _ := New(Default(40, 4))
	s, err := StartServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.LoadAppend(c, 3); err != nil {
		t.Fatal(err)
	}
	loaded(t, s, c)

	before := map[string][]testenv.Msg{}
	for _, f := range c.Folders() {
		before[f] = s.User.Messages(t, f)
	}
	changes, err := s.ChangeFlags(c.Folders(), 6, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 6 {
		t.Fatalf("%d changes", len(changes))
	}
	for _, ch := range changes {
		var was, now []string
		for _, m := range before[ch.Folder] {
			if imap.UID(m.UID) == ch.UID {
				was = m.Flags
			}
		}
		for _, m := range s.User.Messages(t, ch.Folder) {
			if imap.UID(m.UID) == ch.UID {
				now = m.Flags
			}
		}
		if slices.Contains(was, string(ch.Flag)) == ch.Added || slices.Contains(now, string(ch.Flag)) != ch.Added {
			t.Errorf("%+v: flags were %v, are %v", ch, was, now)
		}
	}

	if rev, err := s.Reverted(changes); err != nil || len(rev) != 0 {
		t.Errorf("Reverted right after the changes: %v, %v", rev, err)
	}
	undo := changes[0]
	s.User.SetFlags(t, undo.Folder, uint32(undo.UID), !undo.Added, undo.Flag)
	if rev, err := s.Reverted(changes); err != nil || len(rev) != 1 || rev[0] != undo {
		t.Errorf("Reverted after undoing %+v: %v, %v", undo, rev, err)
	}

	uid, err := s.Append(c.Message(c.Len()))
	if err != nil || uid == 0 {
		t.Fatalf("append: UID %d, %v", uid, err)
	}
	msgs := s.User.Messages(t, "INBOX")
	if len(msgs) != c.Counts()["INBOX"]+1 || msgs[len(msgs)-1].UID != uint32(uid) {
		t.Errorf("INBOX holds %d messages after the append, last UID %d, want UID %d", len(msgs), msgs[len(msgs)-1].UID, uid)
	}
}

// testenvTimeout bounds the wait for Dovecot's session lines: a safety
// net, not a performance assertion.
const testenvTimeout = time.Minute

func TestSettledCounters(t *testing.T) {
	testenv.RequireDovecot(t)
	s, err := StartServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c0, err := s.SettledCounters(0, testenvTimeout)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := s.Dial()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	logout(cl)
	c1, err := s.SettledCounters(c0.IMAPSessions+1, testenvTimeout)
	if err != nil {
		t.Fatal(err)
	}
	if c1.IMAPSessions != c0.IMAPSessions+1 || c1.In <= c0.In || c1.Out <= c0.Out {
		t.Errorf("counters before %+v, after %+v", c0, c1)
	}
}

func TestSnapshotAndReadMaildirAgree(t *testing.T) {
	testenv.RequireDovecot(t)
	c, _ := New(Default(20, 5))
	s, err := StartServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.LoadMaildir(c, 2); err != nil {
		t.Fatal(err)
	}
	server, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	for f, n := range c.Counts() {
		if len(server[f]) != n {
			t.Errorf("snapshot of %q: %d messages, want %d", f, len(server[f]), n)
		}
	}
	// A local copy written by hand, verbatim layout, one flag off.
	root := t.TempDir()
	for i := range c.Len() {
		m := c.Message(i)
		flags := m.Flags
		if i == 3 {
			flags = strings.ReplaceAll(flags, "S", "") + "T"
		}
		dir := filepath.Join(root, filepath.FromSlash(m.Folder))
		for _, sub := range []string{"cur", "new", "tmp"} {
			if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "cur", fmt.Sprintf("%d.x:2,%s", i, flags)), m.Data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	local, err := ReadMaildir(root, "verbatim")
	if err != nil {
		t.Fatal(err)
	}
	diffs := testenv.DiffAccount(server, local)
	if len(diffs) != 1 || !strings.Contains(diffs[0], c.Message(3).MessageID) {
		t.Errorf("differences %q, want one about message 3", diffs)
	}
}
