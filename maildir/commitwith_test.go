package maildir

import (
	"errors"
	"testing"
	"time"
)

// CommitWith runs its record before any message is published, and a
// failed record publishes nothing and leaves nothing in tmp/.
func TestBatchCommitWithRecordsBeforePublishing(t *testing.T) {
	for _, fail := range []bool{false, true} {
		s, _ := Open(t.TempDir(), LayoutVerbatim)
		f, _ := s.Folder("INBOX")
		var b Batch
		for i := 0; i < 3; i++ {
			w, _ := f.NewMessage()
			w.Write([]byte("Subject: x\n\nbody\n"))
			if err := b.Add(w, "", time.Time{}); err != nil {
				t.Fatal(err)
			}
		}
		boom := errors.New("record failed")
		var seen []string
		es, err := b.CommitWith(func() error {
			seen = publishedFiles(t, f)
			if fail {
				return boom
			}
			return nil
		})
		if len(seen) != 0 {
			t.Errorf("fail=%v: published before the record: %v", fail, seen)
		}
		got := publishedFiles(t, f)
		if fail {
			if !errors.Is(err, boom) || len(got) != 0 || len(tmpFiles(t, f)) != 0 {
				t.Errorf("failed record: err %v, published %v, tmp %v", err, got, tmpFiles(t, f))
			}
			continue
		}
		if err != nil || len(es) != 3 || len(got) != 3 {
			t.Errorf("CommitWith: %v, %d entries, published %v", err, len(es), got)
		}
	}
}
