package syncer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/maildir"
	"github.com/mailmirror/mailmirror/state"
)

// Kinds of pending operations (write-ahead intents) the syncer records.
const (
	opDownload = "imap-download"
	opAppend   = "imap-append"
	opMove     = "imap-move"
)

// downloadIntent lists messages about to be published into a folder.
type downloadIntent struct {
	FolderID int64          `json:"folder_id"`
	Items    []downloadItem `json:"items"`
}

type downloadItem struct {
	UID   uint32 `json:"uid"`
	Key   string `json:"key"`
	Flags string `json:"flags"`
	Size  int64  `json:"size"`
	Ident string `json:"ident"`
	// Placeholder: the file is a placeholder (max_size), not the message.
	Placeholder bool `json:"placeholder,omitempty"`
}

// transferIntent is an APPEND or MOVE about to be sent.
type transferIntent struct {
	Folder string `json:"folder"`
	Dest   string `json:"dest,omitempty"`
	UID    uint32 `json:"uid,omitempty"`
	Key    string `json:"key"`
	Ident  string `json:"ident"`
	Size   int64  `json:"size"`
}

// apply carries out what detect and matchAcross decided for one folder.
//
// One commit style throughout: each step commits its own outcome at once.
// A step makes its side effects, makes its local renames and removals
// durable (one fsync of new/ and cur/, before anything is recorded), and
// records what it did in one transaction of its own (j.commit), together
// with the removal of its write-ahead intent if it has one. So what a step
// did is never lost to a later step's failure (a broken link in the
// downloads keeps the flag merges and moves already recorded, and the next
// pass does not have to find them again), and a step's intent is pending
// only while its side effect is in flight. Only the folder's counters wait
// for the end (finish): they are recorded once every step went through, so
// that a pass cut short makes the next one look at the folder again.
func (j *job) apply(ctx context.Context, lc *lazyConn) error {
	s := j.s
	var c *Conn
	// open gives the folder's connection, the folder selected writable,
	// or with read as it is (downloads only read: a folder the targeted
	// detect examined stays read-only, see imapconn.Conn.Reexamine).
	open := func(read bool) (*Conn, error) {
		if c != nil && (read || !c.ReadOnly()) {
			return c, nil
		}
		if c == nil {
			var err error
			if c, err = lc.get(); err != nil {
				return nil, err
			}
		}
		selectFn := c.Select
		if read {
			selectFn = c.Readable
		}
		sel, err := selectFn(j.remote)
		if err != nil {
			return nil, err
		}
		if sel.UIDValidity != j.newSt.UIDValidity {
			return nil, fmt.Errorf("UIDVALIDITY changed during the pass; the next pass re-pairs the folder")
		}
		return c, nil
	}
	server := func() (*Conn, error) { return open(false) }
	reader := func() (*Conn, error) { return open(true) }
	// reconnect replaces a connection a broken link took (downloads go on).
	reconnect := func(cause error) (*Conn, error) {
		lc.release(cause)
		c = nil
		return reader()
	}
	if j.reset {
		if err := s.db.Update(func(tx *state.Tx) error { return tx.DeletePairs(j.st.ID) }); err != nil {
			return err
		}
	}
	if err := j.applyDrops(); err != nil {
		return err
	}
	if err := j.applyFlags(server); err != nil {
		return err
	}
	if err := j.applyServerDeletes(server); err != nil {
		return err
	}
	if err := j.applyLocalDeletes(); err != nil {
		return err
	}
	if err := j.applyMoveOut(server); err != nil {
		return err
	}
	if err := j.applyMoveIn(server); err != nil {
		return err
	}
	if err := j.applyPairUp(server); err != nil {
		return err
	}
	if err := j.applyFetchFlagged(server); err != nil {
		return err
	}
	if err := j.applyAppends(ctx, server); err != nil {
		return err
	}
	if err := j.applyDownloads(ctx, lc, reader, reconnect); err != nil {
		return err
	}
	return j.finish()
}

// commit records one step's outcome in one transaction. local says the
// step renamed or removed files: new/ and cur/ are made durable first (a
// state that recorded a rename the disk lost would take the old name for a
// change). A crash before it only makes the next pass find the same
// changes again on both sides, which it then records.
func (j *job) commit(local bool, fn func(tx *state.Tx) error) error {
	if local {
		if err := j.lf.Sync(); err != nil {
			return err
		}
	}
	return j.s.db.Update(fn)
}

// forget removes pairs (within a step's transaction).
func forget(tx *state.Tx, pairs []*state.Pair) error {
	for _, p := range pairs {
		if err := tx.DeletePair(p.FolderID, p.UID); err != nil {
			return err
		}
	}
	return nil
}

// tombstone keeps pairs without their file (Key ""), so that their server
// messages are not taken for new ones.
func tombstone(tx *state.Tx, pairs []*state.Pair) error {
	for _, p := range pairs {
		t := *p
		t.Key = ""
		if err := tx.PutPair(t); err != nil {
			return err
		}
	}
	return nil
}

// applyDrops records the decisions that have no side effect: pairs gone on
// both sides, and those a one-way folder keeps as tombstones (holdOneWay).
func (j *job) applyDrops() error {
	if len(j.drop) == 0 && len(j.tombstones) == 0 {
		return nil
	}
	return j.commit(false, func(tx *state.Tx) error {
		if err := forget(tx, j.drop); err != nil {
			return err
		}
		return tombstone(tx, j.tombstones)
	})
}

// finish records the folder's new counters, once every step is applied
// and committed (see apply).
func (j *job) finish() error {
	err := j.s.db.Update(func(tx *state.Tx) error { return tx.UpdateFolder(j.newSt) })
	if err == nil {
		applyStepDone("finished", j.local)
	}
	return err
}

// applyHook, when set by tests, runs at steps of apply: "finished" (a
// folder's counters recorded), "moved" (a UID MOVE done, not yet
// recorded) and "moving-in" (before the renames of server moves into the
// folder), with the folder's local name. The crash tests kill the
// process there.
var applyHook func(step, folder string)

func applyStepDone(step, folder string) {
	if applyHook != nil {
		applyHook(step, folder)
	}
}

// storeGroups collects server flag changes: one UID STORE per distinct
// change.
type storeGroups map[string]*imap.UIDSet

func (g storeGroups) add(uid uint32, from, to string) {
	add, del := diffLetters(from, to)
	if add != "" {
		g.put("+"+add, uid)
	}
	if del != "" {
		g.put("-"+del, uid)
	}
}

func (g storeGroups) put(k string, uid uint32) {
	set := g[k]
	if set == nil {
		set = &imap.UIDSet{}
		g[k] = set
	}
	set.AddNum(imap.UID(uid))
}

func (g storeGroups) run(c *Conn) error {
	keys := make([]string, 0, len(g))
	for k := range g {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		op := imap.StoreFlagsAdd
		if k[0] == '-' {
			op = imap.StoreFlagsDel
		}
		err := c.Store(*g[k], &imap.StoreFlags{Op: op, Silent: true, Flags: maildir.FlagsToIMAP(k[1:])}, nil).Close()
		if err != nil {
			return fmt.Errorf("store flags: %w", err)
		}
	}
	return nil
}

func diffLetters(from, to string) (add, del string) {
	for i := 0; i < len(maildir.KnownLetters); i++ {
		l := maildir.KnownLetters[i]
		switch a, b := has(from, l), has(to, l); {
		case !a && b:
			add += string(l)
		case a && !b:
			del += string(l)
		}
	}
	return add, del
}

// applyFlags merges the flags of every message present on both sides.
func (j *job) applyFlags(server func() (*Conn, error)) error {
	groups := storeGroups{}
	type update struct {
		p       *state.Pair
		e       maildir.Entry
		rename  bool   // the file needs new letters
		letters string // the file's new letters (when rename)
		base    string
	}
	var updates []update
	nStore := 0
	for uid, p := range j.pairs {
		if p.Key == "" || j.serverGone[uid] || j.moved[uid] {
			continue
		}
		e, ok := j.entries[p.Key]
		if !ok {
			continue
		}
		l := maildir.KnownOnly(e.Flags)
		r, changed := j.serverFlags[uid]
		if !changed {
			r = p.Flags
		}
		up, down, base := j.sides(merge3(p.Flags, l, r), l, r)
		if up != r {
			groups.add(uid, r, up)
			nStore++
		}
		if down != l || base != p.Flags {
			u := update{p: p, e: e, base: base}
			if down != l {
				u.rename, u.letters = true, maildir.MergeLetters(e.Flags, down)
			}
			updates = append(updates, u)
		}
	}
	if len(groups) > 0 {
		c, err := server()
		if err != nil {
			return err
		}
		if err := groups.run(c); err != nil {
			return err
		}
		j.s.count(func(st *Stats) { st.Up.Flags += nStore })
	}
	if len(updates) == 0 {
		return nil
	}
	nLocal := 0
	for i, u := range updates {
		if !u.rename {
			continue
		}
		ne, err := j.lf.SetFlags(u.e, u.letters)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				// Changed again meanwhile: the next pass merges
				// that change against the old base, which stays.
				updates[i].p = nil
				continue
			}
			return err
		}
		j.entries[u.p.Key] = ne
		updates[i].e = ne
		nLocal++
	}
	if nLocal > 0 {
		j.s.count(func(st *Stats) { st.Down.Flags += nLocal })
	}
	return j.commit(nLocal > 0, func(tx *state.Tx) error {
		for _, u := range updates {
			if u.p == nil {
				continue
			}
			if err := tx.SetPairFlags(u.p.FolderID, u.p.UID, u.base); err != nil {
				return err
			}
		}
		return nil
	})
}

// applyServerDeletes mirrors local deletions: \Deleted and UID EXPUNGE, or
// a move to the Trash folder with delete_mode = "trash" (UID MOVE, or
// without MOVE a UID COPY there and the same delete). Without UIDPLUS no
// EXPUNGE is sent (it would remove every \Deleted message in the folder,
// other clients' too): the message stays marked \Deleted and a tombstone
// pair remembers it until the server expunges it.
func (j *job) applyServerDeletes(server func() (*Conn, error)) error {
	if len(j.serverDeletes) == 0 {
		return nil
	}
	c, err := server()
	if err != nil {
		return err
	}
	var set imap.UIDSet
	for _, p := range j.serverDeletes {
		set.AddNum(imap.UID(p.UID))
	}
	trash := j.s.trash
	keep := false // a tombstone pair for each message (no UIDPLUS)
	caps := c.Caps()
	uidPlus := caps.Has(imap.CapUIDPlus) || caps.Has(imap.CapIMAP4rev2)
	switch {
	case j.s.acct.DeleteMode == "trash" && trash != "" && trash != j.remote && (caps.Has(imap.CapMove) || caps.Has(imap.CapIMAP4rev2)):
		if _, err := c.Move(set, trash).Wait(); err != nil {
			return fmt.Errorf("move to %q: %w", trash, err)
		}
	default:
		// Without MOVE, go-imap's Move would end in a plain EXPUNGE
		// on servers without UIDPLUS: copy to Trash and delete here
		// like any other delete instead.
		if j.s.acct.DeleteMode == "trash" && trash != "" && trash != j.remote {
			if _, err := c.Copy(set, trash).Wait(); err != nil {
				return fmt.Errorf("copy to %q: %w", trash, err)
			}
		}
		if err := markDeleted(c, set); err != nil {
			return err
		}
		if uidPlus {
			if err := c.UIDExpunge(set).Close(); err != nil {
				return fmt.Errorf("expunge: %w", err)
			}
		} else {
			keep = true
		}
	}
	j.s.count(func(st *Stats) { st.Up.Deleted += len(j.serverDeletes) })
	return j.commit(false, func(tx *state.Tx) error {
		if keep {
			return tombstone(tx, j.serverDeletes)
		}
		return forget(tx, j.serverDeletes)
	})
}

// applyLocalDeletes mirrors server expunges.
func (j *job) applyLocalDeletes() error {
	if len(j.localDeletes) == 0 {
		return nil
	}
	for _, p := range j.localDeletes {
		if err := j.lf.Remove(j.entries[p.Key]); err != nil {
			return err
		}
	}
	j.s.count(func(st *Stats) { st.Down.Deleted += len(j.localDeletes) })
	return j.commit(true, func(tx *state.Tx) error { return forget(tx, j.localDeletes) })
}

// markDeleted adds \Deleted to messages, silently.
func markDeleted(c *Conn, set imap.UIDSet) error {
	err := c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close()
	if err != nil {
		return fmt.Errorf("mark deleted: %w", err)
	}
	return nil
}

// applyMoveOut mirrors local moves to another folder with UID MOVE.
func (j *job) applyMoveOut(server func() (*Conn, error)) error {
	if len(j.moveOut) == 0 {
		return nil
	}
	c, err := server()
	if err != nil {
		return err
	}
	for _, mo := range j.moveOut {
		data, _ := json.Marshal(transferIntent{Folder: j.remote, Dest: mo.dst.remote, UID: mo.p.UID, Key: mo.e.Key, Ident: mo.p.MsgID, Size: mo.p.Size})
		opID, err := j.s.db.AddOp(state.Op{Account: j.s.acct.Name, Kind: opMove, Folder: j.local, Data: data})
		if err != nil {
			return err
		}
		set := imap.UIDSetNum(imap.UID(mo.p.UID))
		var newUID uint32
		canMove := c.Caps().Has(imap.CapMove) || c.Caps().Has(imap.CapUIDPlus) || c.Caps().Has(imap.CapIMAP4rev2)
		if canMove {
			md, err := c.Move(set, mo.dst.remote).Wait()
			if err != nil {
				return fmt.Errorf("move to %q: %w", mo.dst.remote, err)
			}
			newUID = destUID(md.DestUIDs)
		} else {
			if _, err := c.Copy(set, mo.dst.remote).Wait(); err != nil {
				return fmt.Errorf("copy to %q: %w", mo.dst.remote, err)
			}
			if err := markDeleted(c, set); err != nil {
				return err
			}
		}
		applyStepDone("moved", j.local)
		// Flags changed along with the move are merged in the destination
		// by the next pass (its base is the old flags).
		err = j.s.db.Update(func(tx *state.Tx) error {
			if canMove {
				if err := tx.DeletePair(mo.p.FolderID, mo.p.UID); err != nil {
					return err
				}
			} else {
				t := *mo.p
				t.Key = ""
				if err := tx.PutPair(t); err != nil {
					return err
				}
			}
			if newUID != 0 {
				np := state.Pair{FolderID: mo.dst.st.ID, UID: newUID, Key: mo.e.Key, Flags: mo.p.Flags, Size: mo.p.Size, MsgID: mo.p.MsgID, Placeholder: mo.placeholder}
				if err := tx.PutPair(np); err != nil {
					return err
				}
			}
			return tx.DeleteOp(opID)
		})
		if err != nil {
			return err
		}
		j.s.count(func(st *Stats) { st.Up.Moved++ })
	}
	return nil
}

// destUID returns the single UID of a COPYUID/APPENDUID answer, or 0.
func destUID(set imap.NumSet) uint32 {
	us, ok := set.(imap.UIDSet)
	if !ok || len(us) != 1 || us[0].Start != us[0].Stop {
		return 0
	}
	return uint32(us[0].Start)
}

// applyMoveIn mirrors a server move into this folder by renaming the local
// file from the source folder.
func (j *job) applyMoveIn(server func() (*Conn, error)) error {
	if len(j.moveIn) == 0 {
		return nil
	}
	groups := storeGroups{}
	var pairs []state.Pair
	applyStepDone("moving-in", j.local)
	for _, mi := range j.moveIn {
		ne, err := mi.src.lf.MoveTo(mi.e, j.lf)
		if err != nil {
			return err
		}
		l := maildir.KnownOnly(ne.Flags)
		up, down, base := j.sides(merge3(mi.p.Flags, l, mi.msg.flags), l, mi.msg.flags)
		if down != l {
			if ne, err = j.lf.SetFlags(ne, maildir.MergeLetters(ne.Flags, down)); err != nil {
				return err
			}
		}
		if up != mi.msg.flags {
			groups.add(mi.msg.uid, mi.msg.flags, up)
		}
		pairs = append(pairs, state.Pair{FolderID: j.st.ID, UID: mi.msg.uid, Key: ne.Key, Flags: base, Size: mi.msg.size, MsgID: mi.msg.ident, Placeholder: mi.p.Placeholder})
	}
	if err := j.lf.Sync(); err != nil {
		return err
	}
	srcs := map[*job]bool{}
	for _, mi := range j.moveIn {
		srcs[mi.src] = true
	}
	for src := range srcs {
		if err := src.lf.Sync(); err != nil {
			return err
		}
	}
	if len(groups) > 0 {
		c, err := server()
		if err != nil {
			return err
		}
		if err := groups.run(c); err != nil {
			return err
		}
	}
	j.s.count(func(st *Stats) { st.Down.Moved += len(j.moveIn) })
	return j.s.db.Update(func(tx *state.Tx) error {
		for i, mi := range j.moveIn {
			if err := tx.DeletePair(mi.p.FolderID, mi.p.UID); err != nil {
				return err
			}
			if err := tx.PutPair(pairs[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// applyPairUp binds local files to the server messages they are.
func (j *job) applyPairUp(server func() (*Conn, error)) error {
	if len(j.pairUp) == 0 {
		return nil
	}
	groups := storeGroups{}
	var pairs []state.Pair
	renamed := false
	for _, pu := range j.pairUp {
		l := maildir.KnownOnly(pu.l.e.Flags)
		var m string
		if pu.l.hasBase {
			m = merge3(pu.l.base, l, pu.m.flags)
		} else {
			m = union(l, pu.m.flags)
		}
		e := pu.l.e
		up, down, base := j.sides(m, l, pu.m.flags)
		if down != l {
			ne, err := j.lf.SetFlags(e, maildir.MergeLetters(e.Flags, down))
			if err != nil {
				return err
			}
			e = ne
			renamed = true
		}
		if up != pu.m.flags {
			groups.add(pu.m.uid, pu.m.flags, up)
		}
		pairs = append(pairs, state.Pair{FolderID: j.st.ID, UID: pu.m.uid, Key: e.Key, Flags: base, Size: pu.m.size, MsgID: pu.m.ident, Placeholder: pu.l.placeholder})
	}
	if renamed {
		if err := j.lf.Sync(); err != nil {
			return err
		}
	}
	if len(groups) > 0 {
		c, err := server()
		if err != nil {
			return err
		}
		if err := groups.run(c); err != nil {
			return err
		}
	}
	j.s.count(func(st *Stats) { st.Paired += len(pairs) })
	return j.s.db.Update(func(tx *state.Tx) error {
		for _, p := range pairs {
			if err := tx.PutPair(p); err != nil {
				return err
			}
		}
		return nil
	})
}

// applyAppends uploads new local messages.
func (j *job) applyAppends(ctx context.Context, server func() (*Conn, error)) error {
	if len(j.newLocal) == 0 {
		return nil
	}
	c, err := server()
	if err != nil {
		return err
	}
	for _, l := range j.newLocal {
		if err := ctx.Err(); err != nil {
			return err
		}
		if copied, err := j.copyInstead(c, l); err != nil || copied {
			if err != nil {
				return err
			}
			continue
		}
		if err := j.appendOne(c, l); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // deleted meanwhile
			}
			return err
		}
		j.s.count(func(st *Stats) { st.Up.New++ })
	}
	return nil
}

func (j *job) appendOne(c *Conn, l *localMsg) error {
	f, err := j.lf.Open(l.e)
	if err != nil {
		return err
	}
	defer f.Close()
	data, _ := json.Marshal(transferIntent{Folder: j.remote, Key: l.e.Key, Ident: l.ident, Size: l.size})
	opID, err := j.s.db.AddOp(state.Op{Account: j.s.acct.Name, Kind: opAppend, Folder: j.local, Data: data})
	if err != nil {
		return err
	}
	letters := maildir.KnownOnly(l.e.Flags)
	cmd := c.Append(j.remote, l.size, &imap.AppendOptions{Flags: maildir.FlagsToIMAP(letters), Time: l.date})
	n, copyErr := io.Copy(cmd, newCRLFReader(f))
	if copyErr == nil && n != l.size {
		copyErr = fmt.Errorf("%s changed while it was uploaded", l.e.Name)
	}
	closeErr := cmd.Close()
	if copyErr != nil {
		return copyErr
	}
	if closeErr != nil {
		return fmt.Errorf("append: %w", closeErr)
	}
	ad, err := cmd.Wait()
	if err != nil {
		return fmt.Errorf("append: %w", err)
	}
	// Trust an APPENDUID only for a UID that can be new: at or above the
	// UIDNEXT seen before, and not paired with another file.
	if ad == nil || ad.UID == 0 || (ad.UIDValidity != 0 && ad.UIDValidity != j.newSt.UIDValidity) ||
		uint32(ad.UID) < j.newSt.UIDNext || j.pairs[uint32(ad.UID)] != nil {
		// Without APPENDUID the next full pass pairs it by identity and
		// size. The intent stays until then: a targeted pass (an IDLE
		// echo of this APPEND) must not take the message for new mail.
		return nil
	}
	return j.s.db.Update(func(tx *state.Tx) error {
		p := state.Pair{FolderID: j.st.ID, UID: uint32(ad.UID), Key: l.e.Key, Flags: letters, Size: l.size, MsgID: l.ident}
		if err := tx.PutPair(p); err != nil {
			return err
		}
		return tx.DeleteOp(opID)
	})
}

// applyDownloads streams new server messages into the Maildir, newest
// first, publishing them in batches with one file-system sync each. When
// the connection breaks, what arrived whole is published and the rest
// comes over a new connection (reconnect; see downloader.retry). The
// messages are handed out in chunks (chunkQueue): connections of the pass
// that other folders gave back join in (helpers, downloads.go).
func (j *job) applyDownloads(ctx context.Context, lc *lazyConn, server func() (*Conn, error), reconnect func(error) (*Conn, error)) error {
	msgs := j.newServer
	for _, p := range j.restore {
		msgs = append(msgs, &serverMsg{uid: p.UID, size: p.Size, flags: j.serverFlags[p.UID], ident: p.MsgID})
	}
	resume, err := j.partials(msgs)
	if err != nil {
		return err
	}
	if len(msgs) == 0 {
		return nil
	}
	c, err := server()
	if err != nil {
		return err
	}
	sort.Slice(msgs, func(a, b int) bool { return msgs[a].uid > msgs[b].uid })
	sh := &dlShared{total: len(msgs)}
	for _, m := range msgs {
		sh.totalBytes += m.size
	}
	d := j.newDownloader(c, sh)
	defer d.count()
	// Downloads cut short by an earlier pass go on where they stopped.
	for _, m := range msgs {
		if resume[m.uid] {
			d.byUID[m.uid] = m
			err := d.retry(ctx, reconnect, []*serverMsg{m}, func(left []*serverMsg) error {
				for _, m := range left {
					if err := d.resume(ctx, m); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
	}
	q := newChunkQueue(msgs, resume)
	hs := &helperSet{j: j, ctx: ctx, lc: lc, q: q, sh: sh}
	d.tick = hs.start // also while a chunk comes in: a connection freed meanwhile joins sooner
	for {
		part := q.next()
		if part == nil {
			break
		}
		hs.start()
		if err = d.chunk(ctx, reconnect, part); err != nil {
			break
		}
	}
	q.stop()
	if err == nil {
		err = d.flush()
	}
	helpers, herr := hs.wait()
	if err = errors.Join(err, herr); err != nil {
		return err
	}
	left := map[uint32]*serverMsg{}
	refused := d.refused
	for _, h := range append(helpers, d) {
		for uid, m := range h.byUID {
			left[uid] = m
		}
		if refused == "" {
			refused = h.refused
		}
	}
	if len(left) > 0 {
		// The server did not deliver some messages: do not record the
		// folder as handled, so that the next pass looks again.
		j.newSt.Messages = 0
		j.s.warn("folder %q: the server did not deliver %s%s; will retry", j.local, uidList(left), said(refused))
	}
	return nil
}

// chunk downloads the messages of one chunk: small before large, so that
// on a slow link the recent mail that is quick to get is readable first.
// Messages above max_size become placeholders.
func (d *downloader) chunk(ctx context.Context, reconnect func(error) (*Conn, error), msgs []*serverMsg) error {
	var small, large, ph []*serverMsg
	for _, m := range msgs {
		d.byUID[m.uid] = m
		switch {
		case d.j.wantsPlaceholder(m):
			ph = append(ph, m)
		case m.size < largeMessage:
			small = append(small, m)
		default:
			large = append(large, m)
		}
	}
	if len(ph) > 0 {
		if err := d.retry(ctx, reconnect, ph, func(left []*serverMsg) error { return d.placeholders(ctx, left) }); err != nil {
			return err
		}
	}
	for _, part := range [][]*serverMsg{small, large} {
		if len(part) == 0 {
			continue
		}
		if err := d.retry(ctx, reconnect, part, func(left []*serverMsg) error { return d.fetch(ctx, left) }); err != nil {
			return err
		}
	}
	return nil
}

// largeMessage is the size from which a message is fetched after the
// smaller ones of its chunk.
const largeMessage = 64 << 10

// downloader downloads messages of a folder over one connection at a time
// (c) into batches of its own. A folder's downloads may have several at
// once (helpers); what they count together is in sh.
type downloader struct {
	j     *job
	c     *Conn
	sh    *dlShared
	byUID map[uint32]*serverMsg // the messages asked for and not received yet
	batch maildir.Batch
	// pending are the batch's messages, for its intent and pairs.
	pending     []downloadItem
	batchBytes  int64
	done        int
	placeholder int // of done, stored as placeholders
	bytes       int64
	refused     string // the text of a NO that ended a FETCH, if any
	// reported is what report has added to sh so far.
	reportedDone  int
	reportedBytes int64
	lw            lfWriter // with its buffers, reused for every message
	head          headCapture
	// tick, when set, runs after every helperTick messages delivered.
	tick func()
}

func (j *job) newDownloader(c *Conn, sh *dlShared) *downloader {
	return &downloader{j: j, c: c, sh: sh, byUID: map[uint32]*serverMsg{}}
}

// count adds what the downloader did to the pass's stats.
func (d *downloader) count() {
	d.j.s.count(func(st *Stats) { st.Down.New += d.done; st.Bytes += d.bytes; st.Placeholders += d.placeholder })
}

var bodySection = &imap.FetchItemBodySection{Peek: true}

func (d *downloader) fetch(ctx context.Context, part []*serverMsg) error {
	var set imap.UIDSet
	for _, m := range part {
		set.AddNum(imap.UID(m.uid))
	}
	// A literal far larger than the size the server announced is refused
	// (a broken or hostile server must not fill the disk).
	var limit int64
	for _, m := range part {
		limit = max(limit, m.size)
	}
	limit = limit*2 + 1<<20
	cmd := d.c.Fetch(set, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{bodySection}})
	defer cmd.Close()
	// A message is whole once its response parsed to its end, which
	// shows when the next response or the command's end arrives: until
	// then it is held out of the batch (a literal shorter than the data
	// breaks the connection after it).
	var held *heldMsg
	defer func() {
		if held != nil {
			held.w.Abort()
		}
	}()
	for {
		msg := cmd.Next()
		if msg == nil {
			break
		}
		if err := d.add(&held); err != nil {
			return err
		}
		var uid uint32
		var w *maildir.Writer
		var written int64
		var head *headCapture
		for {
			item := msg.Next()
			if item == nil {
				break
			}
			switch it := item.(type) {
			case imapclient_UID:
				uid = uint32(it.UID)
			case imapclient_Body:
				if it.Literal == nil || w != nil {
					continue
				}
				if it.Literal.Size() > limit {
					return fmt.Errorf("download: the server sent a %d-byte message where it announced at most %d", it.Literal.Size(), limit)
				}
				var err error
				if w, err = d.j.lf.NewMessage(); err != nil {
					return err
				}
				t := d.j.target(uid, 0)
				if m := d.byUID[uid]; m != nil && uid != 0 {
					t.size = m.size
				}
				head = nil
				var out io.Writer = w
				if d.j.bodyIdent {
					head = d.head.reset(w)
					out = head
				}
				n, err := d.j.s.receive(t, it.Literal, it.Literal.Size(), w, d.lw.reset(out), 0)
				if err != nil {
					// receive kept (a large message) or removed the file.
					// Close the client before the command is drained:
					// go-imap's reader would otherwise race with the
					// drain on the broken literal.
					d.c.Close()
					return fmt.Errorf("download: %w", err)
				}
				written = n
			}
		}
		m := d.byUID[uid]
		if w == nil || m == nil {
			if w != nil {
				w.Abort()
			}
			continue
		}
		if head != nil && m.identLater {
			m.ident, m.identLater = head.identity(), false
		}
		held = &heldMsg{w: w, m: m, written: written}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	if err := cmd.Close(); err != nil {
		// A NO after some messages (Gmail: "Some messages could not be
		// FETCHed"): keep those that came; the others stay in byUID, are
		// reported, and the next pass asks for them again.
		var ie *imap.Error
		if errors.As(err, &ie) && ie.Type == imap.StatusResponseTypeNo {
			d.refused = ie.Text
			return d.add(&held)
		}
		return err
	}
	return d.add(&held)
}

// heldMsg is a received message not yet known whole (see fetch).
type heldMsg struct {
	w       *maildir.Writer
	m       *serverMsg
	written int64
}

// add puts the held message, if any, into the batch (publishing the batch
// when it is full) and clears it.
func (d *downloader) add(held **heldMsg) error {
	h := *held
	if h == nil {
		return nil
	}
	*held = nil
	delete(d.byUID, h.m.uid)
	if err := d.batch.Add(h.w, h.m.flags, h.m.date); err != nil {
		return err
	}
	d.pending = append(d.pending, downloadItem{UID: h.m.uid, Key: h.w.Key(), Flags: h.m.flags, Size: h.m.size, Ident: h.m.ident})
	d.batchBytes += h.written
	d.bytes += h.written
	d.done++
	d.report()
	if d.batch.Len() >= 1000 || d.batchBytes >= 32<<20 {
		return d.flush()
	}
	return nil
}

// flush publishes the batch: intent first, then one sync and the renames,
// then the pairs (and the intent's removal) in one transaction.
// report tells the progress callback, if any, how far the downloads are.
func (d *downloader) report() {
	done := d.sh.done.Add(int64(d.done - d.reportedDone))
	bytes := d.sh.bytes.Add(d.bytes - d.reportedBytes)
	d.reportedDone, d.reportedBytes = d.done, d.bytes
	if d.tick != nil && d.done%helperTick == 0 {
		d.tick()
	}
	if p := d.j.s.opts.Progress; p != nil {
		p(Progress{Folder: d.j.local, Direction: "down", Done: int(done), Total: d.sh.total, Bytes: bytes, TotalBytes: d.sh.totalBytes})
	}
}

func (d *downloader) flush() error {
	if d.batch.Len() == 0 {
		return nil
	}
	j := d.j
	data, _ := json.Marshal(downloadIntent{FolderID: j.st.ID, Items: d.pending})
	if err := j.recordValidity(); err != nil {
		d.batch.Abort()
		return err
	}
	// The intent is written while the files are synced; both are durable
	// before the first rename.
	var opID int64
	_, err := d.batch.CommitWith(func() error {
		var err error
		opID, err = j.s.db.AddOp(state.Op{Account: j.s.acct.Name, Kind: opDownload, Folder: j.local, Data: data})
		return err
	})
	if err != nil {
		if opID != 0 {
			j.s.db.DeleteOp(opID)
		}
		return err
	}
	items := d.pending
	d.pending = nil
	d.batchBytes = 0
	return j.s.db.Update(func(tx *state.Tx) error {
		for _, it := range items {
			if err := tx.PutPair(state.Pair{FolderID: j.st.ID, UID: it.UID, Key: it.Key, Flags: it.Flags, Size: it.Size, MsgID: it.Ident, Placeholder: it.Placeholder}); err != nil {
				return err
			}
		}
		return tx.DeleteOp(opID)
	})
}

// uidList names the messages of m ("UID 5", "UIDs 5, 7, 9 and 3 more").
func uidList(m map[uint32]*serverMsg) string {
	uids := make([]uint32, 0, len(m))
	for u := range m {
		uids = append(uids, u)
	}
	sort.Slice(uids, func(a, b int) bool { return uids[a] < uids[b] })
	if len(uids) == 1 {
		return fmt.Sprintf("UID %d", uids[0])
	}
	var b strings.Builder
	b.WriteString("UIDs ")
	for i, u := range uids {
		if i == 10 {
			fmt.Fprintf(&b, " and %d more", len(uids)-10)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprint(&b, u)
	}
	return b.String()
}

// said quotes a server's reason, if any.
func said(text string) string {
	if text == "" {
		return ""
	}
	return fmt.Sprintf(" (the server said %q)", text)
}

// recordValidity records the folder's UIDVALIDITY before the first pairs
// of a folder seen for the first time, or of a new UIDVALIDITY, are
// recorded (a pass cut short publishes what it downloaded): the next pass
// must know which UIDs they are. The rest of the folder's counters stay
// unset, so that the next pass looks at the whole folder again.
func (j *job) recordValidity() error {
	if j.st.UIDValidity == j.newSt.UIDValidity || j.newSt.UIDValidity == 0 {
		return nil
	}
	f := j.st
	f.UIDValidity, f.UIDNext, f.Messages, f.HighestModSeq, f.LocalStamp = j.newSt.UIDValidity, 0, 0, 0, ""
	if err := j.s.db.Update(func(tx *state.Tx) error { return tx.UpdateFolder(f) }); err != nil {
		return err
	}
	j.st = f
	return nil
}
