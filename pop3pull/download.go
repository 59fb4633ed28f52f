package pop3pull

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/mailmirror/mailmirror/maildir"
	"github.com/mailmirror/mailmirror/state"
)

// download streams the messages fresh into folder in batches and returns
// the records it made. Messages are received on this goroutine; each full
// batch goes to a committer goroutine that publishes and records it (steps
// 2 to 4 above) while the next batch is received. At most one batch is
// being committed and one waiting, so memory stays bounded. A message the
// server refuses is recorded as failing (failures.go).
func (p *poller) download(c *Client, fresh []serverMsg) ([]state.UIDL, error) {
	db, account, folder, opts, now, res := p.db, p.acct.Name, p.folder, p.opts, p.now, p.res
	if len(fresh) == 0 {
		return nil, nil
	}
	maxMsgs := opts.BatchMessages
	if maxMsgs <= 0 {
		maxMsgs = DefaultBatchMessages
	}
	maxBytes := opts.BatchBytes
	if maxBytes <= 0 {
		maxBytes = DefaultBatchBytes
	}
	cm := newCommitter(db, account, folder, now)
	cur := &pendingBatch{}
	nums := make([]int, len(fresh))
	byNum := make(map[int]serverMsg, len(fresh))
	for i, m := range fresh {
		nums[i] = m.num
		byNum[m.num] = m
	}
	buf := make([]byte, 64<<10)
	files := newTmpFiles(folder, len(fresh), tmpAhead)
	defer files.close()
	err := c.RetrEach(nums, func(num int, body io.Reader, err error) error {
		if err != nil {
			p.tried[byNum[num].id] = true
			return p.recordFailure(byNum[num], err)
		}
		if err := cm.failed(); err != nil {
			return err
		}
		w, err := files.next()
		if err != nil {
			return err
		}
		hh := newHeaderHasher()
		n, err := io.CopyBuffer(io.MultiWriter(w, hh), body, buf)
		if err != nil {
			w.Abort()
			return fmt.Errorf("message %d: %w", num, err)
		}
		if err := cur.batch.Add(w, "", time.Time{}); err != nil {
			return err
		}
		cur.items = append(cur.items, storeItem{UIDL: byNum[num].id, Key: w.Key(), Hash: hh.Sum()})
		cur.bytes += n
		hook("retr")
		if len(cur.items) >= maxMsgs || cur.bytes >= maxBytes {
			cm.submit(cur)
			cur = &pendingBatch{}
		}
		return nil
	})
	// Keep what arrived whole, even after a failure.
	if len(cur.items) > 0 {
		cm.submit(cur)
	}
	recorded, downloaded, bytes, cerr := cm.wait()
	res.Downloaded += downloaded
	res.Bytes += bytes
	if err != nil || cerr != nil {
		return recorded, errors.Join(err, cerr)
	}
	return recorded, nil
}

// pendingBatch is a batch of received messages, closed in tmp/.
type pendingBatch struct {
	batch maildir.Batch
	items []storeItem
	bytes int64
}

// committer publishes and records batches on a goroutine of its own, in
// the order they are submitted. After a failure it discards what it gets.
type committer struct {
	db      *state.DB
	account string
	folder  *maildir.Folder
	now     func() time.Time
	ch      chan *pendingBatch
	done    chan struct{}

	// Written by the goroutine, read after done (err also by failed).
	mu         sync.Mutex
	err        error
	recorded   []state.UIDL
	downloaded int
	bytes      int64
}

func newCommitter(db *state.DB, account string, folder *maildir.Folder, now func() time.Time) *committer {
	cm := &committer{db: db, account: account, folder: folder, now: now,
		ch: make(chan *pendingBatch, 1), done: make(chan struct{})}
	go cm.run()
	return cm
}

func (cm *committer) run() {
	defer close(cm.done)
	for b := range cm.ch {
		if cm.failed() != nil {
			b.batch.Abort()
			continue
		}
		uidls, err := cm.commit(b)
		cm.mu.Lock()
		if err != nil {
			cm.err = err
		} else {
			cm.recorded = append(cm.recorded, uidls...)
			cm.downloaded += len(uidls)
			cm.bytes += b.bytes
		}
		cm.mu.Unlock()
	}
}

// submit queues a batch; it blocks while one batch is being committed and
// another already waits.
func (cm *committer) submit(b *pendingBatch) { cm.ch <- b }

// failed returns the error of a failed commit, if any.
func (cm *committer) failed() error {
	cm.mu.Lock()
	defer cm.mu.Unlock()
	return cm.err
}

// wait ends the committer and returns what it recorded.
func (cm *committer) wait() ([]state.UIDL, int, int64, error) {
	close(cm.ch)
	<-cm.done
	return cm.recorded, cm.downloaded, cm.bytes, cm.err
}

// commit writes the intent of a batch, publishes it and records it.
func (cm *committer) commit(b *pendingBatch) ([]state.UIDL, error) {
	data, err := jsonMarshal(b.items)
	if err != nil {
		b.batch.Abort()
		return nil, err
	}
	opID, err := cm.db.AddOp(state.Op{Account: cm.account, Kind: OpStore, Folder: cm.folder.Name, Data: data, Created: cm.now()})
	if err != nil {
		b.batch.Abort()
		return nil, err
	}
	hook("intent")
	if _, err := b.batch.Commit(); err != nil {
		// Nothing of the batch is left in new/ or cur/.
		cm.db.DeleteOp(opID)
		return nil, err
	}
	hook("publish")
	t := cm.now()
	uidls := make([]state.UIDL, len(b.items))
	for i, it := range b.items {
		uidls[i] = state.UIDL{UIDL: it.UIDL, Key: it.Key, FirstSeen: t, HeaderHash: it.Hash}
	}
	if err := cm.db.Update(func(tx *state.Tx) error {
		if err := tx.AddPOP3UIDLs(cm.account, uidls); err != nil {
			return err
		}
		return tx.DeleteOp(opID)
	}); err != nil {
		return nil, err
	}
	hook("record")
	return uidls, nil
}

// tmpAhead is how many message files tmpFiles creates ahead of need.
const tmpAhead = 16

// tmpFiles creates message files in tmp/ ahead of need, in a goroutine of
// its own, so that the file system's work of creating them overlaps with
// receiving messages. close aborts the files nobody took.
type tmpFiles struct {
	ch   chan tmpFile
	stop chan struct{}
	done chan struct{}
}

type tmpFile struct {
	w   *maildir.Writer
	err error
}

// newTmpFiles starts creating up to n files in folder, ahead at most.
func newTmpFiles(folder *maildir.Folder, n, ahead int) *tmpFiles {
	t := &tmpFiles{ch: make(chan tmpFile, ahead), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(t.done)
		defer close(t.ch)
		for i := 0; i < n; i++ {
			select {
			case <-t.stop:
				return
			default:
			}
			w, err := folder.NewMessage()
			select {
			case t.ch <- tmpFile{w, err}:
			case <-t.stop:
				if w != nil {
					w.Abort()
				}
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return t
}

// next returns the next file.
func (t *tmpFiles) next() (*maildir.Writer, error) {
	tf, ok := <-t.ch
	if !ok {
		return nil, errors.New("maildir: no message file left")
	}
	return tf.w, tf.err
}

// close stops the creation and removes the files nobody took.
func (t *tmpFiles) close() {
	close(t.stop)
	for tf := range t.ch {
		if tf.w != nil {
			tf.w.Abort()
		}
	}
	<-t.done
}
