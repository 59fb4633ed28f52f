//go:build linux

package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"golang.org/x/sys/unix"

	"github.com/mailmirror/mailmirror/bench/corpus"
)

// floorConns and floorBatch are the raw floor's shape: the connections
// mailmirror uses by default, and its batch size (one syncfs per batch).
const (
	floorConns = 4
	floorBatch = 1000
)

// rawFloor measures what a first sync cannot go below on this machine and
// server: every message fetched (UID FETCH BODY.PEEK[] in chunks of 250,
// over floorConns connections of this process), written to a file, one
// syncfs(2) per floorBatch files, then renamed into cur/. No state, no
// identity headers, no flags, no process start: a lower bound.
func rawFloor(srv *corpus.Server, dir string) (float64, int, error) {
	c, err := srv.Dial()
	if err != nil {
		return 0, 0, err
	}
	list, err := c.List("", "*", nil).Collect()
	if err != nil {
		c.Close()
		return 0, 0, err
	}
	var chunks []chunk
	for _, l := range list {
		if slices.Contains(l.Attrs, imap.MailboxAttrNoSelect) || slices.Contains(l.Attrs, imap.MailboxAttrNonExistent) {
			continue
		}
		if _, err := c.Select(l.Mailbox, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
			c.Close()
			return 0, 0, err
		}
		sd, err := c.UIDSearch(&imap.SearchCriteria{}, nil).Wait()
		if err != nil {
			c.Close()
			return 0, 0, err
		}
		uids := sd.AllUIDs()
		for i := 0; i < len(uids); i += 250 {
			chunks = append(chunks, chunk{l.Mailbox, imap.UIDSetNum(uids[i:min(i+250, len(uids))]...)})
		}
	}
	c.Close()

	start := time.Now()
	work := make(chan chunk, len(chunks))
	for _, ch := range chunks {
		work <- ch
	}
	close(work)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int
		first error
	)
	for w := range floorConns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := floorWorker(srv, filepath.Join(dir, fmt.Sprint(w)), work)
			mu.Lock()
			defer mu.Unlock()
			total += n
			if err != nil && first == nil {
				first = err
			}
		}()
	}
	wg.Wait()
	return time.Since(start).Seconds(), total, first
}

// chunk is a piece of the raw floor's work: up to 250 UIDs of a folder.
type chunk struct {
	folder string
	uids   imap.UIDSet
}

// floorWorker is one connection of the raw floor: it fetches the chunks
// it takes, writes each message into dir/tmp, and publishes each batch
// with one syncfs and renames into dir/cur.
func floorWorker(srv *corpus.Server, dir string, work <-chan chunk) (int, error) {
	for _, sub := range []string{"tmp", "cur"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return 0, err
		}
	}
	c, err := srv.Dial()
	if err != nil {
		return 0, err
	}
	defer c.Close()
	var pending []string
	n := 0
	publish := func() error {
		if len(pending) == 0 {
			return nil
		}
		fd, err := unix.Open(filepath.Join(dir, "tmp"), unix.O_RDONLY, 0)
		if err != nil {
			return err
		}
		err = unix.Syncfs(fd)
		unix.Close(fd)
		if err != nil {
			return err
		}
		for _, name := range pending {
			if err := os.Rename(filepath.Join(dir, "tmp", name), filepath.Join(dir, "cur", name+":2,")); err != nil {
				return err
			}
		}
		pending = pending[:0]
		return nil
	}
	selected := ""
	body := &imap.FetchItemBodySection{Peek: true}
	for ch := range work {
		if ch.folder != selected {
			if _, err := c.Select(ch.folder, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
				return n, err
			}
			selected = ch.folder
		}
		cmd := c.Fetch(ch.uids, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{body}})
		for {
			msg := cmd.Next()
			if msg == nil {
				break
			}
			for {
				item := msg.Next()
				if item == nil {
					break
				}
				data, ok := item.(imapclient.FetchItemDataBodySection)
				if !ok {
					continue
				}
				name := fmt.Sprintf("%d.floor%d", time.Now().UnixNano(), n)
				f, err := os.OpenFile(filepath.Join(dir, "tmp", name), os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
				if err != nil {
					return n, err
				}
				_, err = io.Copy(f, data.Literal)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
				if err != nil {
					return n, err
				}
				n++
				if pending = append(pending, name); len(pending) >= floorBatch {
					if err := publish(); err != nil {
						return n, err
					}
				}
			}
		}
		if err := cmd.Close(); err != nil {
			return n, err
		}
	}
	return n, publish()
}

// measureFloor runs the raw floor once after the first syncs and prints
// mailmirror's first sync against it (issue 16: within 1.5×).
func measureFloor(rep *report, srv *corpus.Server, work string, mm *tool) error {
	dir := filepath.Join(work, "rawfloor")
	unix.Sync()
	secs, n, err := rawFloor(srv, dir)
	os.RemoveAll(dir)
	if err != nil {
		return fmt.Errorf("raw floor: %w", err)
	}
	rep.RawFloorSeconds = secs
	q := mm.res.First.Seconds / secs
	rep.RawFloorRatio = q
	fmt.Printf("raw floor of a first sync (in-process: %d connections fetch BODY.PEEK[], write, one syncfs per %d files): %d messages in %.3fs; mailmirror's first sync %.3fs = %.2f× the floor (target ≤ %.1f)\n",
		floorConns, floorBatch, n, secs, mm.res.First.Seconds, q, targetFloor)
	if q > targetFloor {
		rep.Missed = append(rep.Missed, fmt.Sprintf("first sync over the raw floor: %.2f > %.1f", q, targetFloor))
	}
	return nil
}

// targetFloor is issue 16's bound on the first sync over the raw floor.
const targetFloor = 1.5
