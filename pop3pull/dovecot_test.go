package pop3pull

import (
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// dovecotDevice is a device polling u's account on the real Dovecot.
func dovecotDevice(t *testing.T, u *testenv.User, policy func(a *config.Account)) *device {
	t.Helper()
	acct := newAccount(t, u.POP3Addr(), u.Name, config.Secret(u.Password))
	if policy != nil {
		policy(acct)
	}
	return openDevice(t, acct, t.TempDir())
}

// appendMessages appends n generated messages to u's INBOX and returns
// them.
func appendMessages(t *testing.T, u *testenv.User, n int, seed uint64) [][]byte {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 0))
	var out [][]byte
	for range n {
		m := testenv.GenMessage(r, &testenv.GenOptions{BodySize: 500 + r.IntN(3000)})
		u.Append(t, "INBOX", m)
		out = append(out, m)
	}
	return out
}

// serverIDs returns the Message-IDs in u's INBOX, sorted.
func serverIDs(t *testing.T, u *testenv.User) []string {
	t.Helper()
	var ids []string
	for _, m := range u.Messages(t, "INBOX") {
		ids = append(ids, m.MessageID)
	}
	slices.Sort(ids)
	return ids
}

// idsOf returns the Message-IDs of messages, sorted.
func idsOf(msgs [][]byte) []string {
	var ids []string
	for _, m := range msgs {
		for _, line := range strings.Split(string(m), "\n") {
			line = strings.TrimRight(line, "\r")
			if line == "" {
				break
			}
			if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "Message-ID") {
				ids = append(ids, strings.TrimSpace(v))
			}
		}
	}
	slices.Sort(ids)
	return ids
}

func checkIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: Message-IDs\n got %v\nwant %v", what, got, want)
	}
}

func TestDovecotLeaveOnServerTwoDevices(t *testing.T) {
	u := testenv.Shared(t).NewUser(t)
	first := appendMessages(t, u, 5, 1)
	a := dovecotDevice(t, u, nil)
	b := dovecotDevice(t, u, nil)
	for _, d := range []*device{a, b} {
		if res := d.poll(t); res.Downloaded != 5 || !res.UIDL {
			t.Fatalf("first poll: %+v", res)
		}
		checkSame(t, "local", d.local(t), wantSet(first...))
	}
	more := appendMessages(t, u, 2, 2)
	all := append(first, more...)
	for _, d := range []*device{a, b} {
		if res := d.poll(t); res.Downloaded != 2 || res.New != 2 {
			t.Fatalf("second poll: %+v", res)
		}
		if res := d.poll(t); res.Downloaded != 0 || res.Deleted != 0 || res.Messages != 7 {
			t.Fatalf("nothing-new poll: %+v", res)
		}
		checkSame(t, "local", d.local(t), wantSet(all...))
	}
	checkIDs(t, "server", serverIDs(t, u), idsOf(all))
	if c := u.LogCounters(t, 6); c.Retr != 14 || c.Dele != 0 {
		t.Errorf("Dovecot counted %d RETR and %d deletions, want 14 and 0", c.Retr, c.Dele)
	}
}

func TestDovecotLeaveOnServerFalse(t *testing.T) {
	u := testenv.Shared(t).NewUser(t)
	first := appendMessages(t, u, 4, 3)
	a := dovecotDevice(t, u, func(a *config.Account) { a.LeaveOnServer = false })
	b := dovecotDevice(t, u, nil)
	b.poll(t)
	if res := a.poll(t); res.Downloaded != 4 || res.Deleted != 4 {
		t.Fatalf("classic POP3 poll: %+v", res)
	}
	checkSame(t, "device A", a.local(t), wantSet(first...))
	checkIDs(t, "server after A", serverIDs(t, u), nil)
	if res := b.poll(t); res.Downloaded != 0 || res.Messages != 0 {
		t.Fatalf("device B: %+v", res)
	}
	checkSame(t, "device B keeps its copies", b.local(t), wantSet(first...))
	late := appendMessages(t, u, 1, 4)
	a.poll(t)
	checkSame(t, "device A", a.local(t), wantSet(append(first, late...)...))
	checkIDs(t, "server", serverIDs(t, u), nil)
	// The records of the first four, deleted and confirmed gone, are
	// forgotten; the late one's waits for the next listing.
	if rows, err := a.db.POP3UIDLs(a.acct.Name); err != nil || len(rows) != 1 {
		t.Errorf("device A keeps %d UIDL records (%v), want 1", len(rows), err)
	} else {
		for _, r := range rows {
			if !r.Deleted {
				t.Errorf("record %+v not marked deleted", r)
			}
		}
	}
	b.poll(t)
	checkSame(t, "device B never saw the late message", b.local(t), wantSet(first...))
}

func TestDovecotDeleteAfter(t *testing.T) {
	u := testenv.Shared(t).NewUser(t)
	t0 := time.Now()
	clock := t0
	old := appendMessages(t, u, 3, 5)
	a := dovecotDevice(t, u, func(a *config.Account) { a.DeleteAfter = 14 * 24 * time.Hour })
	a.opts.Now = func() time.Time { return clock }
	b := dovecotDevice(t, u, nil)
	if res := a.poll(t); res.Downloaded != 3 || res.Deleted != 0 {
		t.Fatalf("day 0: %+v", res)
	}
	b.poll(t)
	recent := appendMessages(t, u, 2, 6)
	clock = t0.Add(10 * 24 * time.Hour)
	if res := a.poll(t); res.Downloaded != 2 || res.Deleted != 0 {
		t.Fatalf("day 10: %+v", res)
	}
	clock = t0.Add(15 * 24 * time.Hour)
	if res := a.poll(t); res.Downloaded != 0 || res.Deleted != 3 {
		t.Fatalf("day 15: %+v", res)
	}
	checkIDs(t, "server on day 15", serverIDs(t, u), idsOf(recent))
	all := append(old, recent...)
	checkSame(t, "device A", a.local(t), wantSet(all...))
	if res := b.poll(t); res.Downloaded != 2 || res.Deleted != 0 {
		t.Fatalf("device B: %+v", res)
	}
	checkSame(t, "device B", b.local(t), wantSet(all...))
	clock = t0.Add(25 * 24 * time.Hour)
	if res := a.poll(t); res.Deleted != 2 {
		t.Fatalf("day 25: %+v", res)
	}
	checkIDs(t, "server on day 25", serverIDs(t, u), nil)
	checkSame(t, "device A keeps everything", a.local(t), wantSet(all...))
}

func TestDovecotDeleteWhenDeletedLocally(t *testing.T) {
	u := testenv.Shared(t).NewUser(t)
	msgs := appendMessages(t, u, 4, 7)
	a := dovecotDevice(t, u, func(a *config.Account) { a.DeleteWhenDeletedLocally = true })
	b := dovecotDevice(t, u, nil)
	a.poll(t)
	b.poll(t)
	a.removeLocal(t, wantStored(msgs[1]))
	if res := a.poll(t); res.Deleted != 1 || res.Downloaded != 0 {
		t.Fatalf("poll after the local delete: %+v", res)
	}
	kept := [][]byte{msgs[0], msgs[2], msgs[3]}
	checkIDs(t, "server", serverIDs(t, u), idsOf(kept))
	checkSame(t, "device A", a.local(t), wantSet(kept...))
	if res := a.poll(t); res.Deleted != 0 || res.Downloaded != 0 {
		t.Fatalf("next poll: %+v", res)
	}
	if res := b.poll(t); res.Deleted != 0 || res.Downloaded != 0 {
		t.Fatalf("device B: %+v", res)
	}
	checkSame(t, "device B keeps its copy", b.local(t), wantSet(msgs...))
}

func TestDovecotTrickyMessages(t *testing.T) {
	u := testenv.Shared(t).NewUser(t)
	long := strings.Repeat("0123456789", 700)
	msgs := [][]byte{
		[]byte("Subject: dots\r\nMessage-ID: <dots@x>\r\n\r\n.\r\n..\r\n.x\r\nend\r\n"),
		[]byte("Subject: long\r\nMessage-ID: <long@x>\r\n\r\n" + long + "\r\n." + long + "\r\n"),
		[]byte("Subject: binary\r\nMessage-ID: <bin@x>\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\xff\xfe\xc3\xa9t\xc3\xa9\r\n"),
	}
	for _, m := range msgs {
		u.Append(t, "INBOX", m)
	}
	d := dovecotDevice(t, u, nil)
	d.poll(t)
	checkSame(t, "local", d.local(t), wantSet(msgs...))
}

func TestDovecotTLS(t *testing.T) {
	dc := testenv.NewDovecot(t, &testenv.DovecotOptions{TLS: true})
	u := dc.NewUser(t)
	msgs := appendMessages(t, u, 2, 8)
	for _, mode := range []string{config.TLSStartTLS, config.TLSImplicit} {
		t.Run(mode, func(t *testing.T) {
			d := dovecotDevice(t, u, func(a *config.Account) {
				a.TLS = mode
				a.TLSCAFile = dc.CAFile
				if mode == config.TLSImplicit {
					a.Port = dc.POP3SPort
				}
			})
			if res := d.poll(t); res.Downloaded != 2 {
				t.Fatalf("poll: %+v", res)
			}
			checkSame(t, "local", d.local(t), wantSet(msgs...))
		})
	}
	t.Run("unknown-ca", func(t *testing.T) {
		d := dovecotDevice(t, u, func(a *config.Account) { a.TLS = config.TLSStartTLS })
		_, err := Poll(t.Context(), d.acct, d.store, d.db, nil)
		if err == nil || Temporary(err) {
			t.Fatalf("poll with an unverifiable certificate: %v", err)
		}
		if len(d.local(t)) != 0 {
			t.Fatal("stored messages over an unverified connection")
		}
	})
}
