package pop3pull

import (
	"context"
	"errors"
	"testing"

	"github.com/mailmirror/mailmirror/internal/testenv"
)

// A poll given the session DialEarly started stores every message in one
// session (no second login), and the next poll, dialled early as well,
// finds nothing new.
func TestDovecotEarlySessionIsThePollsSession(t *testing.T) {
	u := testenv.Shared(t).NewUser(t)
	msgs := appendMessages(t, u, 4, 16)
	d := dovecotDevice(t, u, nil)
	for i, want := range []int{4, 0} {
		d.opts.Early = DialEarly(context.Background(), d.acct, "", 0)
		res := d.poll(t)
		if res.Downloaded != want || res.Messages != 4 {
			t.Fatalf("poll %d: %+v, want %d downloaded of 4", i+1, res, want)
		}
		if c := u.LogCounters(t, i+1); c.POP3Sessions != i+1 {
			t.Errorf("after poll %d Dovecot logged %d POP3 sessions, want one per poll", i+1, c.POP3Sessions)
		}
	}
	checkIDs(t, "local", idsOf(d.local(t)), idsOf(msgs))
}

// A refused early login is the poll's error, as a refused login of its
// own would be, and nothing is stored.
func TestDovecotEarlyLoginRefused(t *testing.T) {
	u := testenv.Shared(t).NewUser(t)
	appendMessages(t, u, 1, 17)
	d := dovecotDevice(t, u, nil)
	d.acct.Password = "wrong"
	d.opts.Early = DialEarly(context.Background(), d.acct, "", 0)
	res, err := Poll(context.Background(), d.acct, d.store, d.db, &d.opts)
	var ce *connectError
	if err == nil || !errors.As(err, &ce) || res.Downloaded != 0 {
		t.Fatalf("poll with a refused early login: %+v, %v", res, err)
	}
	if n := len(d.local(t)); n != 0 {
		t.Errorf("%d messages stored after a refused login", n)
	}
}
