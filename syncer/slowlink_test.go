package syncer

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mailmirror/mailmirror/internal/testenv"
	"github.com/mailmirror/mailmirror/internal/testenv/fakeimap"
)

// Issue 19.1: a first sync through a link that drops every connection
// after 512 KB completes in a few syncs, nothing lost or duplicated: every
// message that arrived whole is kept, the other folder goes on, and the
// next connection resumes where the last one stopped (the large message
// too, by partial fetches).
func TestSlowLinkFirstSyncThroughDroppingLink(t *testing.T) {
	if raceEnabled {
		knownBug(t, raceMidLiteral)
	}
	f, p := proxied(t)
	f.acct.MaxConnections = 2
	f.u.CreateFolder(t, "Archive")
	start := time.Now()
	var inbox, archive [][]byte
	for i := 0; i < 1500; i++ {
		m := testenvGen(f, fmt.Sprintf("link %d", i), 1000+f.rnd.IntN(3000))
		if i%3 == 2 {
			archive = append(archive, m)
		} else {
			inbox = append(inbox, m)
		}
	}
	even := func(i int) bool { return i%2 == 0 }
	f.u.Deliver(t, "INBOX", inbox, even)
	f.u.Deliver(t, "Archive", archive, even)
	f.u.Append(t, "Archive", testenvGen(f, "large", 1_500_000))
	t.Logf("populated in %v", time.Since(start))
	p.SetDropAfter(512 << 10)
	const maxSyncs = 5
	syncs := 0
	for {
		syncs++
		st, err := f.pass(0)
		t.Logf("sync %d: %v (%d bytes in); err = %v", syncs, st, st.BytesIn, err)
		if err == nil {
			break
		}
		if syncs == maxSyncs {
			t.Fatalf("not complete after %d syncs (%d connections dropped): %d messages local", syncs, p.Dropped(), total(f.localIDs()["INBOX"])+total(f.localIDs()["Archive"]))
		}
	}
	t.Logf("complete after %d syncs, %d connections dropped, in %v", syncs, p.Dropped(), time.Since(start))
	if p.Dropped() < 6 {
		t.Errorf("only %d connections dropped: the link did not bite", p.Dropped())
	}
	f.noPartialFiles()
	f.compare()
}

// Issue 19.1: one folder whose metadata step keeps failing on a broken
// connection does not stop the pass for the others.
func TestSlowLinkOtherFoldersGoOn(t *testing.T) {
	srv := fakeimap.New()
	h := newHostile(t, srv)
	srv.Lock()
	bad := srv.AddMailbox("Broken")
	bad.Add(h.msg("never described"))
	var good [][]byte
	for i := 0; i < 3; i++ {
		good = append(good, h.msg(fmt.Sprintf("good %d", i)))
		srv.Mailbox("INBOX").Add(good[i])
	}
	srv.Unlock()
	// Every description of Broken's message breaks the connection (a
	// first sync asks for no header fields: the size stands for them).
	srv.OnFetch = func(s *fakeimap.Session, mb *fakeimap.Mailbox, m *fakeimap.Message, resp []byte) []byte {
		if mb == bad && bytes.Contains(resp, []byte("RFC822.SIZE")) {
			return []byte("* 1 FETCH (UID {garbage\r\n")
		}
		return resp
	}
	_, err := h.pass()
	if err == nil || !strings.Contains(err.Error(), `"Broken"`) {
		t.Errorf("pass = %v, want an error naming Broken", err)
	}
	local := h.local()["INBOX"]
	if len(local) != len(good) {
		t.Fatalf("INBOX has %d local messages, want %d: the broken folder stopped the others", len(local), len(good))
	}
	for _, raw := range good {
		h.localFile("INBOX", testenv.MessageIDOf(raw))
	}
}
