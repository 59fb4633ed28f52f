package state

import (
	"errors"
	"fmt"
	"sync"
	"testing"
)

// Updates from many goroutines at once (a pass's folders finishing
// together) may share one commit, but each keeps its own outcome: those
// whose function failed change nothing, the others are all there after
// the database is opened again.
func TestConcurrentUpdatesKeepTheirOwnOutcome(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	boom := errors.New("boom")
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = db.Update(func(tx *Tx) error {
				if err := tx.PutNote(Note{Account: "a", Folder: fmt.Sprintf("F%02d", i), Kind: "k", Text: "t"}); err != nil {
					return err
				}
				if i%3 == 0 {
					return boom // after a write: it must be undone
				}
				return nil
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if want := i%3 == 0; errors.Is(err, boom) != want || (!want && err != nil) {
			t.Errorf("update %d: %v", i, err)
		}
	}
	db.Close()
	db, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	notes, err := db.Notes("a")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, nt := range notes {
		got[nt.Folder] = true
	}
	for i := range n {
		if f := fmt.Sprintf("F%02d", i); got[f] != (i%3 != 0) {
			t.Errorf("note of update %d stored: %v", i, got[f])
		}
	}
}
