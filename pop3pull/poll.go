package pop3pull

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
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
//
// A poll makes progress past a message the server cannot send: see
// failures.go. It is bounded as a whole (Options.PollTimeout), not only
// read by read.

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

// The bound of a poll when Options.PollTimeout is zero: pollBoundBase,
// plus the time the whole maildrop (STAT) takes at pollBoundRate.
const (
	pollBoundBase = 5 * time.Minute
	pollBoundRate = 8 << 10 // bytes per second
)

// maxReconnects is how many times one poll logs in again after the
// connection broke in the middle of a message, to fetch the others.
const maxReconnects = 3

// tmpMaxAge is how old a file in tmp/ must be before a poll removes it
// (the Maildir convention: 36 hours).
const tmpMaxAge = 36 * time.Hour

// ErrPollTimeout means a poll ran longer than its overall bound
// (Options.PollTimeout) and was cut off; what it stored is kept.
var ErrPollTimeout = errors.New("pop3: the poll took too long")

// ErrMaildirMissing means the account's Maildir folder (or its whole root)
// is missing although this device stored messages in it: an unmounted
// disk, most likely. Nothing is fetched or deleted until it is back.
var ErrMaildirMissing = errors.New("the Maildir is missing")

// Options tune a poll. A nil *Options means the defaults.
type Options struct {
	// Timeout bounds every read and write on the connection; zero means
	// DefaultTimeout.
	Timeout time.Duration
	// PollTimeout bounds the whole poll, logins and transfers included.
	// Zero derives it from the maildrop's size: 5 minutes plus the time
	// its bytes take at 8 KiB/s.
	PollTimeout time.Duration
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
	// Now returns the current time (for delete_after and the back-off of
	// failing messages); nil means time.Now.
	Now func() time.Time
	// Early, when set, is the first session DialEarly started for this
	// account: the poll uses it (and its password) instead of dialling
	// and logging in, and closes it when it ends before.
	Early *Early
}

// Result tells what one poll did.
type Result struct {
	Messages   int   // messages on the server at login
	New        int   // messages this device had not stored before the poll
	Downloaded int   // messages stored durably and recorded by this poll
	Deleted    int   // messages removed from the server at QUIT
	Bytes      int64 // bytes written into the Maildir
	Recovered  int   // messages of an interrupted poll found published and recorded
	// NotFetched counts the messages on the server this device has still
	// not stored after the poll: refused or broken downloads, messages
	// waiting for their back-off, messages without a usable UIDL.
	NotFetched int
	// UIDL is false when the server has no UIDL and messages were
	// identified by a hash of their headers (TOP n 0).
	UIDL bool
	// LoginDelay is the minimum time between logins the server asks for
	// (CAPA LOGIN-DELAY), zero when it asks for none. The daemon should
	// not poll more often.
	LoginDelay time.Duration
	// Errors lists the problems of the poll, one each: messages not
	// fetched (refused, broken, waiting, stuck), listing lines that were
	// garbage, DELE refused, a policy held back. Those messages stay on
	// the server and are tried again later. The same lines are kept in
	// the state DB (state.DB.POP3Problems) for `mailmirror status`.
	Errors []MessageError
}

// Summary is a one-line account of a poll: "pop3: 3 new, 0 deleted on the
// server, 9 on the server, 1 not fetched, 1 problem".
func Summary(res Result) string {
	out := fmt.Sprintf("pop3: %d new, %d deleted on the server, %d on the server", res.Downloaded, res.Deleted, res.Messages)
	if res.NotFetched > 0 {
		out += fmt.Sprintf(", %d not fetched", res.NotFetched)
	}
	switch n := len(res.Errors); n {
	case 0:
	case 1:
		out += ", 1 problem"
	default:
		out += fmt.Sprintf(", %d problems", n)
	}
	return out
}

// MessageError is a problem with one message (Num 0: with the listing or
// the account as a whole).
type MessageError struct {
	Num  int    // message number in the session
	UIDL string // the message's identifier as stored (escaped), when known
	Err  error
}

// Error implements error.
func (e MessageError) Error() string {
	switch {
	case e.UIDL != "":
		return fmt.Sprintf("message %d (UIDL %s): %v", e.Num, e.UIDL, e.Err)
	case e.Num > 0:
		return fmt.Sprintf("message %d: %v", e.Num, e.Err)
	}
	return e.Err.Error()
}

// storeItem is one message of a store op.
type storeItem struct {
	UIDL string `json:"uidl"`
	Key  string `json:"key"`
	Hash string `json:"hash,omitempty"` // header hash
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
// to. A Maildir root that is missing while this device stored messages in
// it is not created again (ErrMaildirMissing).
func SyncAccount(ctx context.Context, cfg *config.Config, acct *config.Account, db *state.DB) (Result, error) {
	_ = cfg
	return SyncAccountWith(ctx, acct, db, nil)
}

// SyncAccountWith is SyncAccount with the poll's options (nil: defaults),
// for instance the session DialEarly started.
func SyncAccountWith(ctx context.Context, acct *config.Account, db *state.DB, opts *Options) (Result, error) {
	if opts != nil && opts.Early != nil && opts.Early.acct == acct {
		// Closed by the poll; here only when it does not start.
		defer func() { opts.Early.Close() }()
	}
	if _, err := os.Stat(acct.Maildir); errors.Is(err, os.ErrNotExist) {
		if err := checkStored(db, acct, acct.Maildir, "root"); err != nil {
			return Result{}, fmt.Errorf("pop3: account %q: %w", acct.Name, err)
		}
	}
	store, err := maildir.Open(acct.Maildir, acct.Layout)
	if err != nil {
		return Result{}, fmt.Errorf("pop3: account %q: %w", acct.Name, err)
	}
	return Poll(ctx, acct, store, db, opts)
}

// checkStored fails with ErrMaildirMissing when the account has messages
// stored in the missing directory dir.
func checkStored(db *state.DB, acct *config.Account, dir, what string) error {
	known, err := db.POP3UIDLs(acct.Name)
	if err != nil {
		return err
	}
	n := 0
	for _, u := range known {
		if u.Key != "" && !u.Deleted {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	return fmt.Errorf("%w: the Maildir %s %s does not exist, but this device stored %d messages in it "+
		"(is its disk mounted?); nothing is fetched or deleted from the server until it is back. "+
		"If you removed it on purpose, create the directory again and sync", ErrMaildirMissing, what, dir, n)
}

// serverMsg is one message of the server's listing.
type serverMsg struct {
	num int
	id  string // stored id: UIDL (escaped), UIDL plus content, or hashPrefix + header hash
	dup bool   // its UIDL was shared with another message: never DELE it
}

// poller is the state of one Poll.
type poller struct {
	ctx     context.Context // ends at the poll's bound too
	acct    *config.Account
	store   *maildir.Store
	folder  *maildir.Folder
	db      *state.DB
	opts    *Options
	now     func() time.Time
	pass    config.Secret
	known   map[string]state.UIDL
	failing map[string]state.POP3Failure
	tried   map[string]bool // failed in this poll: not tried again in it
	deleOps []state.Op
	res     *Result
	bound   *time.Timer
	early   *Early // the first session, until taken
}

// Poll runs one poll of a POP3 account: it resolves what an interrupted
// poll left, connects, lists the messages (UIDL, or a hash of TOP n 0
// headers when the server has no UIDL), downloads those this device has not
// stored into the account's folder (pipelined, in durable batches), records
// them, then sends the DELE commands the account's policies ask for and
// QUIT. A message the server cannot send is recorded as failing and the
// others are fetched all the same, after a new login when the connection
// broke. Per-message failures go to Result.Errors (and to the state DB);
// the error is for failures of the whole poll (connection, login, local
// disk, state DB, the overall bound), and then Result still counts what
// was done.
func Poll(ctx context.Context, acct *config.Account, store *maildir.Store, db *state.DB, opts *Options) (res Result, err error) {
	if opts == nil {
		opts = &Options{}
	}
	p := &poller{acct: acct, store: store, db: db, opts: opts, now: time.Now, res: &res, tried: map[string]bool{}}
	if opts.Now != nil {
		p.now = opts.Now
	}
	err = p.run(ctx)
	if err != nil {
		err = fmt.Errorf("pop3: account %q: %w", acct.Name, err)
	}
	res.Errors = dedupe(res.Errors)
	p.saveProblems(err)
	return res, err
}

// run is Poll.
func (p *poller) run(ctx context.Context) error {
	pass := p.opts.Password
	if e := p.opts.Early; e != nil && e.acct == p.acct {
		p.early = e
		defer func() { p.early.Close() }()
		if e.pwErr != nil {
			return e.pwErr
		}
		pass = e.pass
	}
	if err := p.prepare(); err != nil {
		return err
	}
	if pass == "" {
		var err error
		if pass, err = p.acct.ResolvePassword(ctx); err != nil {
			return err
		}
	}
	p.pass = pass
	bound := p.opts.PollTimeout
	if bound <= 0 {
		bound = pollBoundBase
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	p.bound = time.AfterFunc(bound, func() {
		cancel(fmt.Errorf("%w: cut off after %v", ErrPollTimeout, bound))
	})
	defer p.bound.Stop()
	p.ctx = ctx
	known := p.loadKnown()
	defer known.drain()
	for session := 0; ; session++ {
		again, err := p.session(known, session)
		if err != nil || !again {
			return err
		}
	}
}

// prepare opens the folder, cleans tmp/ and resolves what an interrupted
// poll left.
func (p *poller) prepare() error {
	name := p.acct.Folder
	if name == "" {
		name = maildir.Inbox
	}
	f, ok, err := p.store.ExistingFolder(name)
	if err != nil {
		return err
	}
	if !ok {
		if err := checkStored(p.db, p.acct, f.Path, "folder"); err != nil {
			return err
		}
	}
	if p.folder, err = p.store.Folder(name); err != nil {
		return err
	}
	cleanTmp(p.folder, p.now())
	ops, err := p.db.Ops(p.acct.Name)
	if err != nil {
		return err
	}
	for _, op := range ops {
		switch op.Kind {
		case OpStore:
			n, err := resolveStore(p.store, p.db, p.acct.Name, op)
			p.res.Recovered += n
			if err != nil {
				return err
			}
		case OpDele:
			p.deleOps = append(p.deleOps, op)
		}
	}
	return nil
}

// knownLoad loads what this device has stored while the server greets and
// logs us in.
type knownLoad struct {
	ch chan error
}

func (p *poller) loadKnown() *knownLoad {
	k := &knownLoad{ch: make(chan error, 1)}
	go func() {
		var err error
		if p.known, err = p.db.POP3UIDLs(p.acct.Name); err == nil {
			p.failing, err = p.db.POP3Failures(p.acct.Name)
		}
		k.ch <- err
	}()
	return k
}

// wait returns the load's error; after the first call it returns nil.
func (k *knownLoad) wait() error {
	if k.ch == nil {
		return nil
	}
	err := <-k.ch
	k.ch = nil
	return err
}

func (k *knownLoad) drain() { k.wait() }

// dedupe drops problems said twice (by a poll that logged in again).
func dedupe(errs []MessageError) []MessageError {
	seen := map[string]bool{}
	out := errs[:0]
	for _, e := range errs {
		if k := e.Error(); !seen[k] {
			seen[k] = true
			out = append(out, e)
		}
	}
	return out
}

// saveProblems keeps the poll's problems for `mailmirror status`.
func (p *poller) saveProblems(err error) {
	var lines []string
	for _, e := range p.res.Errors {
		lines = append(lines, e.Error())
	}
	if err != nil && len(lines) == 0 && p.known == nil {
		return // nothing known: keep what the last poll reported
	}
	// Most polls have none, as the last one: no write (and no fsync).
	if old, _, err := p.db.POP3Problems(p.acct.Name); err == nil && slices.Equal(old, lines) {
		return
	}
	p.db.SetPOP3Problems(p.acct.Name, lines, p.now())
}

// ctxErr says why the poll's context ended, when it did.
func (p *poller) ctxErr(err error) error {
	if p.ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", context.Cause(p.ctx), err)
	}
	return err
}

// timedOut reports whether the poll's bound cut it off.
func (p *poller) timedOut() bool {
	return p.ctx.Err() != nil && errors.Is(context.Cause(p.ctx), ErrPollTimeout)
}

// session is one login: listing, downloads, deletions, QUIT. again is true
// when the connection broke in the middle of a message and another
// session should fetch the rest.
func (p *poller) session(known *knownLoad, n int) (again bool, err error) {
	c, err := p.login()
	if err != nil {
		return false, &connectError{p.ctxErr(err)}
	}
	defer c.Abort()
	stop := context.AfterFunc(p.ctx, c.Abort)
	defer stop()
	if p.opts.Window > 0 {
		c.SetWindow(p.opts.Window)
	}
	if err := known.wait(); err != nil {
		return false, err
	}
	msgs, err := p.list(c, n == 0)
	if err != nil {
		return false, p.ctxErr(err)
	}
	var fresh []serverMsg
	for _, m := range msgs {
		if _, ok := p.known[m.id]; !ok && !p.tried[m.id] {
			fresh = append(fresh, m)
		}
	}
	if n == 0 {
		p.res.New = len(fresh)
	}
	todo, wait := orderFresh(fresh, p.failing, p.now())
	p.reportWaiting(wait)
	if n == 0 && len(todo) > 0 && p.opts.PollTimeout <= 0 {
		// Downloads to come: the bound grows with the maildrop's size.
		if _, size, err := c.Stat(); err == nil {
			p.bound.Reset(pollBoundBase + time.Duration(size/pollBoundRate)*time.Second)
		}
	}
	stored, dlErr := p.download(c, todo)
	for _, u := range stored {
		p.known[u.UIDL] = u
	}
	p.res.NotFetched = 0
	for _, m := range msgs {
		if _, ok := p.known[m.id]; !ok {
			p.res.NotFetched++
		}
	}
	if dlErr != nil {
		// Messages published and recorded so far stay recorded; the
		// connection is given up without QUIT, so nothing is deleted.
		return p.afterBreak(todo, dlErr, n)
	}
	return false, p.deleteAndQuit(c, msgs)
}

// login connects and logs in, or takes the session DialEarly started.
func (p *poller) login() (*Client, error) {
	if e := p.early; e != nil {
		p.early = nil
		return e.take(p.ctx)
	}
	c, err := dialAccount(p.ctx, p.acct, p.opts.Timeout)
	if err != nil {
		return nil, err
	}
	if err := c.Login(p.acct.Username, p.pass); err != nil {
		c.Abort()
		return nil, err
	}
	return c, nil
}

// afterBreak handles a download that stopped with err: a message the
// connection broke in is recorded as failing, and another session fetches
// the rest when there is more to do.
func (p *poller) afterBreak(todo []serverMsg, err error, n int) (again bool, _ error) {
	var be *BrokenError
	if !errors.As(err, &be) || p.ctx.Err() != nil && !p.timedOut() {
		return false, p.ctxErr(err)
	}
	var m serverMsg
	for _, x := range todo {
		if x.num == be.Num {
			m = x
		}
	}
	if m.id == "" {
		return false, p.ctxErr(err)
	}
	p.tried[m.id] = true
	cause := be.Err
	if p.timedOut() {
		cause = context.Cause(p.ctx)
	}
	if rerr := p.recordFailure(m, cause); rerr != nil {
		return false, rerr
	}
	named := fmt.Errorf("message %d (UIDL %s): %w", m.num, m.id, cause)
	if p.timedOut() {
		return false, named
	}
	more := p.deletes()
	for _, x := range todo {
		if !p.tried[x.id] {
			if _, ok := p.known[x.id]; !ok {
				more = true
			}
		}
	}
	switch {
	case !more:
		return false, nil // the failure is reported; nothing else to do
	case n >= maxReconnects || p.res.LoginDelay > 0:
		return false, named
	}
	return true, nil
}

// deletes reports whether the account's policies may delete anything.
func (p *poller) deletes() bool {
	return !p.acct.LeaveOnServer || p.acct.DeleteAfter > 0 || p.acct.DeleteWhenDeletedLocally
}

// list reads the listing and settles what depends on it: the first
// session's dele ops, records of messages gone from the server, the
// poll's bound.
func (p *poller) list(c *Client, first bool) ([]serverMsg, error) {
	msgs, useUIDL, complete, err := listing(c, p.res, schemeOf(p.known), p.known)
	if err != nil {
		return nil, err
	}
	p.res.UIDL = useUIDL
	if caps, _ := c.Capabilities(); len(caps["LOGIN-DELAY"]) > 0 {
		if n, err := strconv.Atoi(caps["LOGIN-DELAY"][0]); err == nil && n > 0 {
			p.res.LoginDelay = time.Duration(n) * time.Second
		}
	}
	if p.res.Messages < len(msgs) {
		p.res.Messages = len(msgs)
	}
	onServer := make(map[string]bool, len(msgs))
	for _, m := range msgs {
		onServer[m.id] = true
	}
	if first {
		marked, err := resolveDele(p.db, p.deleOps, onServer)
		if err != nil {
			return nil, err
		}
		for _, id := range marked {
			if u, ok := p.known[id]; ok {
				u.Deleted = true
				p.known[id] = u
			}
		}
	}
	// Forget the messages this device deleted once the server confirms
	// they are gone (only from a listing known to be complete: a message
	// missing from a partial listing must stay known, or it would be
	// downloaded again when it reappears).
	if !complete {
		return msgs, nil
	}
	var gone []string
	for id, u := range p.known {
		if u.Deleted && !onServer[id] {
			gone = append(gone, id)
			delete(p.known, id)
		}
	}
	if len(gone) > 0 {
		if err := p.db.ForgetPOP3UIDLs(p.acct.Name, gone); err != nil {
			return nil, err
		}
	}
	return msgs, p.forgetGoneFailures(onServer)
}

// deleteAndQuit sends the DELE commands the policies choose, then QUIT,
// and records the deletions.
func (p *poller) deleteAndQuit(c *Client, msgs []serverMsg) error {
	dele, err := chooseDeletions(p.acct, p.folder, msgs, p.known, p.now(), p.res)
	if err != nil {
		return err
	}
	if len(dele) == 0 {
		return p.ctxErr(c.Quit())
	}
	uidls := make([]string, len(dele))
	nums := make([]int, len(dele))
	for i, m := range dele {
		uidls[i], nums[i] = m.id, m.num
	}
	data, _ := jsonMarshal(uidls)
	opID, err := p.db.AddOp(state.Op{Account: p.acct.Name, Kind: OpDele, Folder: p.folder.Name, Data: data, Created: p.now()})
	if err != nil {
		return err
	}
	refused, err := c.DeleEach(nums)
	if err != nil {
		return p.ctxErr(err)
	}
	hook("dele")
	var done []string
	for _, m := range dele {
		if e := refused[m.num]; e != nil {
			p.res.Errors = append(p.res.Errors, MessageError{Num: m.num, UIDL: m.id, Err: e})
			continue
		}
		done = append(done, m.id)
	}
	if err := c.Quit(); err != nil {
		// The server may or may not have removed them: the op stays and
		// the next poll's listing tells.
		return p.ctxErr(err)
	}
	hook("quit")
	if err := p.db.MarkPOP3Deleted(p.acct.Name, done); err != nil {
		return err
	}
	if err := p.db.DeleteOp(opID); err != nil {
		return err
	}
	p.res.Deleted = len(done)
	return nil
}

// connectError marks a failure before the login succeeded (dial, TLS,
// greeting, login): the only ones where host, port and network are worth
// checking.
type connectError struct{ err error }

func (e *connectError) Error() string { return e.err.Error() }
func (e *connectError) Unwrap() error { return e.err }

// BeforeLogin reports whether err happened before the server accepted the
// login (while connecting, in the TLS handshake, the greeting or the login
// itself), as opposed to later in a session that worked.
func BeforeLogin(err error) bool {
	var ce *connectError
	return errors.As(err, &ce)
}
