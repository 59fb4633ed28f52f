package daemon

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailmirror/mailmirror/imapconn"
	"github.com/mailmirror/mailmirror/syncer"
)

// idler keeps one IDLE connection on one folder and turns the server's
// pushes into work for the account: EXISTS, FETCH FLAGS and EXPUNGEs it
// can map to their UIDs into a targeted pull of the folder (syncer.PullNew,
// which falls back to a pass when more changed), an EXPUNGE it cannot map
// into a pass. A watchdog ends IDLE every
// min(WatchdogInterval, IdleRefresh), sends a NOOP and closes the
// connection when the server does not answer within WatchdogTimeout
// (go-imap's Wait has no timeout of its own); the idler then reconnects
// with backoff and asks for a pass, since pushes may have been missed.
type idler struct {
	a      *account
	folder string // local name
	remote string // server name
	cancel context.CancelFunc
	done   chan struct{}
	kickCh chan struct{} // cap 1: reconnect now

	mu         sync.Mutex
	connected  bool
	lastErr    string
	reconnects int
	offered    *lease // the connection, lent out for the pull of new mail
}

// lease lends an idler's connection, out of IDLE and with its folder still
// selected read-only, to the targeted pull of the new messages it announced
// (syncer.Pushed.Conn): that session has caught up with the folder already,
// which a pooled connection's has not (on Dovecot's Maildir, catching up
// costs time in proportion to the folder's size).
type lease struct {
	conn  *imapconn.Conn
	state atomic.Int32  // leaseOffered, leaseTaken or leaseWithdrawn
	done  chan struct{} // closed when the taker gives it back
	once  sync.Once
}

const (
	leaseOffered = iota
	leaseTaken
	leaseWithdrawn
)

// leaseWait is how long an idler waits for its offered connection to be
// taken before it idles again (the pull then takes a pooled connection).
const leaseWait = time.Second

// giveBack ends a taken lease; it may be called more than once, and on a
// nil lease.
func (l *lease) giveBack() {
	if l != nil {
		l.once.Do(func() { close(l.done) })
	}
}

// takeLease takes the connection the idler of folder offers, if any: the
// caller must giveBack the lease once the pull is over.
func (a *account) takeLease(folder string) *lease {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, i := range a.idlers {
		if i.folder != folder {
			continue
		}
		i.mu.Lock()
		l := i.offered
		i.offered = nil
		i.mu.Unlock()
		if l != nil && l.state.CompareAndSwap(leaseOffered, leaseTaken) {
			return l
		}
	}
	return nil
}

// lend offers the connection (out of IDLE) for the pull of the new
// messages p announced, hands p to the account, and waits until the pull
// gave it back, or leaseWait when nobody took it. The pushes the pull's
// own commands brought in (the EXISTS of the messages it pulled) are not
// handed on again; a flag change, an expunge, or a message count the
// state does not have yet is.
func (i *idler) lend(ctx context.Context, c *imapconn.Conn, p *pushes) error {
	l := &lease{conn: c, done: make(chan struct{})}
	p.fetched.Store(false)
	i.mu.Lock()
	i.offered = l
	i.mu.Unlock()
	i.notify(p)
	t := time.NewTimer(leaseWait)
	defer t.Stop()
	select {
	case <-l.done:
	case <-t.C:
	case <-ctx.Done():
	case <-c.Closed():
	}
	i.mu.Lock()
	if i.offered == l {
		i.offered = nil
	}
	i.mu.Unlock()
	if l.state.CompareAndSwap(leaseOffered, leaseWithdrawn) {
		return nil // not taken: what was pushed went to the account
	}
	select { // taken: the pull is on it
	case <-l.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if c.Selected() != i.remote || !c.ReadOnly() {
		return fmt.Errorf("the connection lent for a pull came back with %q selected", c.Selected())
	}
	select {
	case <-p.signal:
	default:
	}
	p.goneMu.Lock()
	gone := len(p.gone) > 0
	p.goneMu.Unlock()
	if gone || p.other.Load() || p.fetched.Swap(false) || i.countChanged(c) {
		i.notify(p)
	}
	return nil
}

// countChanged reports whether the session's message count differs from
// what the state recorded for the folder.
func (i *idler) countChanged(c *imapconn.Conn) bool {
	f, ok, err := i.a.d.db.Folder(i.a.cfg.Name, i.folder)
	mb := c.Mailbox()
	return err != nil || !ok || mb == nil || mb.NumMessages != f.Messages
}

// errReconnect ends a session on request (clock jump, network change).
var errReconnect = errors.New("reconnect requested")

func newIdler(a *account, folder, remote string) *idler {
	return &idler{a: a, folder: folder, remote: remote, done: make(chan struct{}), kickCh: make(chan struct{}, 1)}
}

func (i *idler) status() IdleStatus {
	i.mu.Lock()
	defer i.mu.Unlock()
	return IdleStatus{Folder: i.folder, Connected: i.connected, Error: i.lastErr, Reconnects: i.reconnects}
}

// reconnect asks for a new connection now; it never blocks.
func (i *idler) reconnect() {
	select {
	case i.kickCh <- struct{}{}:
	default:
	}
}

// stop ends the idler and waits for it.
func (i *idler) stop() {
	i.cancel()
	<-i.done
}

// start runs the idler until ctx ends or stop is called.
func (i *idler) start(ctx context.Context) {
	ctx, i.cancel = context.WithCancel(ctx)
	go i.run(ctx)
}

func (i *idler) run(ctx context.Context) {
	defer close(i.done)
	o := &i.a.d.opts
	bo := backoff{min: o.BackoffMin, max: o.BackoffMax}
	log := i.a.log.With("folder", i.folder)
	for attempt := 0; ; attempt++ {
		start := time.Now()
		established, err := i.session(ctx, attempt > 0)
		i.mu.Lock()
		i.connected = false
		if err != nil && ctx.Err() == nil {
			i.lastErr = err.Error()
		}
		i.mu.Unlock()
		if ctx.Err() != nil {
			return
		}
		var wait time.Duration
		switch {
		case errors.Is(err, errReconnect):
			bo.reset()
		case errors.Is(err, imapconn.ErrAuth):
			wait = bo.toMax()
		case established && time.Since(start) > stableSession:
			// It worked for a while: reconnect at once.
			bo.reset()
		default:
			wait = bo.next()
		}
		log.Info("IDLE connection lost; reconnecting", "err", err, "retry_in", wait.Round(time.Millisecond))
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-i.kickCh:
				t.Stop()
				bo.reset()
			case <-t.C:
			}
		}
	}
}

// stableSession is how long a session must have lasted for a lost
// connection to be retried without waiting.
const stableSession = 10 * time.Second

// pushes collects what the server pushes on one IDLE connection. Its
// handler's callbacks run on the client's reader goroutine (Fetch: a
// goroutine of its own): only non-blocking sends there, never a client
// command.
type pushes struct {
	signal chan struct{} // cap 1: something was pushed
	// other is set when a push needs a full pass (an expunge of a message
	// whose UID is not known); new messages, flag changes and expunges
	// mapped to their UIDs (gone) are pulled on their own.
	other atomic.Bool
	// fetched is set by a FETCH pushed outside a command of ours (a flag
	// change), for lend.
	fetched atomic.Bool
	seqs    seqMap
	goneMu  sync.Mutex
	gone    []uint32
}

func newPushes() *pushes { return &pushes{signal: make(chan struct{}, 1)} }

func (p *pushes) pushed() {
	select {
	case p.signal <- struct{}{}:
	default:
	}
}

// handler is the connection's unilateral data handler.
func (p *pushes) handler() *imapclient.UnilateralDataHandler {
	return &imapclient.UnilateralDataHandler{
		Expunge: func(seq uint32) {
			if uid, ok := p.seqs.expunge(seq); ok {
				p.goneMu.Lock()
				p.gone = append(p.gone, uid)
				p.goneMu.Unlock()
			} else {
				p.other.Store(true)
			}
			p.pushed()
		},
		Mailbox: func(m *imapclient.UnilateralDataMailbox) {
			if m.NumMessages != nil {
				p.seqs.exists(*m.NumMessages)
				p.pushed()
			}
		},
		Fetch: func(m *imapclient.FetchMessageData) {
			m.Collect() // drain, or the reader blocks
			p.fetched.Store(true)
			p.pushed()
		},
	}
}

// forget drops what was pushed so far (what a SELECT itself pushes).
func (p *pushes) forget() {
	select {
	case <-p.signal:
	default:
	}
	p.other.Store(false)
}

// notify hands what was pushed to the account: a full pass when an
// expunge could not be named, else a pull of the folder with the UIDs
// seen expunged.
func (i *idler) notify(p *pushes) {
	p.goneMu.Lock()
	uids := p.gone
	p.gone = nil
	p.goneMu.Unlock()
	if p.other.Swap(false) {
		i.a.kick()
	} else {
		i.a.kickNew(syncer.Pushed{Folder: i.folder, Expunged: uids})
	}
}

// session connects, selects the folder read-only and idles until an error.
// established reports whether it got as far as idling.
func (i *idler) session(ctx context.Context, reconnect bool) (established bool, err error) {
	o := &i.a.d.opts
	pw, err := i.a.secret(ctx)
	if err != nil {
		return false, fmt.Errorf("password: %w", err)
	}
	p := newPushes()
	c, err := imapconn.Dial(ctx, i.a.cfg, imapconn.DialOptions{Password: pw, Handler: p.handler(), Timeout: o.WatchdogTimeout, Link: i.a.link})
	if err != nil {
		return false, err
	}
	defer c.Close()
	// Close the connection when ctx ends, wherever we are.
	stopAfter := context.AfterFunc(ctx, func() { c.Close() })
	defer stopAfter()

	if err := i.examine(c, p, reconnect); err != nil {
		return false, err
	}
	// Connected from here on: every change from now on is pushed.
	i.mu.Lock()
	i.connected = true
	i.lastErr = ""
	if reconnect {
		i.reconnects++
	}
	i.mu.Unlock()
	for {
		if err := i.idleCycle(ctx, c, p); err != nil {
			return true, err
		}
	}
}

// examine selects the folder read-only, asks for a pass when it changed
// since the last one (or after a reconnect: pushes may have been missed),
// and fills the sequence → UID map for the EXPUNGEs to come (those pushed
// meanwhile take a full pass).
func (i *idler) examine(c *imapconn.Conn, p *pushes, reconnect bool) error {
	if !c.Caps().Has(imap.CapIdle) && !c.Caps().Has(imap.CapIMAP4rev2) {
		return fmt.Errorf("the server does not support IDLE")
	}
	sel, err := c.Reexamine(i.remote) // read-only, CONDSTORE where offered; c knows it (lease)
	if err != nil {
		return err
	}
	p.forget()
	p.seqs.exists(sel.NumMessages)
	// Changes between the last pass and this SELECT were not pushed.
	if reconnect || i.changedSinceState(sel) {
		i.a.log.Debug("IDLE connected: a pass for the changes since the last one", "folder", i.folder)
		i.a.kick()
	}
	uids, err := syncer.FolderUIDs(c, sel.NumMessages)
	if err != nil {
		return fmt.Errorf("list the UIDs of %q: %w", i.remote, err)
	}
	p.seqs.reset(uids)
	return nil
}

// idleCycle idles until the cycle is over (the watchdog's turn), the UIDs
// of new messages are to be learnt, or the session is to end; then ends
// IDLE under the watchdog and fills the sequence map. Every push is handed
// to the account as it arrives. A nil error: idle again.
func (i *idler) idleCycle(ctx context.Context, c *imapconn.Conn, p *pushes) error {
	o := &i.a.d.opts
	cycle := min(o.WatchdogInterval, o.IdleRefresh)
	// While idling, the server may stay silent for a whole cycle.
	c.SetTimeout(cycle + o.WatchdogTimeout)
	cmd, err := c.Idle()
	if err != nil {
		return fmt.Errorf("IDLE: %w", err)
	}
	reason, lend, err := i.waitIdle(ctx, c, cmd, p, cycle)
	if err != nil {
		return err
	}
	if err := i.endIdle(c, cmd, reason, lend); err != nil {
		return err
	}
	if lend {
		if err := i.lend(ctx, c, p); err != nil {
			return err
		}
	}
	// UIDs of the messages that arrived since the map was filled.
	if err := i.fillSeqs(c, &p.seqs); err != nil {
		return err
	}
	// A push that arrived while we were stopping IDLE.
	select {
	case <-p.signal:
		i.notify(p)
	default:
	}
	return nil
}

// waitIdle waits while IDLE runs, handing each push to the account. It
// returns when the cycle is over or new messages' UIDs are to be learnt
// (both nil), with lend when new messages are to be pulled over this
// connection (lend: not handed to the account yet), with the reason when
// the session is to end (ctx, a reconnect request), or with an error when
// the connection closed.
func (i *idler) waitIdle(ctx context.Context, c *imapconn.Conn, cmd *imapclient.IdleCommand, p *pushes, cycle time.Duration) (reason error, lend bool, err error) {
	t := time.NewTimer(cycle)
	defer t.Stop()
	var fill <-chan time.Time
	for {
		select {
		case <-p.signal:
			i.a.log.Debug("IDLE push", "folder", i.folder)
			if _, n := p.seqs.unknown(); n > 0 && !p.other.Load() && c.CondStore() {
				// New messages: this session has caught up with
				// the folder, so the pull goes over it (lend).
				return nil, true, nil
			}
			i.notify(p)
			if _, n := p.seqs.unknown(); n > 0 && fill == nil {
				// Leave IDLE a little later to learn the new
				// messages' UIDs, so that their expunges map too
				// (not at once: the pull of the new messages would
				// wait for this session's hold on the folder).
				fill = time.After(i.a.d.opts.SeqFillDelay)
			}
			continue
		case <-fill:
		case <-t.C:
		case <-ctx.Done():
			reason = ctx.Err()
		case <-i.kickCh:
			reason = errReconnect
		case <-c.Closed():
			return nil, false, fmt.Errorf("IDLE: connection closed: %w", connErr(cmd))
		}
		return reason, false, nil
	}
}

// endIdle ends IDLE and, unless the session is to end (reason) or the
// connection is to be lent (the pull's own NOOP comes next), sends a
// NOOP. Watchdog: the server must answer both within WatchdogTimeout, or
// the connection is closed (and the link's pooled connections are
// suspect). It returns reason, or why the connection is no good.
func (i *idler) endIdle(c *imapconn.Conn, cmd *imapclient.IdleCommand, reason error, lend bool) error {
	o := &i.a.d.opts
	c.SetTimeout(o.WatchdogTimeout)
	dog := time.AfterFunc(o.WatchdogTimeout, func() { c.MarkDead() })
	err := cmd.Close()
	if err == nil {
		err = cmd.Wait()
	}
	if err == nil && reason == nil && !lend {
		err = c.Noop().Wait()
	}
	stopped := dog.Stop()
	if reason != nil {
		return reason
	}
	if !stopped {
		return fmt.Errorf("watchdog: no answer to DONE and NOOP within %s", o.WatchdogTimeout)
	}
	if err != nil {
		// Usually the read deadline set above: the same check.
		return fmt.Errorf("watchdog: DONE and NOOP failed: %w", err)
	}
	return nil
}

// connErr is the error an IDLE command ended with, if any.
func connErr(cmd *imapclient.IdleCommand) error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return err
		}
	case <-time.After(time.Second):
	}
	return errors.New("closed by the server")
}

// changedSinceState reports whether the folder's counters differ from what
// the state recorded at the last pass.
func (i *idler) changedSinceState(sel *imap.SelectData) bool {
	f, ok, err := i.a.d.db.Folder(i.a.cfg.Name, i.folder)
	if err != nil || !ok {
		return true
	}
	if sel.UIDValidity != f.UIDValidity || uint32(sel.UIDNext) != f.UIDNext || sel.NumMessages != f.Messages {
		return true
	}
	return sel.HighestModSeq != 0 && sel.HighestModSeq != f.HighestModSeq
}

// fillSeqs fetches the UIDs of the messages the sequence map does not know
// (those new since it was filled). A FETCH by sequence number: the server
// sends no EXPUNGE during it, so the numbers hold.
func (i *idler) fillSeqs(c *imapconn.Conn, seqs *seqMap) error {
	from, n := seqs.unknown()
	if n == 0 {
		return nil
	}
	var set imap.SeqSet
	set.AddRange(from, 0)
	msgs, err := c.Fetch(set, &imap.FetchOptions{UID: true}).Collect()
	if err != nil {
		return fmt.Errorf("fetch new UIDs: %w", err)
	}
	uids := make([]uint32, 0, len(msgs))
	for k, m := range msgs {
		if m.SeqNum != from+uint32(k) || m.UID == 0 {
			return nil // not in order: leave the tail unknown
		}
		uids = append(uids, uint32(m.UID))
	}
	seqs.fill(from, uids)
	return nil
}
