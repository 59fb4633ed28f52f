package state

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
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

// A batch whose transaction breaks (a savepoint that cannot be rolled
// back) after an earlier update of it failed on its own: every update
// gets exactly one outcome, and none waits forever for it.
func TestBrokenBatchAfterAFailedUpdate(t *testing.T) {
	db, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	hold, held := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- db.Update(func(*Tx) error { close(held); <-hold; return nil })
	}()
	<-held // the committer is busy: the next updates queue up as one batch
	queued := func(n int) bool {
		db.queueMu.Lock()
		defer db.queueMu.Unlock()
		return len(db.queue) >= n
	}
	boom := errors.New("boom")
	outcomes := make(chan error, 2)
	go func() { outcomes <- db.Update(func(*Tx) error { return boom }) }()
	for !queued(1) {
		runtime.Gosched()
	}
	go func() {
		outcomes <- db.Update(func(tx *Tx) error {
			// Release its own savepoint: the rollback to it then fails.
			if _, err := tx.tx.Exec("RELEASE u1"); err != nil {
				return err
			}
			return boom
		})
	}()
	for !queued(2) {
		runtime.Gosched()
	}
	close(hold)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	for range 2 {
		select {
		case err := <-outcomes:
			if err == nil {
				t.Error("an update of the broken batch reports success")
			}
		case <-time.After(30 * time.Second):
			t.Fatal("an update of the broken batch never got its outcome")
		}
	}
}
