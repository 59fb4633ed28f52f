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
// pushes into work for the account: EXISTS alone into a pull of just the
// new UIDs (syncer.PullNew, which falls back to a pass when more changed),
// EXPUNGE and FETCH FLAGS into a pass, which fetches only what changed. A watchdog ends IDLE every
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

// session connects, selects the folder read-only and idles until an error.
// established reports whether it got as far as idling.
func (i *idler) session(ctx context.Context, reconnect bool) (established bool, err error) {
	o := &i.a.d.opts
	pw, err := i.a.secret(ctx)
	if err != nil {
		return false, fmt.Errorf("password: %w", err)
	}
	cycle := min(o.WatchdogInterval, o.IdleRefresh)
	pushed := make(chan struct{}, 1)
	// other is set when a push needs a full pass (an expunge of a message
	// whose UID is not known); new messages, flag changes and expunges
	// mapped to their UIDs (gone) are pulled on their own.
	var (
		other  atomic.Bool
		seqs   seqMap
		goneMu sync.Mutex
		gone   []uint32
	)
	push := func() {
		select {
		case pushed <- struct{}{}:
		default:
		}
	}
	// These run on the client's reader goroutine (Fetch: a goroutine of
	// its own): only non-blocking sends here, never a client command.
	handler := &imapclient.UnilateralDataHandler{
		Expunge: func(seq uint32) {
			if uid, ok := seqs.expunge(seq); ok {
				goneMu.Lock()
				gone = append(gone, uid)
				goneMu.Unlock()
			} else {
				other.Store(true)
			}
			push()
		},
		Mailbox: func(m *imapclient.UnilateralDataMailbox) {
			if m.NumMessages != nil {
				seqs.exists(*m.NumMessages)
				push()
			}
		},
		Fetch: func(m *imapclient.FetchMessageData) {
			m.Collect() // drain, or the reader blocks
			push()
		},
	}
	notify := func() {
		goneMu.Lock()
		uids := gone
		gone = nil
		goneMu.Unlock()
		if other.Swap(false) {
			i.a.kick()
		} else {
			i.a.kickNew(syncer.Pushed{Folder: i.folder, Expunged: uids})
		}
	}
	c, err := imapconn.Dial(ctx, i.a.cfg, imapconn.DialOptions{Password: pw, Handler: handler, Timeout: o.WatchdogTimeout})
	if err != nil {
		return false, err
	}
	defer c.Close()
	// Close the connection when ctx ends, wherever we are.
	stopAfter := context.AfterFunc(ctx, func() { c.Close() })
	defer stopAfter()

	if !c.Caps().Has(imap.CapIdle) && !c.Caps().Has(imap.CapIMAP4rev2) {
		return false, fmt.Errorf("the server does not support IDLE")
	}
	sel, err := c.Client.Select(i.remote, &imap.SelectOptions{ReadOnly: true, CondStore: c.Caps().Has(imap.CapCondStore)}).Wait()
	if err != nil {
		return false, fmt.Errorf("examine %q: %w", i.remote, err)
	}
	// Drop what the SELECT itself may have pushed.
	select {
	case <-pushed:
	default:
	}
	other.Store(false)
	seqs.exists(sel.NumMessages)
	// Changes between the last pass and this SELECT were not pushed.
	if reconnect || i.changedSinceState(sel) {
		i.a.log.Debug("IDLE connected: a pass for the changes since the last one", "folder", i.folder)
		i.a.kick()
	}
	// The sequence → UID map, for the EXPUNGEs to come (those pushed
	// meanwhile take a full pass).
	uids, err := syncer.FolderUIDs(c, sel.NumMessages)
	if err != nil {
		return false, fmt.Errorf("list the UIDs of %q: %w", i.remote, err)
	}
	seqs.reset(uids)
	// Connected from here on: every change from now on is pushed.
	i.mu.Lock()
	i.connected = true
	i.lastErr = ""
	if reconnect {
		i.reconnects++
	}
	i.mu.Unlock()

	for {
		// While idling, the server may stay silent for a whole cycle.
		c.SetTimeout(cycle + o.WatchdogTimeout)
		cmd, err := c.Idle()
		if err != nil {
			return true, fmt.Errorf("IDLE: %w", err)
		}
		t := time.NewTimer(cycle)
		var reason error
		var fill <-chan time.Time
	wait:
		for {
			select {
			case <-pushed:
				i.a.log.Debug("IDLE push", "folder", i.folder)
				notify()
				if _, n := seqs.unknown(); n > 0 && fill == nil {
					// Leave IDLE a little later to learn the new
					// messages' UIDs, so that their expunges map
					// too (not at once: the pull of the new
					// messages would wait for this session's
					// hold on the folder).
					fill = time.After(o.SeqFillDelay)
				}
				continue
			case <-fill:
			case <-t.C:
			case <-ctx.Done():
				reason = ctx.Err()
			case <-i.kickCh:
				reason = errReconnect
			case <-c.Closed():
				t.Stop()
				return true, fmt.Errorf("IDLE: connection closed: %w", connErr(cmd))
			}
			break wait
		}
		t.Stop()
		// Watchdog: the server must end IDLE and answer a NOOP within
		// WatchdogTimeout, or the connection is closed.
		c.SetTimeout(o.WatchdogTimeout)
		dog := time.AfterFunc(o.WatchdogTimeout, func() { c.Close() })
		err = cmd.Close()
		if err == nil {
			err = cmd.Wait()
		}
		if err == nil && reason == nil {
			err = c.Noop().Wait()
		}
		stopped := dog.Stop()
		if reason != nil {
			return true, reason
		}
		if !stopped {
			return true, fmt.Errorf("watchdog: no answer to DONE and NOOP within %s", o.WatchdogTimeout)
		}
		if err != nil {
			// Usually the read deadline set above: the same check.
			return true, fmt.Errorf("watchdog: DONE and NOOP failed: %w", err)
		}
		// UIDs of the messages that arrived since the map was filled.
		if err := i.fillSeqs(c, &seqs); err != nil {
			return true, err
		}
		// A push that arrived while we were stopping IDLE.
		select {
		case <-pushed:
			notify()
		default:
		}
	}
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
