package pop3pull

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/internal/testenv"
	"github.com/mailmirror/mailmirror/internal/testenv/faultproxy"
)

// Fault injection between the POP3 poller and Dovecot's POP3 server: a poll
// whose connection is dropped, reset, truncated, stalled or slowed must
// publish no partial file and store nothing twice, and the next
// undisturbed poll must end with every message stored exactly once, and,
// when the policy deletes from the server, removed there only after it is
// stored.

type pop3Disturbance struct {
	name    string
	fault   *faultproxy.Fault
	timeout time.Duration
	rate    int
	passes  bool
}

func pfault(a faultproxy.Action, dir faultproxy.Direction, match string, after int64, skip int) *faultproxy.Fault {
	return &faultproxy.Fault{Action: a, Dir: dir, Match: []byte(match), After: after, Skip: skip}
}

func TestFaultPOP3Retr(t *testing.T) {
	cases := []pop3Disturbance{
		{name: "drop before UIDL reaches the server", fault: pfault(faultproxy.Drop, faultproxy.Up, "UIDL", 0, 0)},
		{name: "reset mid-RETR of a big message", fault: pfault(faultproxy.Reset, faultproxy.Down, " octets\r\n", 300000, 0)},
		{name: "reset mid-RETR after some messages", fault: pfault(faultproxy.Reset, faultproxy.Down, " octets\r\n", 700, 5)},
		{name: "truncate mid-RETR", fault: pfault(faultproxy.Truncate, faultproxy.Down, " octets\r\n", 900, 3)},
		{name: "drop right after a RETR answer's dot", fault: pfault(faultproxy.Drop, faultproxy.Down, "\r\n.\r\n", 0, 2)},
		{name: "stall mid-RETR", fault: pfault(faultproxy.Stall, faultproxy.Down, " octets\r\n", 2000, 4), timeout: time.Second},
		{name: "slow", rate: 200 << 10, timeout: 2 * time.Second, passes: true},
	}
	for _, deleteAfter := range []bool{false, true} {
		for _, d := range cases {
			name := d.name
			if deleteAfter {
				name += ", leave_on_server=false"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				faultPOP3(t, d, deleteAfter)
			})
		}
	}
	// Deletion faults: DELE sent but QUIT lost, or QUIT done but its
	// answer lost.
	for _, d := range []pop3Disturbance{
		{name: "drop before QUIT reaches the server", fault: pfault(faultproxy.Drop, faultproxy.Up, "QUIT", 0, 0)},
		{name: "drop before DELE reaches the server", fault: pfault(faultproxy.Drop, faultproxy.Up, "DELE ", 0, 2)},
		{name: "reset after the server answered QUIT", fault: pfault(faultproxy.Reset, faultproxy.Down, "+OK Logging out", 0, 0)},
		{name: "stall before QUIT is answered", fault: pfault(faultproxy.Stall, faultproxy.Up, "QUIT", 0, 0), timeout: time.Second},
	} {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			faultPOP3(t, d, true)
		})
	}
}

// faultPOP3 runs one disturbed poll and the recovery.
func faultPOP3(t *testing.T, d pop3Disturbance, deleteFromServer bool) {
	u := testenv.Shared(t).NewUser(t)
	r := rand.New(rand.NewPCG(11, uint64(len(d.name))))
	var msgs [][]byte
	big := testenv.GenMessage(r, &testenv.GenOptions{BodySize: 600 << 10})
	u.Append(t, "INBOX", big)
	msgs = append(msgs, big)
	for i := 0; i < 14; i++ {
		m := testenv.GenMessage(r, &testenv.GenOptions{BodySize: 300 + r.IntN(20000)})
		u.Append(t, "INBOX", m)
		msgs = append(msgs, m)
	}
	p := faultproxy.New(t, u.POP3Addr())
	dev := dovecotDevice(t, u, func(a *config.Account) {
		a.LeaveOnServer = !deleteFromServer
	})
	dev.acct.Port = p.Port()
	dev.opts.Timeout = d.timeout

	if d.fault != nil {
		p.Arm(*d.fault)
	}
	p.SetRate(d.rate)
	res, err := Poll(context.Background(), dev.acct, dev.store, dev.db, &dev.opts)
	t.Logf("disturbed poll: %+v, err = %v", res, err)
	if d.fault != nil && !p.HasFired() {
		t.Fatalf("the fault never fired: the scenario tests nothing")
	}
	if d.passes && err != nil {
		t.Fatalf("poll through a %s connection failed: %v", d.name, err)
	}
	// A cut in the middle of a message names it; the poll logs in again
	// for the others and may then succeed.
	if !d.passes && err == nil && len(res.Errors) == 0 {
		t.Errorf("poll reported no error although its connection was cut")
	}
	p.Disarm()
	p.SetRate(0)
	// Whatever was published is whole and there once.
	want := map[string]bool{}
	for _, m := range wantSet(msgs...) {
		want[string(m)] = true
	}
	seen := map[string]bool{}
	for _, l := range dev.local(t) {
		if !want[string(l)] {
			t.Errorf("published a file that is no message (partial?): %q", trunc(l))
		}
		if seen[string(l)] {
			t.Errorf("stored twice: %q", trunc(l))
		}
		seen[string(l)] = true
	}
	// Nothing left the server that is not stored here.
	for _, id := range lostIDs(t, u, msgs, dev) {
		t.Errorf("%s is neither on the server nor stored locally", id)
	}

	// Recovery: an undisturbed poll (two when deleting: the first may
	// just settle an interrupted deletion).
	dev.opts.Timeout = 0
	// Past the back-off of a message the cut fell in.
	dev.opts.Now = func() time.Time { return time.Now().Add(firstBackoff + time.Minute) }
	res = dev.poll(t)
	t.Logf("recovery poll: %+v", res)
	if deleteFromServer {
		res = dev.poll(t)
	}
	checkSame(t, "local after recovery", dev.local(t), wantSet(msgs...))
	if deleteFromServer {
		if ids := serverIDs(t, u); len(ids) != 0 {
			t.Errorf("server still holds %d messages after the policy deleted them", len(ids))
		}
	} else {
		checkIDs(t, "server", serverIDs(t, u), idsOf(msgs))
		if res := dev.poll(t); res.Downloaded != 0 || res.Deleted != 0 {
			t.Errorf("poll after recovery did something: %+v", res)
		}
	}
}

// lostIDs returns the Message-IDs of msgs that are neither on the server
// nor in the device's Maildir.
func lostIDs(t *testing.T, u *testenv.User, msgs [][]byte, dev *device) []string {
	t.Helper()
	have := map[string]bool{}
	for _, id := range serverIDs(t, u) {
		have[id] = true
	}
	for _, l := range dev.local(t) {
		for _, id := range idsOf([][]byte{l}) {
			have[id] = true
		}
	}
	var lost []string
	for _, m := range msgs {
		for _, id := range idsOf([][]byte{m}) {
			if !have[id] {
				lost = append(lost, id)
			}
		}
	}
	return lost
}
