package syncer

import (
	"bytes"
	"os"
	"testing"

	"github.com/emersion/go-imap/v2"
)

// copyLocal writes a new file with the bytes of a local message (and
// replace applied) into another folder, as mutt's save does.
func (f *fixture) copyLocal(from, to, msgid string, old, new []byte) {
	f.t.Helper()
	data, err := os.ReadFile(f.file(from, msgid))
	if err != nil {
		f.t.Fatal(err)
	}
	if old != nil {
		data = bytes.Replace(data, old, new, 1)
	}
	dst, _ := f.store.Folder(to)
	w, _ := dst.NewMessage()
	w.Write(data)
	if _, err := w.Commit("S", time_(f.t)); err != nil {
		f.t.Fatal(err)
	}
}

// A full pass copies on the server a new file that is a message the server
// has elsewhere; the later delete of the original is a delete. A file with
// the same identity and size but other bytes is uploaded.
func TestSaveCopiesOnServer(t *testing.T) {
	f := newFixture(t)
	f.acct.MaxConnections = 1
	f.u.CreateFolder(t, "Archive")
	raw := f.msg("save me")
	f.u.Append(t, "INBOX", raw, imap.FlagSeen)
	f.sync()
	f.copyLocal("INBOX", "Archive", msgID(raw), nil, nil)
	if st := f.sync(); st.Copied != 1 || st.Up.New != 0 {
		t.Errorf("copy: %+v, want one server copy and no upload", st)
	}
	f.compare()
	if err := os.Remove(f.file("INBOX", msgID(raw))); err != nil {
		t.Fatal(err)
	}
	if st := f.sync(); st.Up.Deleted != 1 || st.Copied != 0 || st.Up.New != 0 {
		t.Errorf("delete: %+v", st)
	}
	f.compare()

	// Same Message-ID and size, one byte different: uploaded, not copied.
	f.copyLocal("Archive", "INBOX", msgID(raw), []byte("Subject: save me"), []byte("Subject: Save me"))
	if st := f.sync(); st.Copied != 0 || st.Up.New != 1 {
		t.Errorf("edited copy: %+v, want an upload", st)
	}
	f.compare()
	got := f.u.Raw(t, "INBOX", f.u.Messages(t, "INBOX")[0].UID)
	if !bytes.Contains(got, []byte("Subject: Save me")) {
		t.Errorf("the server has the original's bytes, not the edited file's")
	}
}
