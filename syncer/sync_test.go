package syncer

import (
	"os"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
)

func TestInitialSyncMirrorsEveryFolder(t *testing.T) {
	f := newFixture(t)
	f.u.CreateFolder(t, "Archive")
	f.u.CreateFolder(t, "Lists/golang")
	for i := 0; i < 5; i++ {
		f.u.Append(t, "INBOX", f.msg("inbox"))
		f.u.Append(t, "Archive", f.msg("archive"), imap.FlagSeen)
	}
	f.u.Append(t, "Lists/golang", f.msg("list"), imap.FlagSeen, imap.FlagFlagged, imap.FlagAnswered)
	st := f.sync()
	if st.Down.New != 11 {
		t.Errorf("downloaded %d, want 11", st.Down.New)
	}
	f.compare()
	// Unseen messages are in new/, seen ones in cur/.
	for _, m := range f.local("INBOX") {
		if !strings.Contains(m.Path, "/new/") {
			t.Errorf("unseen message at %s, want new/", m.Path)
		}
	}
	for _, m := range f.local("Archive") {
		if !strings.Contains(m.Path, "/cur/") {
			t.Errorf("seen message at %s, want cur/", m.Path)
		}
	}
	// A second pass changes nothing.
	st = f.sync()
	if st.Down != (Counts{}) || st.Up != (Counts{}) {
		t.Errorf("second pass did something: %v", st)
	}
	f.compare()
}

func TestBodiesArriveByteExactWithLFAndDate(t *testing.T) {
	f := newFixture(t)
	raw := f.msg("exact")
	f.u.Append(t, "INBOX", raw)
	f.sync()
	srv := f.u.Messages(t, "INBOX")[0]
	path := f.file("INBOX", msgID(raw))
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.ReplaceAll(string(raw), "\r\n", "\n")
	if string(got) != want {
		t.Errorf("local body differs from the message (len %d vs %d)", len(got), len(want))
	}
	st, _ := os.Stat(path)
	if !st.ModTime().Equal(srv.Date) {
		t.Errorf("mtime %v, want INTERNALDATE %v", st.ModTime(), srv.Date)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode().Perm())
	}
}

func TestNewLocalMessageIsAppended(t *testing.T) {
	f := newFixture(t)
	f.u.CreateFolder(t, "Sent")
	f.sync()
	sent, err := f.store.Folder("Sent")
	if err != nil {
		t.Fatal(err)
	}
	raw := f.msg("sent by mutt")
	w, _ := sent.NewMessage()
	w.Write([]byte(strings.ReplaceAll(string(raw), "\r\n", "\n")))
	if _, err := w.Commit("S", time_(t)); err != nil {
		t.Fatal(err)
	}
	st := f.sync()
	if st.Up.New != 1 {
		t.Errorf("uploaded %d, want 1", st.Up.New)
	}
	f.compare()
	srv := f.u.Messages(t, "Sent")
	if len(srv) != 1 || srv[0].Size != int64(len(raw)) {
		t.Fatalf("server Sent: %+v (want size %d)", srv, len(raw))
	}
	// And nothing happens the next time.
	if st := f.sync(); st.Up.New != 0 || st.Down.New != 0 {
		t.Errorf("re-transferred: %v", st)
	}
}
