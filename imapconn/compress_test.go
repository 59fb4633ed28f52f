package imapconn

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/internal/testenv/fakeimap"
)

// compressServer starts a fake server offering COMPRESS=DEFLATE with n
// messages of text in INBOX (compressible, each different); setup, when
// not nil, changes it before it starts.
func compressServer(t *testing.T, n int, setup func(*fakeimap.Server)) (*fakeimap.Server, [][]byte) {
	srv := fakeimap.New()
	srv.Caps = []string{"COMPRESS=DEFLATE", "UIDPLUS"}
	var bodies [][]byte
	for i := range n {
		var b bytes.Buffer
		fmt.Fprintf(&b, "Message-ID: <m%d@test>\r\nSubject: message %d\r\n\r\n", i, i)
		for l := range 200 {
			fmt.Fprintf(&b, "line %d of message %d: the quick brown fox jumps over the lazy dog\r\n", l, i)
		}
		bodies = append(bodies, b.Bytes())
		srv.Mailbox("INBOX").Add(b.Bytes())
	}
	if setup != nil {
		setup(srv)
	}
	return fakeimap.Start(t, srv), bodies
}

// fetchBodies fetches every body of INBOX, returning those that arrived
// whole (by UID) and the error that ended the command.
func fetchBodies(c *Conn) (map[imap.UID][]byte, error) {
	if _, err := c.Select("INBOX"); err != nil {
		return nil, err
	}
	got := map[imap.UID][]byte{}
	var litErr error
	cmd := c.Client.Fetch(imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}})
	for {
		m := cmd.Next()
		if m == nil {
			break
		}
		var uid imap.UID
		var body []byte
		whole := false
		for {
			item := m.Next()
			if item == nil {
				break
			}
			switch it := item.(type) {
			case imapclient.FetchItemDataUID:
				uid = it.UID
			case imapclient.FetchItemDataBodySection:
				b, err := io.ReadAll(it.Literal)
				body, whole = b, err == nil && int64(len(b)) == it.Literal.Size()
				if err != nil && litErr == nil {
					litErr = err
				}
			}
		}
		if uid != 0 && whole {
			got[uid] = body
		}
	}
	if err := cmd.Close(); err != nil {
		if litErr != nil {
			return got, litErr // the cause, not go-imap's "literal open"
		}
		return got, err
	}
	return got, nil
}

func commandsNamed(srv *fakeimap.Server, name string) []string {
	var out []string
	for _, c := range srv.Commands() {
		if strings.Contains(c, " "+name) {
			out = append(out, c)
		}
	}
	return out
}

// TestCompressOnWhereOffered: after the login the connection asks for
// COMPRESS DEFLATE and runs compressed; bodies arrive intact, and the
// wire carries well under half the IMAP stream's bytes.
func TestCompressOnWhereOffered(t *testing.T) {
	srv, bodies := compressServer(t, 20, nil)
	var cnt Counters
	c, err := Dial(testCtx(t), fakeAccount(t, srv.Port(), config.TLSNone), DialOptions{Password: "pw", Counters: &cnt})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !c.Compressed() || cnt.Compressed.Load() != 1 {
		t.Fatalf("not compressed; commands %q", srv.Commands())
	}
	if got := commandsNamed(srv, "COMPRESS"); len(got) != 1 || !strings.HasSuffix(got[0], "COMPRESS DEFLATE") {
		t.Errorf("COMPRESS commands: %q", got)
	}
	got, err := fetchBodies(c)
	if err != nil {
		t.Fatal(err)
	}
	for i, b := range bodies {
		if !bytes.Equal(got[imap.UID(i+1)], b) {
			t.Errorf("UID %d: body differs (%d bytes, want %d)", i+1, len(got[imap.UID(i+1)]), len(b))
		}
	}
	if err := c.Noop().Wait(); err != nil {
		t.Fatalf("NOOP after the fetch: %v", err)
	}
	// Commands go as stored blocks; an APPEND starts the compressor,
	// and commands after it go through it.
	outBefore, plainBefore := cnt.Out.Load(), cnt.PlainOut.Load()
	big := bytes.Repeat([]byte("an uploaded line of text, said twice and more\r\n"), 2000)
	for i, msg := range [][]byte{big, []byte("Subject: small\r\n\r\nhi\r\n"), append([]byte("Subject: again\r\n\r\n"), big...)} {
		app := c.Client.Append("INBOX", int64(len(msg)), nil)
		if _, err := app.Write(msg); err != nil {
			t.Fatal(err)
		}
		if err := app.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := app.Wait(); err != nil {
			t.Fatalf("APPEND %d: %v", i, err)
		}
		srv.Lock()
		msgs := srv.Mailbox("INBOX").Messages
		got := msgs[len(msgs)-1].Body
		srv.Unlock()
		if !bytes.Equal(got, msg) {
			t.Fatalf("APPEND %d: the server got %d bytes, want %d", i, len(got), len(msg))
		}
		if err := c.Noop().Wait(); err != nil {
			t.Fatalf("NOOP after APPEND %d: %v", i, err)
		}
	}
	if out, plain := cnt.Out.Load()-outBefore, cnt.PlainOut.Load()-plainBefore; out*4 > plain {
		t.Errorf("the APPENDs took %d bytes on the wire for %d: not compressed", out, plain)
	}
	in, plain := cnt.In.Load(), cnt.PlainIn.Load()
	t.Logf("received %d bytes on the wire for %d of IMAP stream (%.2f)", in, plain, float64(in)/float64(plain))
	if in*2 > plain {
		t.Errorf("received %d bytes on the wire for %d of IMAP stream: not compressed", in, plain)
	}
}

// TestCompressAfterAuthenticatePlain: the SASL login (LOGINDISABLED)
// goes before COMPRESS as LOGIN does.
func TestCompressAfterAuthenticatePlain(t *testing.T) {
	srv, bodies := compressServer(t, 2, func(srv *fakeimap.Server) {
		srv.Caps = append(srv.Caps, "LOGINDISABLED", "AUTH=PLAIN")
	})
	c, err := Dial(testCtx(t), fakeAccount(t, srv.Port(), config.TLSNone), DialOptions{Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !c.Compressed() || len(commandsNamed(srv, "AUTHENTICATE")) != 1 {
		t.Fatalf("compressed %v; commands %q", c.Compressed(), srv.Commands())
	}
	got, err := fetchBodies(c)
	if err != nil || !bytes.Equal(got[2], bodies[1]) {
		t.Fatalf("fetch: %v, %d bodies", err, len(got))
	}
}

// TestCompressFalseSendsNoCompress: compress = false, and a server not
// offering it, never see the command.
func TestCompressFalseSendsNoCompress(t *testing.T) {
	srv, _ := compressServer(t, 1, nil)
	acct := fakeAccount(t, srv.Port(), config.TLSNone)
	acct.NoCompress = true
	c, err := Dial(testCtx(t), acct, DialOptions{Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	plain := fakeimap.Start(t, fakeimap.New())
	c, err = Dial(testCtx(t), fakeAccount(t, plain.Port(), config.TLSNone), DialOptions{Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if got := append(commandsNamed(srv, "COMPRESS"), commandsNamed(plain, "COMPRESS")...); len(got) != 0 || c.Compressed() {
		t.Errorf("COMPRESS sent: %q", got)
	}
}

// TestCompressRefusedFallsBack: a server that offers COMPRESS=DEFLATE but
// answers NO or BAD is used uncompressed; the Link says so once and does
// not ask again.
func TestCompressRefusedFallsBack(t *testing.T) {
	for _, answer := range []string{"NO", "BAD"} {
		t.Run(answer, func(t *testing.T) {
			srv, bodies := compressServer(t, 3, func(srv *fakeimap.Server) {
				srv.Hook = func(s *fakeimap.Session, c *fakeimap.Command) bool {
					if c.Name != "COMPRESS" {
						return false
					}
					s.Printf("%s %s not today\r\n", c.Tag, answer)
					return true
				}
			})
			link := NewLink()
			acct := fakeAccount(t, srv.Port(), config.TLSNone)
			for i := range 2 {
				c, err := Dial(testCtx(t), acct, DialOptions{Password: "pw", Link: link})
				if err != nil {
					t.Fatal(err)
				}
				got, err := fetchBodies(c)
				c.Close()
				if err != nil || c.Compressed() || len(got) != 3 || !bytes.Equal(got[3], bodies[2]) {
					t.Fatalf("dial %d: fetch %v, compressed %v, %d bodies", i, err, c.Compressed(), len(got))
				}
			}
			if n := len(commandsNamed(srv, "COMPRESS")); n != 1 {
				t.Errorf("COMPRESS sent %d times, want once", n)
			}
			if w := link.TakeWarnings(); len(w) != 1 || !strings.Contains(w[0], "COMPRESS=DEFLATE") {
				t.Errorf("warnings %q", w)
			}
		})
	}
}

// corruptions are deflate bytes that no decoder may accept at a block
// boundary: a final block of the reserved type 3, and a stored block
// whose length and its complement disagree.
var corruptions = [][]byte{{0x07}, {0x00, 0x05, 0x00, 0x00, 0x00}}

// TestCompressCorruptStream (fuzz-ish): the server's deflate stream turns
// corrupt after a random flush of a big fetch. The command fails with an
// error naming the broken stream, every body handed out before is the
// server's byte for byte, the Link turns compression off, and the next
// connection fetches everything uncompressed.
func TestCompressCorruptStream(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	// A clean session tells how many flushes a fetch takes.
	var flushes atomic.Int32
	clean, _ := compressServer(t, 30, func(srv *fakeimap.Server) {
		srv.Deflated = func(s *fakeimap.Session, n int, out []byte) []byte { flushes.Store(int32(n)); return out }
	})
	c, err := Dial(testCtx(t), fakeAccount(t, clean.Port(), config.TLSNone), DialOptions{Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fetchBodies(c); err != nil {
		t.Fatal(err)
	}
	c.Close()
	total := int(flushes.Load())
	for round := range 8 {
		at := int32(1 + rng.IntN(total))
		if raceEnabled {
			// A literal cut short races inside go-imap (its reader
			// goes on while the consumer still reads; see HACKING.md's
			// known bugs): corrupt after the last response only.
			at = int32(total)
		}
		bad := corruptions[rng.IntN(len(corruptions))]
		var fired atomic.Bool
		srv, bodies := compressServer(t, 30, func(srv *fakeimap.Server) {
			srv.Deflated = func(s *fakeimap.Session, n int, out []byte) []byte {
				if s.N == 1 && int32(n) == at {
					fired.Store(true)
					return append(slices.Clone(out), bad...)
				}
				return out
			}
		})
		link := NewLink()
		acct := fakeAccount(t, srv.Port(), config.TLSNone)
		c, err := Dial(testCtx(t), acct, DialOptions{Password: "pw", Link: link, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		got, err := fetchBodies(c)
		if err == nil {
			// Corrupt after the fetch's last response: the next
			// command sees it.
			err = c.Noop().Wait()
		}
		c.Close()
		if !fired.Load() {
			t.Fatalf("round %d: the corruption at flush %d of %d never fired (%d bodies)", round, at, total, len(got))
		}
		if err == nil || !strings.Contains(err.Error(), ErrCompressStream.Error()) {
			t.Fatalf("round %d (flush %d, % x): error %v, want one naming the corrupt stream", round, at, bad, err)
		}
		for uid, b := range got {
			if !bytes.Equal(b, bodies[uid-1]) {
				t.Fatalf("round %d: UID %d handed out with wrong bytes", round, uid)
			}
		}
		if !slices.Contains(link.Disabled(), CapCompressDeflate) {
			t.Fatalf("round %d: compression still on for the link: %v", round, link.Disabled())
		}
		c, err = Dial(testCtx(t), acct, DialOptions{Password: "pw", Link: link})
		if err != nil {
			t.Fatal(err)
		}
		all, err := fetchBodies(c)
		c.Close()
		if err != nil || c.Compressed() || len(all) != len(bodies) {
			t.Fatalf("round %d: after the corruption: %v, compressed %v, %d bodies", round, err, c.Compressed(), len(all))
		}
		t.Logf("round %d: corrupt at flush %d (% x): %d bodies before the error: %v", round, at, bad, len(got), err)
	}
}

// TestCompressSilentServerTimesOut: the per-command deadline works under
// the deflate layer, and a silent server marks the link dead.
func TestCompressSilentServerTimesOut(t *testing.T) {
	srv, _ := compressServer(t, 1, func(srv *fakeimap.Server) {
		srv.Hook = func(s *fakeimap.Session, c *fakeimap.Command) bool { return c.Name == "NOOP" }
	})
	const timeout = 400 * time.Millisecond
	link := NewLink()
	c, err := Dial(testCtx(t), fakeAccount(t, srv.Port(), config.TLSNone), DialOptions{Password: "pw", Timeout: timeout, Link: link})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !c.Compressed() {
		t.Fatal("not compressed")
	}
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- c.Noop().Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a NOOP the server never answered succeeded")
		}
		if took := time.Since(start); took > 2*timeout {
			t.Errorf("the NOOP failed after %v, with a timeout of %v", took, timeout)
		}
	case <-time.After(20 * timeout):
		t.Fatalf("the NOOP was still waiting after %v", 20*timeout)
	}
	if !link.deadAfter(start) {
		t.Error("the link was not marked dead")
	}
	if slices.Contains(link.Disabled(), CapCompressDeflate) {
		t.Error("a timeout turned compression off")
	}
}

// TestStoredBlocksReadableAtOnce: a command sent as stored blocks is
// readable by a deflate reader before anything else arrives (without the
// closing empty block Go's reader held the bytes: the server waited for
// the rest of a command that had been sent).
func TestStoredBlocksReadableAtOnce(t *testing.T) {
	for _, size := range []int{1, 12, 70000} {
		pr, pw := io.Pipe()
		p := bytes.Repeat([]byte("x"), size)
		var b bytes.Buffer
		storedBlocks(&b, p)
		go pw.Write(b.Bytes()) // and never closes
		got := make(chan []byte, 1)
		go func() {
			buf := make([]byte, size)
			_, err := io.ReadFull(flate.NewReader(pr), buf)
			if err != nil {
				buf = nil
			}
			got <- buf
		}()
		select {
		case g := <-got:
			if !bytes.Equal(g, p) {
				t.Errorf("%d bytes: read %d", size, len(g))
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%d bytes: not readable without more input", size)
		}
		pr.Close()
	}
}
