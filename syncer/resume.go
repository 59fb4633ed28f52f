package syncer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/emersion/go-imap/v2"
)

// A link that breaks every few megabytes (hotel Wi-Fi, a proxy that cuts
// long connections) must still let a first sync finish. Three things make
// each connection's bytes count:
//
//   - downloads publish what arrived whole before a connection broke (the
//     batch is flushed, never aborted), and go on over a new connection
//     with the messages left, as long as each attempt delivers something;
//   - the identity fetch of new messages goes on over a new connection
//     with the UIDs it has not received yet, and a later pass asks only
//     for the new UIDs that are not paired yet;
//   - a folder whose detection failed is left out of the pass; the others
//     are applied.

// linkRetries is how many new connections in a row a step may open
// without receiving anything before it gives up.
const linkRetries = 2

// linkError reports whether err broke the connection (so that a new one
// may do better), rather than a refusal by the server, a local error or
// the end of the pass.
func linkError(err error) bool {
	return err != nil && isConnError(err) && !errors.Is(err, ErrLocal) &&
		!errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// uidsMinus returns set without the UIDs in drop. A range ending in "*"
// keeps its "*".
func uidsMinus(set imap.UIDSet, drop map[uint32]bool) imap.UIDSet {
	uids := make([]uint32, 0, len(drop))
	for u := range drop {
		uids = append(uids, u)
	}
	slices.Sort(uids)
	var out imap.UIDSet
	for _, r := range set {
		lo, hi := uint32(r.Start), uint32(r.Stop) // hi 0: "*"
		if hi != 0 && hi < lo {
			lo, hi = hi, lo
		}
		i := sort.Search(len(uids), func(k int) bool { return uids[k] >= lo })
		for ; i < len(uids) && (hi == 0 || uids[i] <= hi); i++ {
			if uids[i] > lo {
				out.AddRange(imap.UID(lo), imap.UID(uids[i]-1))
			}
			lo = uids[i] + 1
		}
		switch {
		case hi == 0:
			out.AddRange(imap.UID(lo), 0)
		case lo <= hi:
			out.AddRange(imap.UID(lo), imap.UID(hi))
		}
	}
	return out
}

// fetchMetaResuming is fetchMeta that, when the connection breaks, goes on
// over a new one (j.redial) with the UIDs not received yet. It returns the
// connection in use at the end.
func (j *job) fetchMetaResuming(c *Conn, set imap.UIDSet, keep func(*serverMsg) bool, seen map[uint32]bool) (*Conn, error) {
	stale := 0
	for {
		before := len(seen)
		err := j.fetchMeta(c, set, keep, seen)
		if err == nil || j.redial == nil || !linkError(err) {
			return c, err
		}
		if len(seen) > before {
			stale = 0
		} else if stale++; stale > linkRetries {
			return c, err
		}
		if set = uidsMinus(set, seen); len(set) == 0 {
			return c, nil
		}
		nc, rerr := j.redial(err)
		if rerr != nil {
			return c, errors.Join(err, rerr)
		}
		j.s.warn("folder %q: the connection broke (%v); went on over a new one", j.local, err)
		c = nc
	}
}

// redialFor returns the job's way to replace a broken connection of lc: a
// new one from the pool with the folder selected again, of the same
// UIDVALIDITY.
func (j *job) redialFor(lc *lazyConn) func(error) (*Conn, error) {
	return func(cause error) (*Conn, error) {
		lc.release(cause)
		c, err := lc.get()
		if err != nil {
			return nil, err
		}
		sel, err := c.Reselect(j.remote)
		if err != nil {
			return nil, err
		}
		if sel.UIDValidity != j.newSt.UIDValidity {
			return nil, fmt.Errorf("UIDVALIDITY changed during the pass; the next pass re-pairs the folder")
		}
		return c, nil
	}
}

// left returns the messages of part not delivered yet.
func (d *downloader) left(part []*serverMsg) []*serverMsg {
	var out []*serverMsg
	for _, m := range part {
		if d.byUID[m.uid] != nil {
			out = append(out, m)
		}
	}
	return out
}

// progress measures what the downloads got so far: messages delivered,
// and server bytes kept of downloads cut short.
func (d *downloader) progress() int64 {
	n := int64(d.done) << 40
	if parts, err := d.j.s.db.Partials(d.j.st.ID); err == nil {
		for _, p := range parts {
			n += p.Offset
		}
	}
	return n
}

// retry runs step on the messages of part not delivered yet. When the
// connection breaks, what arrived whole is published, and step runs again
// over a new connection (reconnect) as long as each attempt gets
// something; messages cut short are then continued where they stopped.
func (d *downloader) retry(ctx context.Context, reconnect func(error) (*Conn, error), part []*serverMsg, step func([]*serverMsg) error) error {
	stale := 0
	for attempt := 0; ; attempt++ {
		left := d.left(part)
		if len(left) == 0 {
			return nil
		}
		before := d.progress()
		err := d.resumeCut(ctx, attempt, left)
		if err == nil {
			err = step(d.left(left))
		}
		if err == nil {
			return nil
		}
		if ferr := d.flush(); ferr != nil {
			d.batch.Abort()
			return errors.Join(err, ferr)
		}
		if reconnect == nil || !linkError(err) || ctx.Err() != nil {
			return err
		}
		if d.progress() > before {
			stale = 0
		} else if stale++; stale > linkRetries {
			return err
		}
		c, rerr := reconnect(err)
		if rerr != nil {
			return errors.Join(err, rerr)
		}
		d.j.s.warn("folder %q: the connection broke during downloads (%v); went on over a new one", d.j.local, err)
		d.c = c
	}
}

// resumeCut continues, after the first attempt, the downloads of msgs
// that a broken connection cut short (a partial download is recorded).
func (d *downloader) resumeCut(ctx context.Context, attempt int, msgs []*serverMsg) error {
	if attempt == 0 {
		return nil
	}
	for _, m := range msgs {
		if _, ok, err := d.j.s.db.Partial(d.j.st.ID, m.uid); err != nil {
			return err
		} else if ok {
			if err := d.resume(ctx, m); err != nil {
				return err
			}
		}
	}
	return nil
}
