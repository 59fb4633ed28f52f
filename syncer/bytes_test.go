package syncer

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/internal/testenv"
)

// sessionBytes are the bytes of one session that only one side counts
// (see TestByteCountersMatchDovecot), measured on a bare session.
type sessionBytes struct {
	greeting int64 // the server's greeting: sent by imap-login, not in Dovecot's out=
	loginCmd int64 // our LOGIN command, read by imap-login, plus the CRLF of the last command: not in Dovecot's in=
	logout   int64 // the server's reply to LOGOUT: in Dovecot's out=, which we may not read
	loginIn  int64 // what we receive up to the end of the login (greeting and LOGIN reply)
	loginOut int64 // what we send up to the end of the login
}

// measureSession dials one connection the way a pass does, reads the
// reply to LOGOUT, and compares its counters with what Dovecot logged
// about it: the per-session differences between the two counts.
func measureSession(t *testing.T, f *fixture, sessions int) sessionBytes {
	t.Helper()
	before := f.u.LogCounters(t, sessions)
	var c Counters
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := Dial(ctx, f.acct, DialOptions{Password: config.Secret(f.u.Password), Counters: &c})
	if err != nil {
		t.Fatal(err)
	}
	sb := sessionBytes{loginIn: c.In.Load(), loginOut: c.Out.Load()}
	if err := conn.Logout().Wait(); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	sb.logout = c.In.Load() - sb.loginIn
	after := f.u.LogCounters(t, sessions+1)
	sb.greeting = c.In.Load() - (after.Out - before.Out)
	sb.loginCmd = c.Out.Load() - (after.In - before.In)
	return sb
}

// TestByteCountersMatchDovecot checks the byte counters of a pass
// (Stats.BytesIn/BytesOut, Counters) against Dovecot's own per-session
// in=/out= (imap_logout_format) over a first sync, a sync with nothing
// changed, one after 1% of the messages had a flag changed on the server,
// and one after a new message arrived; and that a pass with nothing to do
// costs a few hundred bytes whatever the number of messages.
//
// How the two counts differ, per session (tls = "none": we count TCP
// payload, Dovecot the IMAP stream, which are then the same bytes):
//   - Dovecot's imap-login process sends the greeting and reads the LOGIN
//     command before it hands the connection to the imap process, whose
//     counters the log line holds: neither is in Dovecot's in=/out=, so we
//     count them in addition;
//   - Dovecot's in= is the offset its command parser reached, which stops
//     before the CRLF of the last command (LOGOUT): 2 bytes fewer;
//   - a pass logs out without waiting for the reply (Close): Dovecot counts
//     the BYE and the tagged OK it writes, we count them only when they
//     arrived before the socket was closed.
//
// The first two are measured on a bare session (measureSession) and
// subtracted exactly; the last one is the only tolerance: 0 to one LOGOUT
// reply (a few bytes more for a longer tag) per session.
func TestByteCountersMatchDovecot(t *testing.T) {
	f := newFixture(t)
	f.u.CreateFolder(t, "Archive")
	f.u.CreateFolder(t, "Lists/golang")
	// 200 messages: 1% is two flag changes.
	folders := map[string]int{"INBOX": 100, "Archive": 60, "Lists/golang": 40}
	uids := map[string][]uint32{}
	for name, n := range folders {
		for range n {
			uids[name] = append(uids[name], f.u.Append(t, name, testenvGen(f, name, 200+f.rnd.IntN(2000)), imap.FlagSeen))
		}
	}
	// The helper connection of f.u stays open until the test ends: only
	// finished sessions are logged, so counting starts at zero.
	sessions := 0
	sb := measureSession(t, f, sessions)
	sessions++
	t.Logf("per session: greeting %d B, LOGIN command (+2) %d B, LOGOUT reply %d B", sb.greeting, sb.loginCmd, sb.logout)
	if sb.greeting <= 0 || sb.loginCmd <= 2 || sb.logout <= 0 {
		t.Fatalf("implausible session constants %+v", sb)
	}

	type passBytes struct {
		st   Stats
		c    *Counters
		logs testenv.LogCounters // Dovecot's counters for the pass's sessions
	}
	pass := func(label string) passBytes {
		t.Helper()
		before := f.u.LogCounters(t, sessions)
		c := &Counters{}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		s := New(f.acct, f.store, f.db, Options{DialOptions: DialOptions{Password: config.Secret(f.u.Password), Counters: c}})
		st, err := s.Sync(ctx)
		s.Close()
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		n := int(c.Dials.Load())
		sessions += n
		after := f.u.LogCounters(t, sessions)
		if got := after.IMAPSessions - before.IMAPSessions; got != n {
			t.Fatalf("%s: Dovecot logged %d sessions, we dialled %d", label, got, n)
		}
		dIn, dOut := after.In-before.In, after.Out-before.Out
		in, out := c.In.Load(), c.Out.Load()
		t.Logf("%s: %d session(s); we sent %d B (pass %d), received %d B (pass %d); Dovecot received %d B, sent %d B",
			label, n, out, st.BytesOut, in, st.BytesIn, dIn, dOut)
		// What we sent, less what imap-login read: exact.
		if want := out - int64(n)*sb.loginCmd; dIn != want {
			t.Errorf("%s: Dovecot received %d B, we sent %d B: want %d (%d per session for the LOGIN command)", label, dIn, out, want, sb.loginCmd)
		}
		// What we received, less the greetings, plus the unread LOGOUT
		// replies.
		unread := dOut - (in - int64(n)*sb.greeting)
		if unread < 0 || unread > int64(n)*(sb.logout+4) {
			t.Errorf("%s: Dovecot sent %d B, we received %d B: %d B unread by us, want 0 to %d (one LOGOUT reply per session)",
				label, dOut, in, unread, int64(n)*(sb.logout+4))
		}
		// The pass's own figures: everything but the logouts of Close.
		if st.BytesOut > out || out-st.BytesOut > int64(n)*16 || st.BytesIn > in {
			t.Errorf("%s: pass counted %d B out, %d B in; the connections %d B out, %d B in", label, st.BytesOut, st.BytesIn, out, in)
		}
		f.compare()
		return passBytes{st: st, c: c, logs: testenv.LogCounters{In: dIn, Out: dOut, BodyCount: after.BodyCount - before.BodyCount, HdrCount: after.HdrCount - before.HdrCount}}
	}

	first := pass("first sync")
	if first.st.Down.New != 200 || first.logs.BodyCount != 200 {
		t.Errorf("first sync: %d new, %d bodies fetched; want 200", first.st.Down.New, first.logs.BodyCount)
	}

	// Nothing changed: one login, NAMESPACE and LIST-STATUS, no SELECT,
	// nothing per message. Beyond the login (about 600 B in with
	// Dovecot's capability list) that is a few hundred bytes.
	none := pass("no change")
	if none.c.Dials.Load() != 1 || none.logs.BodyCount != 0 || none.logs.HdrCount != 0 {
		t.Errorf("no change: %d sessions, %d bodies, %d headers fetched; want 1, 0, 0", none.c.Dials.Load(), none.logs.BodyCount, none.logs.HdrCount)
	}
	limitIn := int64(200 + 150*len(folders)) // NAMESPACE, one LIST and one STATUS line per folder
	if in := none.st.BytesIn - sb.loginIn; in > limitIn {
		t.Errorf("no change: received %d B after the login, want at most %d", in, limitIn)
	}
	if out := none.st.BytesOut - sb.loginOut; out > 200 {
		t.Errorf("no change: sent %d B after the login, want at most 200", out)
	}

	// 1%: two messages' flags changed by another client, in two of the
	// three folders. Only those folders are selected, and CHANGEDSINCE
	// returns only the changed messages: the cost grows with the changes,
	// not with the folder (a full FLAGS listing of INBOX alone would be
	// about 4 KB).
	f.u.SetFlags(t, "INBOX", uids["INBOX"][7], true, imap.FlagFlagged)
	f.u.SetFlags(t, "Archive", uids["Archive"][5], false, imap.FlagSeen)
	flags := pass("1% flags")
	if flags.st.Down.Flags != 2 {
		t.Errorf("1%% flags: %d flag changes applied, want 2", flags.st.Down.Flags)
	}
	if extra := flags.st.BytesIn - none.st.BytesIn; extra > 2*1000 {
		t.Errorf("1%% flags: received %d B more than a no-change pass, want at most 1000 per changed folder", extra)
	}

	// One new message: its header once (identity), its body once.
	raw := testenvGen(f, "new", 3000)
	f.u.Append(t, "INBOX", raw)
	one := pass("one new message")
	if one.st.Down.New != 1 || one.logs.BodyCount != 1 {
		t.Errorf("one new message: %d new, %d bodies fetched; want 1 and 1", one.st.Down.New, one.logs.BodyCount)
	}
	if extra := one.st.BytesIn - none.st.BytesIn - int64(len(raw)); extra > 2000 {
		t.Errorf("one new message: received %d B beyond a no-change pass and the message, want at most 2000", extra)
	}
}

// Flags changed on the server only, in folders nothing changed locally:
// the pass reads just the changed messages' pairs (detectServerOnly) and
// brings every change down, also beside a folder with local changes.
func TestServerFlagChangesOnlyReadChangedPairs(t *testing.T) {
	f := newFixture(t)
	f.u.CreateFolder(t, "Archive")
	var inbox, archive []uint32
	for i := range 30 {
		inbox = append(inbox, f.u.Append(t, "INBOX", f.msg(fmt.Sprintf("inbox %d", i))))
		archive = append(archive, f.u.Append(t, "Archive", f.msg(fmt.Sprintf("archive %d", i)), imap.FlagSeen))
	}
	f.sync()
	time.Sleep(1100 * time.Millisecond) // local stamps older than a second count
	f.sync()
	f.u.SetFlags(t, "INBOX", inbox[3], true, imap.FlagSeen, imap.FlagFlagged)
	f.u.SetFlags(t, "INBOX", inbox[17], true, imap.FlagAnswered)
	f.u.SetFlags(t, "Archive", archive[5], false, imap.FlagSeen)
	st := f.sync()
	if st.Down.Flags != 3 || st.Up.Flags != 0 {
		t.Errorf("flags down %d up %d, want 3 and 0", st.Down.Flags, st.Up.Flags)
	}
	f.compare()
	// The state agrees: a pass with nothing changed is quiet, and a change
	// made locally now goes up.
	time.Sleep(1100 * time.Millisecond)
	if st := f.sync(); st.Down != (Counts{}) || st.Up != (Counts{}) {
		t.Errorf("a pass after the flag changes did something: %v", st)
	}
	p := f.file("INBOX", f.u.Messages(t, "INBOX")[3].MessageID)
	if err := os.Rename(p, strings.TrimSuffix(p, "FS")+"S"); err != nil {
		t.Fatal(err)
	}
	f.u.SetFlags(t, "Archive", archive[9], true, imap.FlagFlagged)
	st = f.sync()
	if st.Down.Flags != 1 || st.Up.Flags != 1 {
		t.Errorf("flags down %d up %d, want 1 and 1", st.Down.Flags, st.Up.Flags)
	}
	f.compare()
}
