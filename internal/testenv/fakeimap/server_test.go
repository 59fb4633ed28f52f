package fakeimap

import (
	"bytes"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

func TestMUTF7RoundTrip(t *testing.T) {
	for _, s := range []string{"INBOX", "a&b", "Entwürfe", "a\x00b", "tab\there", "日本語", "../../x", `\evil`} {
		e := EncodeMUTF7(s)
		for i := 0; i < len(e); i++ {
			if e[i] < 0x20 || e[i] > 0x7e {
				t.Errorf("%q encodes to %q with a raw byte", s, e)
			}
		}
		d, err := DecodeMUTF7(e)
		if err != nil || d != s {
			t.Errorf("%q → %q → %q, %v", s, e, d, err)
		}
	}
	if e := EncodeMUTF7("Entwürfe"); e != "Entw&APw-rfe" {
		t.Errorf("Entwürfe → %q", e)
	}
}

func TestNormalSession(t *testing.T) {
	s := New()
	s.Caps = []string{"UIDPLUS", "ESEARCH", "LIST-STATUS", "NAMESPACE", "MOVE"}
	body := []byte("Message-ID: <1@x>\r\nSubject: hi\r\nX-Other: y\r\n\r\nbody\r\n")
	s.Mailbox("INBOX").Add(body, `\Seen`)
	s.AddMailbox("Dir/Sub").Add(body)
	Start(t, s)
	c, err := imapclient.DialInsecure(s.Addr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("u", "pw").Wait(); err != nil {
		t.Fatal(err)
	}
	list, err := c.List("", "*", &imap.ListOptions{ReturnStatus: &imap.StatusOptions{NumMessages: true, UIDValidity: true}}).Collect()
	if err != nil || len(list) != 2 || list[1].Mailbox != "Dir/Sub" || list[1].Status == nil || *list[1].Status.NumMessages != 1 {
		t.Fatalf("list %+v, %v", list, err)
	}
	sel, err := c.Select("Dir/Sub", nil).Wait()
	if err != nil || sel.NumMessages != 1 || sel.UIDValidity != 1 || sel.UIDNext != 2 {
		t.Fatalf("select %+v, %v", sel, err)
	}
	hdr := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Message-Id", "Subject"}, Peek: true}
	all := &imap.FetchItemBodySection{Peek: true}
	msgs, err := c.Fetch(imap.UIDSetNum(1), &imap.FetchOptions{UID: true, Flags: true, RFC822Size: true, InternalDate: true,
		BodySection: []*imap.FetchItemBodySection{hdr, all}}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("fetch %v, %v", msgs, err)
	}
	if got := msgs[0].FindBodySection(hdr); string(got) != "Message-ID: <1@x>\r\nSubject: hi\r\n\r\n" {
		t.Errorf("header fields %q", got)
	}
	if got := msgs[0].FindBodySection(all); !bytes.Equal(got, body) {
		t.Errorf("body %q", got)
	}
	cmd := c.Append("Dir/Sub", int64(len(body)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagFlagged}})
	cmd.Write(body)
	cmd.Close()
	ad, err := cmd.Wait()
	if err != nil || ad.UID != 2 {
		t.Fatalf("append %+v, %v", ad, err)
	}
	sd, err := c.UIDSearch(&imap.SearchCriteria{}, &imap.SearchOptions{ReturnAll: true}).Wait()
	if err != nil || sd.All.String() != "1:2" {
		t.Fatalf("search %v, %v", sd, err)
	}
	if _, err := c.Move(imap.UIDSetNum(1), "INBOX").Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Store(imap.UIDSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.UIDExpunge(imap.UIDSetNum(2)).Close(); err != nil {
		t.Fatal(err)
	}
	s.Lock()
	n, in := len(s.Mailbox("Dir/Sub").Messages), len(s.Mailbox("INBOX").Messages)
	s.Unlock()
	if n != 0 || in != 2 {
		t.Errorf("after move and expunge: Dir/Sub %d, INBOX %d", n, in)
	}
	if p := s.Passwords(); len(p) != 1 || p[0] != "pw" {
		t.Errorf("passwords %q", p)
	}
}
