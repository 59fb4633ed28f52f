package pop3pull

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/internal/testenv/pop3srv"
	"github.com/mailmirror/mailmirror/maildir"
)

// Regression tests for issue 19, items 3 to 7 (POP3 on bad servers).

// clock is a settable Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Item 3: a message whose RETR always breaks the connection is named, the
// others are fetched, it is tried again after a back-off and last, and
// after StuckAfter failures it is reported as stuck, in the state DB too.
func TestIssue19BrokenMessageDoesNotBlockTheOthers(t *testing.T) {
	srv, addr := startFake(t, pop3srv.Options{})
	all := addMessages(srv, 5, "stuck")
	bad := uidlsOf(srv)[1]
	srv.SetFaults(pop3srv.Faults{BreakUIDL: bad})
	d := newDevice(t, addr, nil)
	clk := &clock{t: time.Now()}
	d.opts.Now = clk.now

	res := d.poll(t)
	if res.Downloaded != 4 || res.NotFetched != 1 {
		t.Fatalf("first poll: %+v, want the 4 others downloaded", res)
	}
	if len(res.Errors) != 1 || res.Errors[0].Num != 2 || res.Errors[0].UIDL != bad ||
		!strings.Contains(res.Errors[0].Error(), "message 2 (UIDL "+bad+")") {
		t.Fatalf("problems %v, want message 2 (%s) named", res.Errors, bad)
	}
	checkSame(t, "local", d.local(t), wantSet(all[0], all[2], all[3], all[4]))

	// In its back-off: not asked for again, still reported.
	retrs := srv.Count("RETR")
	res = d.poll(t)
	if srv.Count("RETR") != retrs || len(res.Errors) != 1 || res.NotFetched != 1 {
		t.Fatalf("poll in the back-off: %d RETR sent, %+v", srv.Count("RETR")-retrs, res)
	}

	// After the back-off it is tried last: a new message comes first, in
	// the same session.
	more := addMessages(srv, 1, "later")
	clk.add(firstBackoff + time.Second)
	logins := srv.Logins()
	res = d.poll(t)
	if res.Downloaded != 1 || srv.Logins() != logins+1 {
		t.Fatalf("poll after the back-off: %+v in %d logins, want the new message in one", res, srv.Logins()-logins)
	}
	checkSame(t, "local", d.local(t), wantSet(all[0], all[2], all[3], all[4], more[0]))

	clk.add(backoff(2) + time.Second)
	res = d.poll(t)
	if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Error(), "stuck") {
		t.Fatalf("after %d failures: %v, want it reported as stuck", StuckAfter, res.Errors)
	}
	fails, err := d.db.POP3Failures(d.acct.Name)
	if err != nil || fails[bad].Failures != StuckAfter {
		t.Fatalf("failure records %+v, %v", fails, err)
	}
	problems, _, err := d.db.POP3Problems(d.acct.Name)
	if err != nil || len(problems) != 1 || !strings.Contains(problems[0], "stuck") || !strings.Contains(problems[0], bad) {
		t.Fatalf("problems in the state: %q, %v", problems, err)
	}

	// The server mends: the message comes, the records go.
	srv.SetFaults(pop3srv.Faults{})
	clk.add(backoff(3) + time.Second)
	res = d.poll(t)
	if res.Downloaded != 1 || len(res.Errors) != 0 || res.NotFetched != 0 {
		t.Fatalf("poll after the server mended: %+v", res)
	}
	checkSame(t, "local", d.local(t), wantSet(append(all, more...)...))
	if fails, _ := d.db.POP3Failures(d.acct.Name); len(fails) != 0 {
		t.Errorf("failure records left: %+v", fails)
	}
	if problems, _, _ := d.db.POP3Problems(d.acct.Name); len(problems) != 0 {
		t.Errorf("problems left: %q", problems)
	}
}

// Item 4: UIDLs outside RFC 1939's syntax (71 characters, 8-bit bytes)
// identify their messages well enough: they are fetched once, stored
// escaped.
func TestIssue19UnusualUIDLsAreFetched(t *testing.T) {
	srv, addr := startFake(t, pop3srv.Options{})
	all := addMessages(srv, 2, "plain")
	long := strings.Repeat("L", 71)
	eight := "caf\xe9-\xc2\xa0-8bit%"
	for i, u := range []string{long, eight} {
		b := []byte("Subject: unusual " + string(rune('a'+i)) + "\r\nMessage-ID: <u" + string(rune('a'+i)) + "@x>\r\n\r\nbody\r\n")
		srv.Mailbox.AddWithUIDL(b, u)
		all = append(all, b)
	}
	d := newDevice(t, addr, nil)
	res := d.poll(t)
	if res.Downloaded != 4 || res.Messages != 4 || len(res.Errors) != 0 {
		t.Fatalf("poll: %+v, want all 4 downloaded without problems", res)
	}
	checkSame(t, "local", d.local(t), wantSet(all...))
	known, err := d.db.POP3UIDLs(d.acct.Name)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"esc " + long, "esc caf%E9-%C2%A0-8bit%25"} {
		if _, ok := known[want]; !ok {
			t.Errorf("no record %q in %v", want, known)
		}
	}
	if res := d.poll(t); res.Downloaded != 0 || res.New != 0 {
		t.Fatalf("second poll: %+v", res)
	}
}

// Item 4: what cannot be fetched is said, line by line, and the count is
// the server's.
func TestIssue19UnreadableUIDLLinesAreReported(t *testing.T) {
	srv, addr := startFake(t, pop3srv.Options{})
	addMessages(srv, 3, "garbage")
	srv.SetFaults(pop3srv.Faults{GarbageListings: true})
	d := newDevice(t, addr, nil)
	res := d.poll(t)
	var text []string
	for _, e := range res.Errors {
		text = append(text, e.Error())
	}
	joined := strings.Join(text, "\n")
	for _, want := range []string{"longer than 1024 bytes", "lists message 1 twice", `"this is not a listing line"`} {
		if !strings.Contains(joined, want) {
			t.Errorf("problems do not say %q:\n%s", want, joined)
		}
	}
	if res.Downloaded != 3 {
		t.Errorf("poll: %+v", res)
	}
}

// Item 5: poll 1 sees A and B, both "same"; poll 2 only B; poll 3 B and a
// new C, "same" too: C is downloaded, nothing twice.
func TestIssue19SharedUIDLNeverLosesAMessage(t *testing.T) {
	srv, addr := startFake(t, pop3srv.Options{})
	body := func(n string) []byte {
		return []byte("Subject: " + n + "\r\nMessage-ID: <" + n + "@x>\r\n\r\nbody of " + n + "\r\n")
	}
	a, b, c := body("A"), body("B"), body("C")
	srv.Mailbox.AddWithUIDL(a, "same")
	srv.Mailbox.AddWithUIDL(b, "same")
	d := newDevice(t, addr, nil)
	if res := d.poll(t); res.Downloaded != 2 {
		t.Fatalf("poll 1: %+v", res)
	}
	first := srv.Mailbox.Messages()[0]
	srv.Mailbox.Remove(first)
	if res := d.poll(t); res.Downloaded != 0 {
		t.Fatalf("poll 2 (only B): %+v", res)
	}
	srv.Mailbox.AddWithUIDL(c, "same")
	if res := d.poll(t); res.Downloaded != 1 {
		t.Fatalf("poll 3 (B and C): %+v, want C downloaded", res)
	}
	checkSame(t, "local", d.local(t), wantSet(a, b, c))
	if res := d.poll(t); res.Downloaded != 0 {
		t.Fatalf("poll 4: %+v", res)
	}
}

// Item 5: a message stored under a UIDL that another message takes later
// is recognised by its header: neither is lost, neither stored twice.
func TestIssue19UIDLSharedLaterKeepsTheFirst(t *testing.T) {
	srv, addr := startFake(t, pop3srv.Options{})
	a := []byte("Subject: A\r\nMessage-ID: <A@x>\r\n\r\nA\r\n")
	b := []byte("Subject: B\r\nMessage-ID: <B@x>\r\n\r\nB\r\n")
	srv.Mailbox.AddWithUIDL(b, "reused")
	d := newDevice(t, addr, nil)
	d.poll(t)
	// The new message comes first in the listing: order alone would
	// take it for the stored one.
	srv.Mailbox.Remove(srv.Mailbox.Messages()...)
	srv.Mailbox.AddWithUIDL(a, "reused")
	srv.Mailbox.AddWithUIDL(b, "reused")
	if res := d.poll(t); res.Downloaded != 1 {
		t.Fatalf("poll with the UIDL shared: %+v", res)
	}
	checkSame(t, "local", d.local(t), wantSet(a, b))
	if res := d.poll(t); res.Downloaded != 0 {
		t.Fatalf("poll after: %+v", res)
	}
}

// Item 6: a server that trickles its answer holds a poll no longer than
// its bound, whatever the per-read timeout.
func TestIssue19TricklingServerIsCutOff(t *testing.T) {
	srv, addr := startFake(t, pop3srv.Options{})
	addMessages(srv, 1, "trickle")
	srv.SetFaults(pop3srv.Faults{TrickleEvery: 20 * time.Millisecond})
	d := newDevice(t, addr, nil)
	d.opts.PollTimeout = 300 * time.Millisecond
	res, err := Poll(context.Background(), d.acct, d.store, d.db, &d.opts)
	if !errors.Is(err, ErrPollTimeout) || !strings.Contains(err.Error(), "message 1 (UIDL ") {
		t.Fatalf("poll of a trickling server: %v, want ErrPollTimeout naming message 1", err)
	}
	if res.Downloaded != 0 || len(d.local(t)) != 0 {
		t.Fatalf("stored from a cut-off answer: %+v", res)
	}
	if fails, _ := d.db.POP3Failures(d.acct.Name); len(fails) != 1 {
		t.Errorf("the message in flight is not recorded as failing: %+v", fails)
	}
}

// Item 7: with delete_when_deleted_locally, a Maildir root that is gone
// (an unmounted disk) deletes nothing from the server, even below the
// wipe guard's 10 messages, and is not created again.
func TestIssue19MissingMaildirRootDeletesNothing(t *testing.T) {
	srv, addr := startFake(t, pop3srv.Options{})
	addMessages(srv, 3, "root")
	d := newDevice(t, addr, func(a *config.Account) { a.DeleteWhenDeletedLocally = true })
	if _, err := SyncAccount(context.Background(), nil, d.acct, d.db); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(d.acct.Maildir); err != nil {
		t.Fatal(err)
	}
	_, err := SyncAccount(context.Background(), nil, d.acct, d.db)
	if !errors.Is(err, ErrMaildirMissing) || !strings.Contains(err.Error(), d.acct.Maildir) {
		t.Fatalf("poll without the Maildir root: %v, want ErrMaildirMissing naming it", err)
	}
	if srv.Mailbox.Len() != 3 {
		t.Fatalf("the server lost messages: %d left", srv.Mailbox.Len())
	}
	if _, err := os.Stat(d.acct.Maildir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the missing root was created again: %v", err)
	}
	// Only the folder gone, the root there: the same.
	store, err := maildir.Open(d.acct.Maildir, d.acct.Layout)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Poll(context.Background(), d.acct, store, d.db, nil); !errors.Is(err, ErrMaildirMissing) {
		t.Fatalf("poll without the folder: %v, want ErrMaildirMissing", err)
	}
	if srv.Mailbox.Len() != 3 {
		t.Fatalf("the server lost messages: %d left", srv.Mailbox.Len())
	}
}
