package syncer

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/internal/testenv"
	"github.com/mailmirror/mailmirror/state"
)

// max_size placeholders: a server message above it is stored as its
// header, a marker and a note; flags, deletes and moves of the placeholder
// sync like those of any message; it is never uploaded; fetch and the
// fetch flag replace it with the message in place.

const testMaxSize = 100_000

// placeholderFixture is an account with max_size set, one big message and
// two small ones in INBOX, synced once.
type placeholderFixture struct {
	*fixture
	big, small []byte
	bigUID     uint32
}

func newPlaceholderFixture(t *testing.T, bigFlags ...imap.Flag) *placeholderFixture {
	t.Helper()
	f := newFixture(t)
	f.acct.MaxSize = testMaxSize
	f.u.CreateFolder(t, "Archive")
	pf := &placeholderFixture{fixture: f}
	pf.big = testenvGen(f, "big", 300_000)
	pf.small = testenvGen(f, "small", 2000)
	f.u.Append(t, "INBOX", pf.small, imap.FlagSeen)
	pf.bigUID = f.u.Append(t, "INBOX", pf.big, bigFlags...)
	f.u.Append(t, "INBOX", testenvGen(f, "small 2", 5000))
	return pf
}

// lf is the local form (LF line ends) of a server message.
func lf(raw []byte) []byte { return bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n")) }

func (f *fixture) pairOf(folder, msgid string) state.Pair {
	f.t.Helper()
	path := f.file(folder, msgid)
	key := filepath.Base(path)
	if i := strings.IndexByte(key, ':'); i >= 0 {
		key = key[:i]
	}
	p, _, ok, err := f.db.PairByKey(f.acct.Name, key)
	if err != nil || !ok {
		f.t.Fatalf("no pair for %s in %s: %v", msgid, folder, err)
	}
	return p
}

func (f *fixture) readFile(path string) []byte {
	f.t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		f.t.Fatal(err)
	}
	return data
}

// isPlaceholderOf checks that the file at path is the placeholder of raw.
func (pf *placeholderFixture) isPlaceholderOf(path string, raw []byte) {
	pf.t.Helper()
	data := pf.readFile(path)
	marker := fmt.Sprintf("\n%s: %d\n", PlaceholderHeader, len(raw))
	if !bytes.Contains(data, []byte(marker)) {
		pf.t.Fatalf("%s has no %q:\n%s", path, marker, data)
	}
	hdr := lf(raw)[:bytes.Index(lf(raw), []byte("\n\n"))+1]
	for _, line := range strings.Split(string(hdr), "\n") {
		if strings.HasPrefix(line, "Message-ID:") || strings.HasPrefix(line, "Subject:") || strings.HasPrefix(line, "From:") || strings.HasPrefix(line, "Date:") {
			if !bytes.Contains(data, []byte(line+"\n")) {
				pf.t.Errorf("placeholder lacks the real header line %q", line)
			}
		}
	}
	if !bytes.Contains(data, []byte("mailmirror fetch")) {
		pf.t.Errorf("placeholder does not say how to get the message:\n%s", data)
	}
	if len(data) > 8000 {
		pf.t.Errorf("placeholder has %d bytes", len(data))
	}
}

func (pf *placeholderFixture) noChange(what string) {
	pf.t.Helper()
	st := pf.sync()
	if st.Down != (Counts{}) || st.Up != (Counts{}) || st.Fetched != 0 || st.Placeholders != 0 {
		pf.t.Errorf("%s: the next pass did something: %+v", what, st)
	}
}

func TestPlaceholderForBigMessage(t *testing.T) {
	pf := newPlaceholderFixture(t)
	st := pf.sync()
	if st.Down.New != 3 || st.Placeholders != 1 {
		t.Fatalf("first pass: %+v, want 3 new of which 1 placeholder", st)
	}
	pf.compare() // Message-IDs and flags: the placeholder stands for the message
	path := pf.file("INBOX", msgID(pf.big))
	pf.isPlaceholderOf(path, pf.big)
	if !pf.pairOf("INBOX", msgID(pf.big)).Placeholder {
		t.Error("the placeholder's pair is not recorded as one")
	}
	// The small messages are downloaded as they are.
	if got := pf.readFile(pf.file("INBOX", msgID(pf.small))); !bytes.Equal(got, lf(pf.small)) {
		t.Error("the small message differs from the server's")
	}
	if pf.pairOf("INBOX", msgID(pf.small)).Placeholder {
		t.Error("a small message's pair is marked as a placeholder")
	}
	before := pf.readFile(path)
	// Nothing is uploaded or downloaded again, also after a full rescan.
	pf.noChange("second pass")
	fo, _, _ := pf.db.Folder(pf.acct.Name, "INBOX")
	fo.LocalStamp, fo.Messages = "", 0
	pf.db.Update(func(tx *state.Tx) error { return tx.UpdateFolder(fo) })
	pf.noChange("rescan")
	if n := len(pf.u.Messages(t, "INBOX")); n != 3 {
		t.Errorf("server INBOX has %d messages, want 3", n)
	}
	if !bytes.Equal(pf.readFile(path), before) {
		t.Error("the placeholder changed")
	}
}

func TestPlaceholderFlagsSyncBothWays(t *testing.T) {
	pf := newPlaceholderFixture(t)
	pf.sync()
	path := pf.file("INBOX", msgID(pf.big))
	// Seen here → \Seen on the server; answered there → R here.
	if err := os.Rename(path, filepath.Join(pf.acct.Maildir, "INBOX", "cur", filepath.Base(path)+":2,S")); err != nil {
		t.Fatal(err)
	}
	pf.sync()
	pf.u.SetFlags(t, "INBOX", pf.bigUID, true, imap.FlagAnswered)
	pf.sync()
	pf.compare()
	path = pf.file("INBOX", msgID(pf.big))
	if !strings.HasSuffix(path, ":2,RS") {
		t.Errorf("local file %s, want flags RS", path)
	}
	pf.isPlaceholderOf(path, pf.big)
}

func (f *fixture) syncer() *Syncer {
	s := New(f.acct, f.store, f.db, Options{DialOptions: DialOptions{Password: config.Secret(f.u.Password)}})
	f.t.Cleanup(s.Close)
	return s
}

func TestPlaceholderFetch(t *testing.T) {
	pf := newPlaceholderFixture(t)
	pf.sync()
	path := pf.file("INBOX", msgID(pf.big))
	pair := pf.pairOf("INBOX", msgID(pf.big))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := pf.syncer()
	if err := s.FetchPlaceholder(ctx, path); err != nil {
		t.Fatal(err)
	}
	// In place: same path (key, flags), byte for byte the server's message.
	if got := pf.readFile(path); !bytes.Equal(got, lf(pf.u.Raw(t, "INBOX", pf.bigUID))) {
		t.Fatalf("fetched file differs from the server message (%d bytes)", len(got))
	}
	after := pf.pairOf("INBOX", msgID(pf.big))
	pair.Placeholder = false
	if after != pair {
		t.Errorf("pair after fetch %+v, want %+v", after, pair)
	}
	if ents, _ := os.ReadDir(filepath.Join(pf.acct.Maildir, "INBOX", "tmp")); len(ents) != 0 {
		t.Errorf("tmp/ holds %d files after fetch", len(ents))
	}
	pf.noChange("pass after fetch")
	pf.compare()
	// A file that is not a placeholder, or not in the Maildir.
	if err := s.FetchPlaceholder(ctx, path); !errors.Is(err, ErrNotPlaceholder) {
		t.Errorf("fetch of a whole message: %v, want ErrNotPlaceholder", err)
	}
	outside := filepath.Join(t.TempDir(), "cur", "x")
	os.MkdirAll(filepath.Dir(outside), 0o700)
	os.WriteFile(outside, []byte("Subject: x\n\nx\n"), 0o600)
	if err := s.FetchPlaceholder(ctx, outside); err == nil || !strings.Contains(err.Error(), "not in the Maildir") {
		t.Errorf("fetch of a file outside the Maildir: %v", err)
	}
}

func TestPlaceholderFetchFlag(t *testing.T) {
	t.Run("local", func(t *testing.T) {
		pf := newPlaceholderFixture(t)
		pf.sync()
		path := pf.file("INBOX", msgID(pf.big))
		flagged := filepath.Join(pf.acct.Maildir, "INBOX", "cur", filepath.Base(path)+":2,F")
		if err := os.Rename(path, flagged); err != nil {
			t.Fatal(err)
		}
		st := pf.sync()
		if st.Fetched != 1 {
			t.Errorf("pass: %+v, want 1 fetched", st)
		}
		pf.expectWhole(pf.file("INBOX", msgID(pf.big)), pf.bigUID, imap.FlagFlagged)
	})
	t.Run("server", func(t *testing.T) {
		pf := newPlaceholderFixture(t)
		pf.sync()
		pf.u.SetFlags(t, "INBOX", pf.bigUID, true, imap.FlagFlagged)
		pf.sync()
		pf.expectWhole(pf.file("INBOX", msgID(pf.big)), pf.bigUID, imap.FlagFlagged)
	})
	t.Run("flagged before the first pass", func(t *testing.T) {
		pf := newPlaceholderFixture(t, imap.FlagFlagged)
		st := pf.sync()
		if st.Placeholders != 0 {
			t.Errorf("pass: %+v, want no placeholder for a flagged message", st)
		}
		pf.expectWhole(pf.file("INBOX", msgID(pf.big)), pf.bigUID, imap.FlagFlagged)
	})
	t.Run("off", func(t *testing.T) {
		pf := newPlaceholderFixture(t, imap.FlagFlagged)
		pf.acct.FetchFlag = ""
		pf.sync()
		pf.isPlaceholderOf(pf.file("INBOX", msgID(pf.big)), pf.big)
	})
}

// expectWhole checks that the file at path is the server message uid, its
// pair no longer a placeholder, the flag kept on both sides, and that the
// next pass does nothing.
func (pf *placeholderFixture) expectWhole(path string, uid uint32, flag imap.Flag) {
	pf.t.Helper()
	if got := pf.readFile(path); !bytes.Equal(got, lf(pf.u.Raw(pf.t, "INBOX", uid))) {
		pf.t.Fatalf("%s is not the server message (%d bytes)", path, len(got))
	}
	if pf.pairOf("INBOX", msgID(pf.big)).Placeholder {
		pf.t.Error("pair still marked as a placeholder")
	}
	found := false
	for _, m := range pf.u.Messages(pf.t, "INBOX") {
		if m.UID == uid {
			for _, fl := range m.Flags {
				found = found || fl == string(flag)
			}
		}
	}
	if !found {
		pf.t.Errorf("the server message lost %s", flag)
	}
	pf.compare()
	pf.noChange("pass after the download")
}

func TestPlaceholderDeleteAndMove(t *testing.T) {
	t.Run("delete here", func(t *testing.T) {
		pf := newPlaceholderFixture(t)
		pf.sync()
		os.Remove(pf.file("INBOX", msgID(pf.big)))
		pf.sync()
		for _, m := range pf.u.Messages(t, "INBOX") {
			if m.MessageID == msgID(pf.big) {
				t.Fatal("the message is still on the server")
			}
		}
		pf.compare()
		pf.noChange("pass after the delete")
	})
	for _, c := range []struct{ name, newName string }{
		{"move here", ""},
		{"move here with a new name", "renamed-by-a-client"},
	} {
		t.Run(c.name, func(t *testing.T) {
			pf := newPlaceholderFixture(t)
			pf.sync()
			path := pf.file("INBOX", msgID(pf.big))
			dst := filepath.Join(pf.acct.Maildir, "Archive", "new", cmp.Or(c.newName, filepath.Base(path)))
			if err := os.Rename(path, dst); err != nil {
				t.Fatal(err)
			}
			st := pf.sync()
			if st.Up.Moved != 1 || st.Up.New != 0 {
				t.Errorf("pass: %+v, want one move up and no upload", st)
			}
			pf.movedTo("Archive")
		})
	}
	t.Run("move on the server", func(t *testing.T) {
		pf := newPlaceholderFixture(t)
		pf.sync()
		pf.u.Move(t, "INBOX", pf.bigUID, "Archive")
		st := pf.sync()
		if st.Down.Moved != 1 || st.Down.New != 0 {
			t.Errorf("pass: %+v, want one move down and no download", st)
		}
		pf.movedTo("Archive")
	})
}

// movedTo checks that the big message is once on the server, in folder,
// and its placeholder there locally, still recorded as one.
func (pf *placeholderFixture) movedTo(folder string) {
	pf.t.Helper()
	n := 0
	for _, fo := range pf.u.Folders(pf.t) {
		for _, m := range pf.u.Messages(pf.t, fo) {
			if m.MessageID == msgID(pf.big) {
				n++
				if fo != folder {
					pf.t.Errorf("the message is in %s on the server, want %s", fo, folder)
				}
			}
		}
	}
	if n != 1 {
		pf.t.Errorf("the message is %d times on the server", n)
	}
	pf.compare()
	pf.isPlaceholderOf(pf.file(folder, msgID(pf.big)), pf.big)
	if !pf.pairOf(folder, msgID(pf.big)).Placeholder {
		pf.t.Error("the moved placeholder's pair is not recorded as one")
	}
	pf.noChange("pass after the move")
}

func TestMaxSizeNotExceeded(t *testing.T) {
	pf := newPlaceholderFixture(t)
	pf.acct.MaxSize = 10_000_000
	st := pf.sync()
	if st.Placeholders != 0 || st.Down.New != 3 {
		t.Fatalf("pass: %+v", st)
	}
	testenv.CompareAccount(t, pf.u, pf.acct.Maildir, pf.acct.Layout)
	if got := pf.readFile(pf.file("INBOX", msgID(pf.big))); !bytes.Equal(got, lf(pf.u.Raw(t, "INBOX", pf.bigUID))) {
		t.Error("the big message differs from the server's")
	}
}
