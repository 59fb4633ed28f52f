package pop3pull

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/maildir"
	"github.com/mailmirror/mailmirror/state"
)

// How a poll stays safe when it is killed at any instant (DESIGN.md
// invariants 1-4):
//
//  1. Messages are streamed into tmp/ files of the folder and closed, not
//     published (maildir.Batch.Add).
//  2. Before a batch is published, its intent goes to the state DB: one op
//     of kind OpStore listing (UIDL, planned Maildir key) pairs.
//  3. The batch is published: one file-system sync, renames into new/,
//     directory syncs.
//  4. One transaction records the UIDLs and removes the op.
//  5. DELE commands are sent only for UIDLs recorded in step 4 (or earlier
//     polls); before QUIT an op of kind OpDele lists them, and after QUIT
//     the UIDLs are marked deleted and the op removed.
//
// At the start of each poll, pending ops are resolved before anything
// else. A store op's keys are looked up in the folder: a file that exists
// was published, so its UIDL is recorded (after a directory sync) and the
// message is not downloaded again; a key without a file was never
// published, its tmp/ file is removed and the message is downloaded again.
// Either way no message is stored twice and none is lost. A dele op is
// resolved once the server's listing is known: UIDLs no longer on the
// server are marked deleted; the others are decided again by the policies.
// Since POP3 removes DELEd messages only at a successful QUIT, a crash
// before QUIT deletes nothing.

// Kinds of the state ops the poller writes.
const (
	OpStore = "pop3-store"
	OpDele  = "pop3-dele"
)

// Defaults of Options.
const (
	DefaultBatchMessages = 1000
	DefaultBatchBytes    = 64 << 20
)

// tmpMaxAge is how old a file in tmp/ must be before a poll removes it
// (the Maildir convention: 36 hours).
const tmpMaxAge = 36 * time.Hour

// Options tune a poll. A nil *Options means the defaults.
type Options struct {
	// Timeout bounds every read and write on the connection; zero means
	// DefaultTimeout.
	Timeout time.Duration
	// Window is how many commands are kept in flight when the server
	// advertises PIPELINING; zero means DefaultWindow, 1 turns pipelining
	// off.
	Window int
	// BatchMessages and BatchBytes bound a batch: the messages published
	// with one file-system sync and recorded in one transaction. Zero
	// means DefaultBatchMessages and DefaultBatchBytes.
	BatchMessages int
	BatchBytes    int64
	// Password, when set, is used instead of resolving the account's
	// password (the daemon may hold it already).
	Password config.Secret
	// Now returns the current time (for delete_after); nil means time.Now.
	Now func() time.Time
}

// Result tells what one poll did.
type Result struct {
	Messages   int   // messages on the server at login
	New        int   // messages this device had not stored before the poll
	Downloaded int   // messages stored durably and recorded by this poll
	Deleted    int   // messages removed from the server at QUIT
	Bytes      int64 // bytes written into the Maildir
	Recovered  int   // messages of an interrupted poll found published and recorded
	// UIDL is false when the server has no UIDL and messages were
	// identified by a hash of their headers (TOP n 0).
	UIDL bool
	// LoginDelay is the minimum time between logins the server asks for
	// (CAPA LOGIN-DELAY), zero when it asks for none. The daemon should
	// not poll more often.
	LoginDelay time.Duration
	// Errors lists per-message failures (the server refused RETR or DELE,
	// a listing line was garbage, a policy was held back). Those messages
	// stay on the server and are tried again at the next poll.
	Errors []MessageError
}

// MessageError is a problem with one message (Num 0: with the listing).
type MessageError struct {
	Num  int    // message number in the session
	UIDL string // the message's identifier, when known
	Err  error
}

// Error implements error.
func (e MessageError) Error() string {
	if e.UIDL != "" {
		return fmt.Sprintf("message %d (%s): %v", e.Num, e.UIDL, e.Err)
	}
	return fmt.Sprintf("message %d: %v", e.Num, e.Err)
}

// storeItem is one message of a store op.
type storeItem struct {
	UIDL string `json:"uidl"`
	Key  string `json:"key"`
}

// crashHook, when set by tests, runs at each step of a poll ("retr",
// "intent", "publish", "record", "dele", "quit") so a test can kill the
// process there.
var crashHook func(step string)

func hook(step string) {
	if crashHook != nil {
		crashHook(step)
	}
}

// SyncAccount opens the account's Maildir with its layout and polls once.
// It is what `mailmirror sync` runs for a POP3 account, and what the daemon
// runs every poll_interval. cfg is the configuration the account belongs
// to.
func SyncAccount(ctx context.Context, cfg *config.Config, acct *config.Account, db *state.DB) (Result, error) {
	_ = cfg
	store, err := maildir.Open(acct.Maildir, acct.Layout)
	if err != nil {
		return Result{}, fmt.Errorf("pop3: account %q: %w", acct.Name, err)
	}
	return Poll(ctx, acct, store, db, nil)
}

// serverMsg is one message of the server's listing.
type serverMsg struct {
	num int
	id  string // UIDL, or hashPrefix + header hash; made unique (see listing)
	dup bool   // its UIDL was shared with another message: never DELE it
}

// Poll runs one poll of a POP3 account: it resolves what an interrupted
// poll left, connects, lists the messages (UIDL, or a hash of TOP n 0
// headers when the server has no UIDL), downloads those this device has not
// stored into the account's folder (pipelined, in durable batches), records
// them, then sends the DELE commands the account's policies ask for and
// QUIT. Per-message failures go to Result.Errors; the error is for failures
// of the whole poll (connection, login, local disk, state DB), and then
// Result still counts what was done.
func Poll(ctx context.Context, acct *config.Account, store *maildir.Store, db *state.DB, opts *Options) (res Result, err error) {
	if opts == nil {
		opts = &Options{}
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	folderName := acct.Folder
	if folderName == "" {
		folderName = maildir.Inbox
	}
	wrap := func(err error) error {
		if err == nil {
			return nil
		}
		return fmt.Errorf("pop3: account %q: %w", acct.Name, err)
	}
	folder, err := store.Folder(folderName)
	if err != nil {
		return res, wrap(err)
	}
	cleanTmp(folder, now())

	// Resolve what an interrupted poll left.
	ops, err := db.Ops(acct.Name)
	if err != nil {
		return res, wrap(err)
	}
	var deleOps []state.Op
	for _, op := range ops {
		switch op.Kind {
		case OpStore:
			n, err := resolveStore(store, db, acct.Name, op)
			res.Recovered += n
			if err != nil {
				return res, wrap(err)
			}
		case OpDele:
			deleOps = append(deleOps, op)
		}
	}

	pass := opts.Password
	if pass == "" {
		pass, err = acct.ResolvePassword(ctx)
		if err != nil {
			return res, wrap(err)
		}
	}
	// Load what this device has stored while the server greets and logs
	// us in.
	type knownResult struct {
		m   map[string]state.UIDL
		err error
	}
	knownCh := make(chan knownResult, 1)
	go func() {
		m, err := db.POP3UIDLs(acct.Name)
		knownCh <- knownResult{m, err}
	}()
	waitKnown := func() (map[string]state.UIDL, error) {
		if knownCh == nil {
			return nil, errors.New("known UIDLs already taken")
		}
		r := <-knownCh
		knownCh = nil
		return r.m, r.err
	}
	defer func() {
		if knownCh != nil {
			<-knownCh
		}
	}()
	c, err := DialAccount(ctx, acct, opts.Timeout)
	if err != nil {
		return res, err
	}
	defer c.Abort()
	stop := context.AfterFunc(ctx, c.Abort)
	defer stop()
	ctxErr := func(err error) error {
		if ctx.Err() != nil {
			return fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return err
	}
	if opts.Window > 0 {
		c.SetWindow(opts.Window)
	}
	if err := c.Login(acct.Username, pass); err != nil {
		return res, wrap(ctxErr(err))
	}
	known, err := waitKnown()
	if err != nil {
		return res, wrap(err)
	}
	msgs, useUIDL, complete, err := listing(c, &res, schemeOf(known))
	if err != nil {
		return res, wrap(ctxErr(err))
	}
	res.UIDL = useUIDL
	if caps, _ := c.Capabilities(); len(caps["LOGIN-DELAY"]) > 0 {
		if n, err := strconv.Atoi(caps["LOGIN-DELAY"][0]); err == nil && n > 0 {
			res.LoginDelay = time.Duration(n) * time.Second
		}
	}
	res.Messages = len(msgs)
	onServer := make(map[string]bool, len(msgs))
	for _, m := range msgs {
		onServer[m.id] = true
	}
	marked, err := resolveDele(db, deleOps, onServer)
	if err != nil {
		return res, wrap(err)
	}
	for _, id := range marked {
		if u, ok := known[id]; ok {
			u.Deleted = true
			known[id] = u
		}
	}
	// Forget the messages this device deleted once the server confirms
	// they are gone (only from a listing known to be complete: a message
	// missing from a partial listing must stay known, or it would be
	// downloaded again when it reappears).
	if complete {
		var gone []string
		for id, u := range known {
			if u.Deleted && !onServer[id] {
				gone = append(gone, id)
				delete(known, id)
			}
		}
		if len(gone) > 0 {
			if err := db.ForgetPOP3UIDLs(acct.Name, gone); err != nil {
				return res, wrap(err)
			}
		}
	}

	// Download what this device has not stored.
	var fresh []serverMsg
	for _, m := range msgs {
		if _, ok := known[m.id]; !ok {
			fresh = append(fresh, m)
		}
	}
	res.New = len(fresh)
	stored, dlErr := download(c, db, acct.Name, folder, fresh, opts, now, &res)
	for _, u := range stored {
		known[u.UIDL] = u
	}
	if dlErr != nil {
		// Messages published and recorded so far stay recorded; the
		// connection is given up without QUIT, so nothing is deleted.
		return res, wrap(ctxErr(dlErr))
	}

	// Deletion policies.
	dele, err := chooseDeletions(acct, folder, msgs, known, now(), &res)
	if err != nil {
		return res, wrap(err)
	}
	if len(dele) == 0 {
		if err := c.Quit(); err != nil {
			return res, wrap(ctxErr(err))
		}
		return res, nil
	}
	uidls := make([]string, len(dele))
	nums := make([]int, len(dele))
	for i, m := range dele {
		uidls[i], nums[i] = m.id, m.num
	}
	data, _ := jsonMarshal(uidls)
	opID, err := db.AddOp(state.Op{Account: acct.Name, Kind: OpDele, Folder: folder.Name, Data: data, Created: now()})
	if err != nil {
		return res, wrap(err)
	}
	refused, err := c.DeleEach(nums)
	if err != nil {
		return res, wrap(ctxErr(err))
	}
	hook("dele")
	var done []string
	for _, m := range dele {
		if e := refused[m.num]; e != nil {
			res.Errors = append(res.Errors, MessageError{Num: m.num, UIDL: m.id, Err: e})
			continue
		}
		done = append(done, m.id)
	}
	if err := c.Quit(); err != nil {
		// The server may or may not have removed them: the op stays and
		// the next poll's listing tells.
		return res, wrap(ctxErr(err))
	}
	hook("quit")
	if err := db.MarkPOP3Deleted(acct.Name, done); err != nil {
		return res, wrap(err)
	}
	if err := db.DeleteOp(opID); err != nil {
		return res, wrap(err)
	}
	res.Deleted = len(done)
	return res, nil
}

// Ways of identifying messages: by UIDL, or by a hash of the header for
// servers without UIDL.
type idScheme int

const (
	schemeAny  idScheme = iota // nothing stored yet: the server's capabilities decide
	schemeUIDL                 // what is stored is keyed by UIDL
	schemeHash                 // what is stored is keyed by header hashes
)

// hashPrefix starts the identifier of a message known by its header hash.
// A UIDL cannot contain a space, so it never collides with one.
const hashPrefix = "hdr "

// schemeOf tells how the stored messages were identified. The scheme
// sticks: switching would make every stored message look new.
func schemeOf(known map[string]state.UIDL) idScheme {
	if len(known) == 0 {
		return schemeAny
	}
	for id := range known {
		if !strings.HasPrefix(id, hashPrefix) {
			return schemeUIDL
		}
	}
	return schemeHash
}

// listing returns the server's messages with unique identifiers: UIDL, or
// a hash of each message's header (TOP n 0) for a server without UIDL (one
// that does not list it in CAPA, or answers UIDL with a plain -ERR and has
// no CAPA) and for an account whose stored messages were identified that
// way. A UIDL refused by a server that has it, or refused once messages
// were stored under their UIDLs, is an error, never a reason to switch to
// hashes (which would store every message again). A UIDL listed for
// several messages gets " #2", " #3"... appended (a space cannot occur in
// a real UIDL) for the second and later ones, and all of them are marked
// dup so that no policy deletes them.
//
// complete is false when some message may be missing from the list (a
// malformed UIDL line, a TOP refused).
func listing(c *Client, res *Result, scheme idScheme) (msgs []serverMsg, useUIDL, complete bool, err error) {
	var list []MessageUIDL
	var info Listing
	useUIDL, complete = scheme != schemeHash, true
	if useUIDL {
		list, info, err = c.UIDL()
		if err != nil {
			var se *ServerError
			if !errors.As(err, &se) || scheme == schemeUIDL || se.Code != "" {
				return nil, false, false, err
			}
			caps, capErr := c.Capabilities()
			if capErr == nil && caps.Has("UIDL") {
				return nil, false, false, err
			}
			useUIDL = false
		}
	}
	if !useUIDL {
		errs := len(res.Errors)
		list, err = topHashes(c, res)
		if err != nil {
			return nil, false, false, err
		}
		complete = len(res.Errors) == errs
	}
	if info.Skipped > 0 {
		complete = false
		res.Errors = append(res.Errors, MessageError{Err: fmt.Errorf("%w: %d malformed UIDL lines ignored", ErrProtocol, info.Skipped)})
	}
	count := map[string]int{}
	for _, m := range list {
		count[m.UIDL]++
	}
	seen := map[string]int{}
	out := make([]serverMsg, 0, len(list))
	for _, m := range list {
		seen[m.UIDL]++
		id := m.UIDL
		if k := seen[m.UIDL]; k > 1 {
			id += " #" + strconv.Itoa(k)
		}
		out = append(out, serverMsg{num: m.Num, id: id, dup: count[m.UIDL] > 1})
	}
	return out, useUIDL, complete, nil
}

// topHashes identifies messages by the SHA-256 of their header, for servers
// without UIDL.
func topHashes(c *Client, res *Result) ([]MessageUIDL, error) {
	n, _, err := c.Stat()
	if err != nil {
		return nil, err
	}
	nums := make([]int, n)
	for i := range nums {
		nums[i] = i + 1
	}
	var out []MessageUIDL
	unsupported := false
	err = c.TopEach(nums, 0, func(num int, body io.Reader, err error) error {
		if err != nil {
			if num == 1 {
				unsupported = true
				return fmt.Errorf("%w: no UIDL and no TOP: %w", ErrUnsupported, err)
			}
			res.Errors = append(res.Errors, MessageError{Num: num, Err: err})
			return nil
		}
		h := sha256.New()
		if _, err := io.Copy(h, body); err != nil {
			return err
		}
		out = append(out, MessageUIDL{Num: num, UIDL: hashPrefix + hex.EncodeToString(h.Sum(nil)[:16])})
		return nil
	})
	if err != nil && !unsupported {
		return nil, err
	}
	return out, err
}

// download streams the messages fresh into folder in batches and returns
// the records it made. Messages are received on this goroutine; each full
// batch goes to a committer goroutine that publishes and records it (steps
// 2 to 4 above) while the next batch is received. At most one batch is
// being committed and one waiting, so memory stays bounded.
func download(c *Client, db *state.DB, account string, folder *maildir.Folder, fresh []serverMsg,
	opts *Options, now func() time.Time, res *Result) ([]state.UIDL, error) {
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
	ids := make(map[int]string, len(fresh))
	for i, m := range fresh {
		nums[i] = m.num
		ids[m.num] = m.id
	}
	buf := make([]byte, 64<<10)
	files := newTmpFiles(folder, len(fresh), tmpAhead)
	defer files.close()
	err := c.RetrEach(nums, func(num int, body io.Reader, err error) error {
		if err != nil {
			res.Errors = append(res.Errors, MessageError{Num: num, UIDL: ids[num], Err: err})
			return nil
		}
		if err := cm.failed(); err != nil {
			return err
		}
		w, err := files.next()
		if err != nil {
			return err
		}
		n, err := io.CopyBuffer(w, body, buf)
		if err != nil {
			w.Abort()
			return fmt.Errorf("message %d: %w", num, err)
		}
		if err := cur.batch.Add(w, "", time.Time{}); err != nil {
			return err
		}
		cur.items = append(cur.items, storeItem{UIDL: ids[num], Key: w.Key()})
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
		uidls[i] = state.UIDL{UIDL: it.UIDL, Key: it.Key, FirstSeen: t}
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

// chooseDeletions applies the account's policies to the messages on the
// server that this device has recorded as stored.
func chooseDeletions(acct *config.Account, folder *maildir.Folder, msgs []serverMsg,
	known map[string]state.UIDL, now time.Time, res *Result) ([]serverMsg, error) {
	byAge := acct.DeleteAfter > 0
	if acct.LeaveOnServer && !byAge && !acct.DeleteWhenDeletedLocally {
		return nil, nil
	}
	var local map[string]bool
	if acct.DeleteWhenDeletedLocally {
		ents, err := folder.Scan()
		if err != nil {
			return nil, err
		}
		local = make(map[string]bool, len(ents))
		for _, e := range ents {
			local[e.Key] = true
		}
		// A folder that lost every message this device stored looks like
		// a wiped or moved Maildir, not like a user's deletions: refuse to
		// empty the server because of it.
		recordedHere, missing := 0, 0
		for _, m := range msgs {
			if u, ok := known[m.id]; ok && u.Key != "" {
				recordedHere++
				if !local[u.Key] {
					missing++
				}
			}
		}
		if recordedHere >= wipeGuard && missing == recordedHere {
			res.Errors = append(res.Errors, MessageError{Err: fmt.Errorf(
				"delete_when_deleted_locally: all %d stored messages are missing from %s: not deleting them from the server",
				missing, folder.Path)})
			local = nil
		}
	}
	var out []serverMsg
	for _, m := range msgs {
		u, ok := known[m.id]
		if !ok || m.dup {
			continue
		}
		switch {
		case !acct.LeaveOnServer:
		case byAge && !u.FirstSeen.IsZero() && now.Sub(u.FirstSeen) >= acct.DeleteAfter:
		case local != nil && u.Key != "" && !local[u.Key]:
		default:
			continue
		}
		out = append(out, m)
	}
	return out, nil
}

// wipeGuard is how many stored messages must all be missing locally before
// delete_when_deleted_locally suspects a wiped Maildir.
const wipeGuard = 10
