package daemon

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/maildir"
	"github.com/mailmirror/mailmirror/syncer"
)

// The account loop. One goroutine per account (account.run) waits for the
// next input on the account's channels (wait), turns it into a typed event
// and hands it to one small handler (dispatch). The handlers record what
// is wanted (a full pass, pulls announced by IDLE, local changes to push)
// and do the event's own work (answer a request, record an offline
// change, back off after a failure); the phase changes in transition
// alone; and after every event nextPass decides whether a pass starts,
// which is one more event (evStart) dispatched the same way.

// phase is what the account loop is doing.
type phase int

// The phases of an account loop (see transition).
const (
	phaseIdle    phase = iota // no pass running, no retry waiting: the next wanted pass starts at once
	phaseRunning              // a pass (full or targeted) is running; never two at a time
	phaseBackoff              // the last pass failed; the retry timer runs and only a forced full pass starts before it fires
	phaseStopped              // the context ended: the loop returns
)

func (p phase) String() string {
	switch p {
	case phaseIdle:
		return "idle"
	case phaseRunning:
		return "running"
	case phaseBackoff:
		return "backoff"
	case phaseStopped:
		return "stopped"
	}
	return "phase?"
}

// reach is what the last pass learnt about the server.
type reach int

// What the last pass learnt about the server (reachOf).
const (
	reachOK         reach = iota // reached (or no pass yet, or a refusal of one command by a working server)
	reachLost                    // not reached, or the connection broke: local changes are recorded as OpLocalChange
	reachAuthFailed              // the login was refused: retries wait the longest; a request or wake-up resolves the password again
)

// reachOf is what a pass that ended with err says about the server.
func reachOf(err error) reach {
	switch {
	case err == nil || !isDisconnect(err):
		return reachOK
	case isAuthError(err):
		return reachAuthFailed
	default:
		return reachLost
	}
}

// loopEvent is one input of the account loop; dispatch hands each kind to
// its handler.
type loopEvent interface{ loopEvent() }

// The events of the account loop.
type (
	evStop          struct{}                  // the account is stopped (its context ended)
	evTrigger       struct{}                  // a full pass is wanted (account.kick)
	evPushed        struct{ p syncer.Pushed } // an IDLE connection pushed a folder's changes (account.kickNew)
	evRequest       struct{ r *syncRequest }  // a pass asked for over the control socket
	evTick          struct{}                  // poll_interval elapsed
	evRetry         struct{}                  // the backoff after a failed pass is over
	evWake          struct{}                  // reconnect now: wall-clock jump, network change (account.wakeUp)
	evLocal         struct{ e Event }         // the watcher saw a local change
	evWatcherClosed struct{}                  // the watcher's channel closed
	evQuiet         struct{}                  // the burst of local changes being debounced ended
	evStart         struct{ t *targeted }     // a pass starts (decided by nextPass); t nil: a full pass
	evPassDone      struct{ res passResult }  // the running pass ended
)

func (evStop) loopEvent()          {}
func (evTrigger) loopEvent()       {}
func (evPushed) loopEvent()        {}
func (evRequest) loopEvent()       {}
func (evTick) loopEvent()          {}
func (evRetry) loopEvent()         {}
func (evWake) loopEvent()          {}
func (evLocal) loopEvent()         {}
func (evWatcherClosed) loopEvent() {}
func (evQuiet) loopEvent()         {}
func (evStart) loopEvent()         {}
func (evPassDone) loopEvent()      {}

// transition is the account loop's state machine and the one place where
// its phase changes: the phase after ev in phase p. Events not named here
// leave the phase as it is.
//
//	idle    --start-->        running  (nextPass: any wanted pass)
//	backoff --start-->        running  (nextPass: a forced full pass only)
//	running --pass done-->    idle     (it succeeded)
//	running --pass done-->    backoff  (it failed: onPassDone armed the retry timer)
//	backoff --retry-->        idle
//	any     --stop-->         stopped
func transition(p phase, ev loopEvent) phase {
	switch ev := ev.(type) {
	case evStop:
		return phaseStopped
	case evStart:
		return phaseRunning
	case evPassDone:
		if ev.res.err != nil {
			return phaseBackoff
		}
		return phaseIdle
	case evRetry:
		if p == phaseBackoff {
			return phaseIdle
		}
	}
	return p
}

// loop is the state of one account's supervisor goroutine; nothing else
// touches it.
type loop struct {
	a      *account
	o      *Options
	ctx    context.Context
	isIMAP bool
	first  func() // called once the first pass ended

	phase phase
	reach reach
	bo    backoff
	retry *time.Timer // set in phaseBackoff

	// Work asked for.
	pending  bool                 // a full pass is wanted
	force    bool                 // start it even in phaseBackoff (a request, a wake-up)
	waiting  []*syncRequest       // requests the next full pass answers
	inflight []*syncRequest       // requests the running pass answers
	pulls    map[string][]uint32  // IDLE pushes by folder, with the UIDs seen expunged: pulled by a targeted pass
	locals   []syncer.LocalChange // message files changed locally: pushed by a targeted pass (syncer.PushLocal)

	// The burst of local changes being debounced.
	debounce   *time.Timer
	debouncing bool
	burstFrom  time.Time         // its first event
	dirtyTree  bool              // a directory changed: a folder may have appeared or gone
	dirtyData  bool              // a change without a known file (poller, overflow, new folder)
	dirtyMsgs  map[string]string // message files changed → folder name

	// Local changes seen while a pass ran, looked at when it is over
	// (the daemon's own writes are settled by then).
	checkAll  bool
	checkMsgs map[string]string

	// Folders changed locally since the running pass started (changed)
	// and those it is pushing (pushing): recorded as local-change
	// records when the pass does not reach the server.
	changed map[string]bool
	pushing map[string]bool

	hooks      *hookRunner
	tree       *localTree // nil: no watcher
	watcher    Watcher
	events     <-chan Event
	offlineOps map[string]int64 // folder → its local-change record
	ticker     *time.Ticker
	lastPoll   time.Time

	passes    chan passResult
	passCtx   context.Context // the passes' context: cancelled only at the end of onStop
	cancelRun context.CancelFunc
	launch    func(t *targeted, fetch []string) // starts a pass goroutine (launchPass; tests record instead)
}

// run is the supervisor loop. firstDone is called once, after the first
// pass ended (successfully or not) or when ctx ends before.
func (a *account) run(ctx context.Context, firstDone func()) {
	defer close(a.done)
	var once sync.Once
	first := func() { once.Do(firstDone) }
	defer first()
	l := newLoop(a, ctx, first)
	defer l.close()
	l.open()
	for l.phase != phaseStopped {
		if ev := l.nextPass(); ev != nil {
			l.dispatch(ev)
		}
		l.dispatch(l.wait())
	}
}

// newLoop returns the loop of account a in phaseIdle with a full pass
// pending (the first); open starts its watcher, hook runner and ticker.
func newLoop(a *account, ctx context.Context, first func()) *loop {
	o := &a.d.opts
	l := &loop{
		a:          a,
		o:          o,
		ctx:        ctx,
		isIMAP:     a.cfg.Protocol != config.ProtocolPOP3,
		first:      first,
		bo:         backoff{min: o.BackoffMin, max: o.BackoffMax},
		pending:    true,
		pulls:      map[string][]uint32{},
		checkMsgs:  map[string]string{},
		changed:    map[string]bool{},
		offlineOps: map[string]int64{},
		debounce:   time.NewTimer(time.Hour),
		passes:     make(chan passResult, 1),
	}
	l.debounce.Stop()
	l.passCtx, l.cancelRun = context.WithCancel(context.WithoutCancel(ctx))
	l.launch = l.launchPass
	return l
}

// open starts what feeds the loop besides the account's channels: the
// hook runner, the local watcher (IMAP only: POP3 is a one-way pull), the
// notmuch watcher and the poll ticker, and reads the local-change records
// an earlier run left.
func (l *loop) open() {
	a := l.a
	if a.cfg.OnNewMail != "" {
		l.hooks = newHookRunner(a.cfg.OnNewMail, a.cfg.Name, a.log, l.o.HookInterval)
		go l.hooks.run(l.ctx)
	}
	if l.isIMAP {
		l.openWatcher()
	}
	l.offlineOps = a.loadLocalChangeOps()
	if l.isIMAP && a.cfg.Tags != "" {
		go a.watchTags(l.ctx) // tags.go
	}
	l.ticker = time.NewTicker(a.cfg.PollInterval)
	l.lastPoll = time.Now()
}

// openWatcher watches the account's Maildir.
func (l *loop) openWatcher() {
	store, err := maildir.Open(l.a.cfg.Maildir, l.a.cfg.Layout)
	if err != nil {
		l.a.log.Error("cannot open the Maildir; local changes are picked up every poll_interval only", "err", err)
		return
	}
	w, err := NewWatcher(l.o.PollWatcher)
	if err != nil {
		l.a.log.Warn("fsnotify unavailable; polling directory times instead", "err", err)
	}
	l.watcher = w
	l.tree = newLocalTree(store, w)
	if _, err := l.tree.rescan(); err != nil {
		l.a.log.Warn("watch the Maildir", "err", err)
	}
	l.events = w.Events()
}

// close ends what the loop holds: the Syncer's connections (logged out
// politely, but a dead connection does not hold up the stop), the IDLE
// connections, the passes' context, the ticker and the watcher.
func (l *loop) close() {
	if s := l.a.takeSyncer(); s != nil {
		closed := make(chan struct{})
		go func() {
			s.Close()
			close(closed)
		}()
		t := time.NewTimer(time.Second)
		select {
		case <-closed:
		case <-t.C:
		}
		t.Stop()
	}
	for name, i := range l.a.idlers {
		i.stop()
		l.a.mu.Lock()
		delete(l.a.idlers, name)
		l.a.mu.Unlock()
	}
	l.cancelRun()
	if l.ticker != nil {
		l.ticker.Stop()
	}
	if l.watcher != nil {
		l.watcher.Close()
	}
}

// wait blocks until the next input and returns it as an event.
func (l *loop) wait() loopEvent {
	select {
	case <-l.ctx.Done():
		return evStop{}
	case <-l.a.trigger:
		return evTrigger{}
	case p := <-l.a.newMail:
		return evPushed{p}
	case r := <-l.a.reqs:
		return evRequest{r}
	case <-l.ticker.C:
		return evTick{}
	case <-l.retryC():
		return evRetry{}
	case <-l.a.wake:
		return evWake{}
	case e, ok := <-l.events:
		if !ok {
			return evWatcherClosed{}
		}
		return evLocal{e}
	case <-l.debounceC():
		return evQuiet{}
	case res := <-l.passes:
		return evPassDone{res}
	}
}

func (l *loop) retryC() <-chan time.Time {
	if l.retry == nil {
		return nil
	}
	return l.retry.C
}

func (l *loop) debounceC() <-chan time.Time {
	if !l.debouncing {
		return nil
	}
	return l.debounce.C
}

// dispatch hands ev to its handler, which sees the phase ev arrived in,
// then moves the phase (transition).
func (l *loop) dispatch(ev loopEvent) {
	switch ev := ev.(type) {
	case evStop:
		l.onStop()
	case evTrigger:
		l.pending = true
	case evPushed:
		l.pulls[ev.p.Folder] = append(l.pulls[ev.p.Folder], ev.p.Expunged...)
	case evRequest:
		l.onRequest(ev.r)
	case evTick:
		l.onTick()
	case evRetry:
		l.retry = nil
		l.pending = true
	case evWake:
		l.onWake()
	case evLocal:
		l.onLocal(ev.e)
	case evWatcherClosed:
		l.events = nil
	case evQuiet:
		l.onQuiet()
	case evStart:
		l.onStart(ev.t)
	case evPassDone:
		l.onPassDone(ev.res)
	}
	l.phase = transition(l.phase, ev)
}

// nextPass returns the pass to start now (an evStart), or nil: a full pass
// when one is wanted and the phase allows it, else a targeted pass for the
// pulls and local changes collected when targetedAllowed.
func (l *loop) nextPass() loopEvent {
	if l.ctx.Err() != nil {
		return nil // stopping: the loop is about to see evStop
	}
	if l.pending && (l.phase == phaseIdle || l.phase == phaseBackoff && l.force) {
		return evStart{}
	}
	if !l.targetedAllowed() {
		return nil
	}
	t := &targeted{local: l.locals}
	for _, f := range slices.Sorted(maps.Keys(l.pulls)) {
		t.pulls = append(t.pulls, syncer.Pushed{Folder: f, Expunged: l.pulls[f]})
	}
	if len(t.pulls) == 1 && len(t.local) == 0 {
		// New mail in one folder: over its IDLE connection, if offered (idle.go).
		if t.lease = l.a.takeLease(t.pulls[0].Folder); t.lease != nil {
			t.pulls[0].Conn = t.lease.conn
		}
	}
	return evStart{t: t}
}

// targetedAllowed reports whether a targeted pass may start now: one that
// pushes the local changes of single messages (syncer.PushLocal) and pulls
// what IDLE announced (syncer.PullNew), whose precondition is that the
// watcher saw nothing else change in the Maildir.
func (l *loop) targetedAllowed() bool {
	return (len(l.pulls) > 0 || len(l.locals) > 0) && // there is targeted work
		l.phase == phaseIdle && // no pass running (one at a time) and no retry waiting (after a failure the next pass is a full one)
		!l.pending && // a full pass is wanted: it does this work too, and goes first
		!l.debouncing && // a burst of local changes is still arriving: its end decides
		!l.dirtyTree && !l.dirtyData && // a change only a full pass looks at (set only while debouncing; checked all the same)
		!l.checkAll && len(l.checkMsgs) == 0 // changes seen during the last pass are still to be looked at
}

// onStart starts a pass: with t a targeted one, else a full pass that
// answers the waiting requests (and fetches their placeholder files) and
// ends a backoff.
func (l *loop) onStart(t *targeted) {
	var fetch []string
	if t == nil {
		if l.retry != nil {
			l.retry.Stop()
			l.retry = nil
		}
		l.pending, l.force = false, false
		l.inflight, l.waiting = l.waiting, nil
		for _, r := range l.inflight {
			fetch = append(fetch, r.fetch...)
		}
	}
	clear(l.pulls)
	l.locals = nil
	l.pushing, l.changed = l.changed, map[string]bool{}
	l.a.setState(func(st *AccountStatus) { st.Syncing = true })
	l.launch(t, fetch)
}

// launchPass runs a pass in a goroutine of its own, which reports on
// l.passes.
func (l *loop) launchPass(t *targeted, fetch []string) {
	go func() {
		start := time.Now()
		res := l.a.pass(l.passCtx, t, fetch)
		if t != nil {
			t.lease.giveBack() // if the pass did not (idle.go)
		}
		res.took = time.Since(start)
		l.passes <- res
	}()
}

// onStop lets a running pass finish its current writes (it sees the
// cancellation between messages) for up to ShutdownGrace, and answers
// every request still open.
func (l *loop) onStop() {
	if l.phase == phaseRunning {
		l.cancelRun()
		t := time.NewTimer(l.o.ShutdownGrace)
		select {
		case <-l.passes:
		case <-t.C:
			l.a.log.Warn("pass still running at shutdown; closing its connections")
		}
		t.Stop()
	}
	for _, r := range append(l.inflight, l.waiting...) {
		r.reply <- SyncResult{Account: l.a.cfg.Name, Error: "the daemon is stopping"}
	}
	l.a.setState(func(st *AccountStatus) { st.State, st.Syncing = StateStopped, false })
}

// onRequest queues a request for the next full pass, which starts even
// during a backoff.
func (l *loop) onRequest(r *syncRequest) {
	l.waiting = append(l.waiting, r)
	l.pending, l.force = true, true
	if l.reach == reachAuthFailed && l.phase != phaseRunning {
		l.a.dropSyncer() // resolve the password again
	}
}

// onTick asks for a pass every poll_interval, except that an account whose
// every folder IDLEs is polled only every newFolderCheck (a poll would
// only look for new server folders).
func (l *loop) onTick() {
	if l.isIMAP && l.a.everyFolderIdles() && time.Since(l.lastPoll) < max(l.a.cfg.PollInterval, newFolderCheck) {
		return
	}
	l.lastPoll = time.Now()
	l.pending = true
}

// onWake reconnects: a forced full pass on fresh connections (after an
// authentication failure the backoff stays), and new IDLE connections.
func (l *loop) onWake() {
	if l.reach != reachAuthFailed {
		l.bo.reset()
		l.force = true
	}
	l.pending = true
	if l.phase != phaseRunning {
		l.a.dropSyncer()
	}
	for _, i := range l.a.idlers {
		i.reconnect()
	}
}

// onLocal adds a watcher event to the burst being debounced (and records
// a folder changed while the server is not reached), then waits for the
// burst to end, but not forever.
func (l *loop) onLocal(ev Event) {
	switch ev.Kind {
	case Content:
		name, known := "", false
		if l.tree != nil {
			name, known = l.tree.folderName(ev.Dir)
		}
		if known {
			l.changed[name] = true
			if l.reach != reachOK {
				l.a.recordLocalChange(l.offlineOps, name)
			}
		}
		if known && ev.Path != "" {
			if l.dirtyMsgs == nil {
				l.dirtyMsgs = map[string]string{}
			}
			l.dirtyMsgs[ev.Path] = name
		} else {
			l.dirtyData = true
		}
	case Tree:
		l.dirtyTree = true
	case Overflow:
		l.dirtyTree, l.dirtyData = true, true
	}
	now := time.Now()
	if !l.debouncing {
		l.burstFrom = now
	}
	wait := l.o.Debounce
	if rest := l.o.DebounceMax - now.Sub(l.burstFrom); rest < wait {
		wait = max(rest, 0)
	}
	l.debounce.Reset(wait)
	l.debouncing = true
}

// onQuiet ends a burst: new directories are watched, and the changes ask
// for a pass unless the state already agrees with them (the daemon's own
// writes); changes of single message files for a targeted push. While a
// pass runs they wait for its end (onPassDone).
func (l *loop) onQuiet() {
	l.debouncing = false
	if l.dirtyTree && l.tree != nil {
		grew, err := l.tree.rescan()
		if err != nil {
			l.a.log.Warn("watch the Maildir", "err", err)
		}
		if grew {
			l.dirtyData = true
		}
	}
	l.checkAll = l.checkAll || l.dirtyData
	maps.Copy(l.checkMsgs, l.dirtyMsgs)
	l.dirtyTree, l.dirtyData, l.dirtyMsgs = false, false, nil
	if l.phase == phaseRunning {
		return
	}
	if l.a.needsPass(l.tree, l.checkAll, l.checkMsgs) {
		if l.checkAll {
			l.pending = true
		} else {
			for path, folder := range l.checkMsgs {
				l.locals = append(l.locals, syncer.LocalChange{Folder: folder, Path: path})
			}
		}
	}
	l.checkAll, l.checkMsgs = false, map[string]string{}
}

// onPassDone records a pass's outcome (finishPass), keeps the local
// changes it could not push as local-change records, looks at the local
// changes seen while it ran, and backs off after a failure or updates the
// IDLE connections after a success.
func (l *loop) onPassDone(res passResult) {
	l.reach = l.a.finishPass(res, l.inflight, l.hooks, l.offlineOps)
	if l.reach != reachOK {
		// The changes the pass was to push wait in the Maildir:
		// record them.
		for name := range l.pushing {
			l.changed[name] = true
		}
		for name := range l.changed {
			l.a.recordLocalChange(l.offlineOps, name)
		}
	}
	l.pushing, l.inflight = nil, nil
	if (l.checkAll || len(l.checkMsgs) > 0) && l.a.needsPass(l.tree, l.checkAll, l.checkMsgs) {
		l.pending = true
	}
	l.checkAll, l.checkMsgs = false, map[string]string{}
	l.first()
	if res.err == nil {
		l.bo.reset()
		if l.isIMAP {
			l.a.updateIdlers(l.ctx)
		}
		return
	}
	var d time.Duration
	if l.reach == reachAuthFailed {
		d = l.bo.toMax()
	} else {
		d = l.bo.next()
	}
	l.retry = time.NewTimer(d)
	next := time.Now().Add(d)
	l.a.setState(func(st *AccountStatus) { st.NextRetry = next })
	l.a.log.Warn("pass failed", "err", res.err, "retry_in", d.Round(time.Second))
}
