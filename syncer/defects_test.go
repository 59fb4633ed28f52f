package syncer

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
)

// Regression tests for the defects of issue 14 item 5 (a–i), each named
// after the defect it pins down.

// Defect i: parallel must return the context's error when the pass was
// cancelled, and must not run folders once it is: a cancelled pass that
// reported success went on to match and apply folders it never fetched.
func TestDefectParallelReturnsContextError(t *testing.T) {
	s := &Syncer{conns: 1}
	var jobs []*job
	for i := 0; i < 20; i++ {
		jobs = append(jobs, &job{s: s, local: fmt.Sprintf("F%d", i)})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var ran atomic.Int32
	err := s.parallel(ctx, nil, jobs, func(*job, context.Context, *lazyConn) error {
		ran.Add(1)
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("parallel after cancel = %v, want context.Canceled", err)
	}
	if n := ran.Load(); n != 0 {
		t.Errorf("%d folders ran after the pass was cancelled", n)
	}
}
