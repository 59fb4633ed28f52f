package syncer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// One connection per folder leaves a first sync waiting for its biggest
// folder (INBOX often holds half the mail) on one connection while the
// others, their folders done, sit idle. So a folder's downloads are cut
// into chunks that a queue hands out: the folder's own connection takes
// them in order, and each connection of the pass that another folder gave
// back joins in (a helper) while chunks are left. A helper has a
// downloader of its own: its own batches, each with its intent and its
// pairs in one transaction, exactly as the folder's own downloader
// publishes them. It gives its connection back after each chunk, so that
// a folder waiting for a connection gets it before the helper takes the
// next chunk.

// downloadChunk is how many messages a chunk of the queue holds (one UID
// FETCH).
const downloadChunk = 250

// helperTick is how often (in messages delivered) the folder's own
// downloader looks for a connection to start a helper on, besides before
// each chunk.
const helperTick = 50

// chunkQueue hands out a folder's downloads in chunks, newest first.
type chunkQueue struct {
	mu      sync.Mutex
	chunks  [][]*serverMsg
	stopped bool
}

// newChunkQueue cuts msgs (sorted) into chunks, leaving out the resumed
// downloads (done first, on the folder's own connection).
func newChunkQueue(msgs []*serverMsg, resumed map[uint32]bool) *chunkQueue {
	q := &chunkQueue{}
	for start := 0; start < len(msgs); start += downloadChunk {
		var part []*serverMsg
		for _, m := range msgs[start:min(start+downloadChunk, len(msgs))] {
			if !resumed[m.uid] {
				part = append(part, m)
			}
		}
		if len(part) > 0 {
			q.chunks = append(q.chunks, part)
		}
	}
	return q
}

// next takes the next chunk; nil when none is left or the queue stopped.
func (q *chunkQueue) next() []*serverMsg {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.stopped || len(q.chunks) == 0 {
		return nil
	}
	part := q.chunks[0]
	q.chunks = q.chunks[1:]
	return part
}

// left is the number of chunks not taken yet.
func (q *chunkQueue) left() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.stopped {
		return 0
	}
	return len(q.chunks)
}

// stop hands out no more chunks (the folder's downloads failed).
func (q *chunkQueue) stop() {
	q.mu.Lock()
	q.stopped = true
	q.mu.Unlock()
}

// dlShared is what a folder's downloaders count together, for progress.
type dlShared struct {
	total       int
	totalBytes  int64
	done, bytes atomic.Int64
}

// helperSet runs the helpers of one folder's downloads.
type helperSet struct {
	j   *job
	ctx context.Context
	lc  *lazyConn // the folder's own: its pass's connection slots
	q   *chunkQueue
	sh  *dlShared

	started bool
	wg      sync.WaitGroup
	mu      sync.Mutex
	done    []*downloader
	errs    []error
}

// start starts a helper when a chunk is left for it and the pass has a
// connection that nothing uses (no wait, no new login). Only the folder's
// own downloader calls it.
func (h *helperSet) start() {
	if h.q.left() == 0 {
		return
	}
	hl := h.lc.spare()
	if hl == nil {
		return
	}
	if !h.started {
		// The folder's UIDVALIDITY is recorded before any helper runs
		// (the first batch of any downloader would record it): the
		// downloaders then only read the folder's state.
		if err := h.j.recordValidity(); err != nil {
			hl.release(nil)
			return
		}
		h.started = true
	}
	if testHookHelper != nil {
		testHookHelper(h.j.local)
	}
	h.wg.Add(1)
	go h.run(hl)
}

// testHookHelper, when set by tests, is called with the folder's name as
// each helper starts.
var testHookHelper func(folder string)

// run is one helper: chunks over connections of the pass while one is
// free and chunks are left, then its last batch.
func (h *helperSet) run(hl *lazyConn) {
	defer h.wg.Done()
	j := h.j
	d := j.newDownloader(nil, h.sh)
	var err error
	for hl != nil {
		var c *Conn
		if c, err = j.selectFor(hl.c); err != nil {
			// No chunk taken: the others download it. Not the folder's
			// failure.
			hl.release(err)
			err = nil
			break
		}
		part := h.q.next()
		if part == nil {
			hl.release(nil)
			break
		}
		d.c = c
		cur := hl
		reconnect := func(cause error) (*Conn, error) {
			cur.release(cause)
			c, err := cur.get()
			if err != nil {
				return nil, err
			}
			return j.selectFor(c)
		}
		err = d.chunk(h.ctx, reconnect, part)
		cur.release(err)
		if err != nil {
			h.q.stop()
			break
		}
		hl = h.lc.spare()
	}
	if err == nil {
		err = d.flush()
	}
	d.count()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.done = append(h.done, d)
	if err != nil {
		h.errs = append(h.errs, err)
	}
}

// wait waits for the helpers and returns their downloaders and errors.
func (h *helperSet) wait() ([]*downloader, error) {
	h.wg.Wait()
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.done, errors.Join(h.errs...)
}

// selectFor selects the job's folder on c, which must still have the
// UIDVALIDITY detect saw.
func (j *job) selectFor(c *Conn) (*Conn, error) {
	sel, err := c.Select(j.remote)
	if err != nil {
		return nil, err
	}
	if sel.UIDValidity != j.newSt.UIDValidity {
		return nil, fmt.Errorf("UIDVALIDITY changed during the pass; the next pass re-pairs the folder")
	}
	return c, nil
}

// spare takes, without waiting, a connection of the pass that nothing
// uses: a free slot and an idle connection of the pool (no new login).
// nil when there is none.
func (l *lazyConn) spare() *lazyConn {
	select {
	case l.sem <- struct{}{}:
	default:
		return nil
	}
	c := l.p.tryGet(l.ctx)
	if c == nil {
		<-l.sem
		return nil
	}
	return &lazyConn{p: l.p, ctx: l.ctx, sem: l.sem, c: c}
}
