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

// measureFloor measures the raw floor after the first syncs, and prints
// mailmirror's first sync against it (issue 16: within 1.5×). On a shared
// machine one floor and one first sync measured a minute apart say little:
// each round after the first measures the floor and, right after it,
// mailmirror's first sync again (the binary of mm into a fresh Maildir and
// state under work). The ratio reported is the median of the rounds'
// ratios; the minima of both are printed too.
func measureFloor(rep *report, srv *corpus.Server, work, repo string, mm *tool) error {
	var floors, firsts, ratios []float64
	n := 0
	for round := range max(floorRounds, 1) {
		dir := filepath.Join(work, "rawfloor")
		unix.Sync()
		secs, got, err := rawFloor(srv, dir)
		os.RemoveAll(dir)
		if err != nil {
			return fmt.Errorf("raw floor: %w", err)
		}
		n = got
		first := mm.res.First.Seconds
		if round > 0 {
			if first, err = freshFirstSync(srv, filepath.Join(work, fmt.Sprintf("floor-mailmirror-%d", round)), repo); err != nil {
				return err
			}
		}
		floors, firsts, ratios = append(floors, secs), append(firsts, first), append(ratios, first/secs)
		fmt.Printf("raw floor round %d: floor %.3fs, mailmirror's first sync %.3fs = %.2f×\n", round+1, secs, first, first/secs)
	}
	q := medianOf(ratios)
	rep.RawFloorSeconds = medianOf(floors)
	rep.RawFloorRatio = q
	rep.RawFloorRounds = len(ratios)
	fmt.Printf("raw floor of a first sync (in-process: %d connections fetch BODY.PEEK[], write, one syncfs per %d files): %d messages; "+
		"median of %d rounds: floor %.3fs, mailmirror's first sync %.3fs, ratio %.2f× (target ≤ %.1f); minima %.3fs and %.3fs = %.2f×\n",
		floorConns, floorBatch, n, len(ratios), medianOf(floors), medianOf(firsts), q, targetFloor,
		slices.Min(floors), slices.Min(firsts), slices.Min(firsts)/slices.Min(floors))
	if q > targetFloor {
		rep.Missed = append(rep.Missed, fmt.Sprintf("first sync over the raw floor: %.2f > %.1f", q, targetFloor))
	}
	return nil
}

// freshFirstSync runs mailmirror's first sync once more, built from repo
// into dir with a fresh Maildir and state (removed afterwards), and
// returns its wall time.
func freshFirstSync(srv *corpus.Server, dir, repo string) (float64, error) {
	defer os.RemoveAll(dir)
	t, _, err := newMailmirror(dir, repo, srv, srv.Dovecot.IMAPPort)
	if err != nil {
		return 0, err
	}
	r, err := measure(srv, t.sync)
	if err != nil {
		return 0, fmt.Errorf("first sync of a floor round: %w", err)
	}
	return r.Seconds, nil
}

// medianOf is the median of xs (the upper one of an even count).
func medianOf(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// targetFloor is issue 16's bound on the first sync over the raw floor.
const targetFloor = 1.5
