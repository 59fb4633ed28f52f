package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"sync"
	"time"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/state"
)

// Options tune a Daemon. Zero fields take the defaults named below; tests
// shorten the intervals.
type Options struct {
	// Logger receives the daemon's log; nil discards it.
	Logger *slog.Logger
	// LogLevel, when set, is the level variable of Logger's handler: a
	// reload sets it to the new log_level.
	LogLevel *slog.LevelVar
	// ConfigPath is the file a reload (SIGHUP, Reload with nil) reads;
	// "" means the Config's Path. Without either, SIGHUP is ignored.
	ConfigPath string
	// NoControl disables the control socket.
	NoControl bool
	// PollWatcher uses the directory-time poller even where fsnotify
	// works (it is always used on macOS).
	PollWatcher bool

	Debounce         time.Duration // quiet time after the last local event before a pass; 20 ms
	DebounceMax      time.Duration // longest wait for a burst of local events to end; 500 ms
	IdleRefresh      time.Duration // IDLE is re-issued at least this often; 25 min
	WatchdogInterval time.Duration // IDLE is interrupted for a NOOP this often; 4 min
	WatchdogTimeout  time.Duration // the server must answer DONE and NOOP within this; 30 s
	SeqFillDelay     time.Duration // after new messages, IDLE is left this late to learn their UIDs (for EXPUNGE); 2 s
	BackoffMin       time.Duration // first retry delay; 1 s
	BackoffMax       time.Duration // longest retry delay (and the delay after an authentication failure); 5 min
	HookInterval     time.Duration // on_new_mail runs at least this far apart; 1 s
	ClockCheck       time.Duration // how often a wall-clock jump is looked for; 10 s
	ClockJump        time.Duration // a wall-clock jump larger than this reconnects; 1 min
	NetCheck         time.Duration // how often network addresses are compared (<0: never); 30 s
	ShutdownGrace    time.Duration // how long a stop waits for running passes; 8 s
	CommandTimeout   time.Duration // syncer.DialOptions.Timeout for passes; 0 = the syncer's default
}

func (o *Options) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&o.Debounce, 20*time.Millisecond)
	def(&o.DebounceMax, 500*time.Millisecond)
	def(&o.IdleRefresh, 25*time.Minute)
	def(&o.WatchdogInterval, 4*time.Minute)
	def(&o.WatchdogTimeout, 30*time.Second)
	def(&o.SeqFillDelay, 2*time.Second)
	def(&o.BackoffMin, time.Second)
	def(&o.BackoffMax, 5*time.Minute)
	def(&o.HookInterval, time.Second)
	def(&o.ClockCheck, 10*time.Second)
	def(&o.ClockJump, time.Minute)
	def(&o.NetCheck, 30*time.Second)
	def(&o.ShutdownGrace, 8*time.Second)
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// Daemon runs every account of a configuration continuously. Create it
// with New, then call Run.
type Daemon struct {
	opts Options
	log  *slog.Logger
	db   *state.DB

	reload  chan *config.Config
	started time.Time
	ready   chan struct{}
	runCtx  context.Context

	mu       sync.Mutex
	cfg      *config.Config
	accounts []*account // in config order
	isReady  bool
}

// New returns a daemon for cfg using db (opened with state.Open on
// cfg.StateDir; the caller closes it after Run returned).
func New(cfg *config.Config, db *state.DB, opts Options) *Daemon {
	opts.defaults()
	if opts.ConfigPath == "" {
		opts.ConfigPath = cfg.Path
	}
	return &Daemon{
		opts:   opts,
		log:    opts.Logger,
		db:     db,
		cfg:    cfg,
		reload: make(chan *config.Config, 1),
		ready:  make(chan struct{}),
		runCtx: context.Background(),
	}
}

// Ready is closed once every account finished its first pass or reported
// its error (the moment Run logs msg=ready).
func (d *Daemon) Ready() <-chan struct{} { return d.ready }

// Reload applies a new configuration while Run runs: accounts added,
// removed or changed are started, stopped or restarted; the others keep
// running untouched. A nil cfg re-reads the config file (what SIGHUP does);
// an error reading it is logged and the old configuration kept. It does not
// wait for the change to be applied.
func (d *Daemon) Reload(cfg *config.Config) {
	select {
	case d.reload <- cfg:
	default:
		// A reload is queued already; replace it with this one.
		select {
		case <-d.reload:
		default:
		}
		select {
		case d.reload <- cfg:
		default:
		}
	}
}

func (d *Daemon) cfgNow() *config.Config {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cfg
}

func (d *Daemon) ctx() context.Context {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.runCtx
}

// Run runs the daemon until ctx ends, then stops every account (running
// passes finish their current writes, at most ShutdownGrace), closes the
// IDLE connections and the control socket, and returns nil. It returns an
// error only when it cannot start.
func (d *Daemon) Run(ctx context.Context) error {
	d.started = time.Now()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	d.mu.Lock()
	d.runCtx = runCtx
	cfg := d.cfg
	d.mu.Unlock()

	var ctl *controlServer
	if !d.opts.NoControl {
		var err error
		ctl, err = startControl(d, cfg.StateDir)
		if err != nil {
			d.log.Error("no control socket: mailmirror status and sync cannot reach the daemon", "err", err)
		} else {
			defer ctl.close()
		}
	}

	hup := make(chan os.Signal, 1)
	notifyReload(hup)
	defer stopNotify(hup)

	if len(cfg.Accounts) == 0 {
		d.log.Info("no accounts configured: nothing to do; add an [[account]] and send SIGHUP", "config", cfg.Path)
	}
	var wg sync.WaitGroup
	firsts := make(chan string, len(cfg.Accounts))
	waitingFirst := map[string]bool{}
	for _, a := range cfg.Accounts {
		waitingFirst[a.Name] = true
		d.start(runCtx, &wg, a, firsts)
	}
	if len(waitingFirst) == 0 {
		d.markReady()
	}
	wake := make(chan string, 1)
	go d.monitor(runCtx, wake)

	for {
		select {
		case <-ctx.Done():
			d.log.Info("stopping")
			cancel()
			d.stopAll()
			wg.Wait()
			d.log.Info("stopped")
			return nil
		case name := <-firsts:
			if waitingFirst[name] {
				delete(waitingFirst, name)
				if len(waitingFirst) == 0 {
					d.markReady()
				}
			}
		case why := <-wake:
			d.log.Info("reconnecting every account", "why", why)
			for _, a := range d.accountList() {
				a.wakeUp()
			}
		case <-hup:
			d.log.Info("SIGHUP: reloading the configuration")
			d.applyReload(runCtx, &wg, nil, firsts, waitingFirst)
		case c := <-d.reload:
			d.applyReload(runCtx, &wg, c, firsts, waitingFirst)
		}
	}
}

func (d *Daemon) markReady() {
	d.mu.Lock()
	d.isReady = true
	n := len(d.accounts)
	d.mu.Unlock()
	close(d.ready)
	d.log.Info("ready", "accounts", n)
}

// start starts an account's supervisor.
func (d *Daemon) start(ctx context.Context, wg *sync.WaitGroup, a *config.Account, firsts chan<- string) *account {
	acc := newAccount(d, a)
	actx, cancel := context.WithCancel(ctx)
	acc.cancel = cancel
	d.mu.Lock()
	d.accounts = append(d.accounts, acc)
	d.mu.Unlock()
	wg.Add(1)
	go func() {
		defer wg.Done()
		acc.run(actx, func() {
			select {
			case firsts <- a.Name:
			default:
				// Only Run's start-up readiness listens; a full
				// channel means nobody waits.
				go func() {
					select {
					case firsts <- a.Name:
					case <-ctx.Done():
					}
				}()
			}
		})
	}()
	acc.log.Info("account started", "protocol", a.Protocol, "server", a.Address(), "maildir", a.Maildir)
	return acc
}

func (d *Daemon) accountList() []*account {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]*account(nil), d.accounts...)
}

// stopAll cancels every account and waits for them, at most ShutdownGrace
// plus a little.
func (d *Daemon) stopAll() {
	accts := d.accountList()
	for _, a := range accts {
		a.cancel()
	}
	deadline := time.NewTimer(d.opts.ShutdownGrace + time.Second)
	defer deadline.Stop()
	for _, a := range accts {
		select {
		case <-a.done:
		case <-deadline.C:
			d.log.Warn("an account did not stop in time", "account", a.cfg.Name)
			return
		}
	}
}

// applyReload applies a new configuration (nil: read the config file).
func (d *Daemon) applyReload(ctx context.Context, wg *sync.WaitGroup, cfg *config.Config, firsts chan<- string, waitingFirst map[string]bool) {
	if cfg == nil {
		if d.opts.ConfigPath == "" {
			d.log.Warn("reload: no config file to read")
			return
		}
		var err error
		cfg, err = config.Load(d.opts.ConfigPath)
		if err != nil {
			d.log.Error("reload: the new configuration is invalid; keeping the old one", "err", err)
			return
		}
	}
	old := d.cfgNow()
	if cfg.StateDir != old.StateDir {
		d.log.Warn("reload: state_dir changed; it takes effect at the next start", "state_dir", old.StateDir)
		cfg.StateDir = old.StateDir
	}
	if cfg.LogFormat != old.LogFormat {
		d.log.Warn("reload: log_format changed; it takes effect at the next start")
	}
	if d.opts.LogLevel != nil {
		var lv slog.Level
		if err := lv.UnmarshalText([]byte(cfg.LogLevel)); err == nil {
			d.opts.LogLevel.Set(lv)
		}
	}
	// Stop removed and changed accounts.
	var keep []*account
	var stopped []*account
	for _, a := range d.accountList() {
		na := cfg.Account(a.cfg.Name)
		if na != nil && sameAccount(a.cfg, na) {
			keep = append(keep, a)
			continue
		}
		a.cancel()
		stopped = append(stopped, a)
	}
	for _, a := range stopped {
		<-a.done
		delete(waitingFirst, a.cfg.Name)
		if cfg.Account(a.cfg.Name) == nil {
			a.log.Info("account removed")
		} else {
			a.log.Info("account changed; restarting it")
		}
	}
	d.mu.Lock()
	d.accounts = nil
	d.cfg = cfg
	d.mu.Unlock()
	// Keep the config order.
	byName := map[string]*account{}
	for _, a := range keep {
		byName[a.cfg.Name] = a
	}
	for _, na := range cfg.Accounts {
		if a, ok := byName[na.Name]; ok {
			// Same settings: it keeps running with its own copy.
			d.mu.Lock()
			d.accounts = append(d.accounts, a)
			d.mu.Unlock()
			continue
		}
		d.start(ctx, wg, na, firsts)
	}
	d.log.Info("configuration reloaded", "accounts", len(cfg.Accounts), "unchanged", len(keep))
}

// sameAccount reports whether two account settings are equal, ignoring
// the line they were read from.
func sameAccount(a, b *config.Account) bool {
	x, y := *a, *b
	x.Line, y.Line = 0, 0
	return reflect.DeepEqual(x, y)
}

// Status returns the daemon's status: every account's state and what the
// state DB knows of it.
func (d *Daemon) Status() *Status {
	d.mu.Lock()
	st := &Status{Running: true, PID: os.Getpid(), Started: d.started, Ready: d.isReady, Config: d.cfg.Path, StateDir: d.cfg.StateDir}
	accts := append([]*account(nil), d.accounts...)
	d.mu.Unlock()
	for _, a := range accts {
		as := a.status()
		if err := fillFromDB(&as, a.cfg, d.db); err != nil {
			as.LastError = err.Error()
		}
		st.Accounts = append(st.Accounts, as)
	}
	return st
}

// Fetch replaces placeholder files of the named IMAP account with their
// messages, in a pass that starts after the call, and waits for it.
func (d *Daemon) Fetch(ctx context.Context, name string, paths []string) (SyncResult, error) {
	for _, a := range d.accountList() {
		if a.cfg.Name != name {
			continue
		}
		if a.cfg.Protocol == config.ProtocolPOP3 {
			return SyncResult{}, fmt.Errorf("account %q is a POP3 account: it has no placeholders", name)
		}
		res, err := d.request(ctx, []*account{a}, func() *syncRequest { return &syncRequest{reply: make(chan SyncResult, 1), fetch: paths} })
		if err != nil {
			return SyncResult{}, err
		}
		return res[0], nil
	}
	return SyncResult{}, fmt.Errorf("no account named %q in the running daemon (reload it after changing the config)", name)
}

// Sync runs a pass of the named accounts (every account when names is
// empty) that starts after the call, and waits for all of them. An
// account that fails has its error in its result; the error is for
// unknown account names and for ctx ending.
func (d *Daemon) Sync(ctx context.Context, names []string) ([]SyncResult, error) {
	accts := d.accountList()
	var sel []*account
	if len(names) == 0 {
		sel = accts
	} else {
		for _, n := range names {
			var found *account
			for _, a := range accts {
				if a.cfg.Name == n {
					found = a
				}
			}
			if found == nil {
				return nil, fmt.Errorf("no account named %q in the running daemon (reload it after changing the config)", n)
			}
			sel = append(sel, found)
		}
	}
	return d.request(ctx, sel, func() *syncRequest { return &syncRequest{reply: make(chan SyncResult, 1)} })
}

// request hands a request made by newReq to each account's loop and waits
// for their results.
func (d *Daemon) request(ctx context.Context, sel []*account, newReq func() *syncRequest) ([]SyncResult, error) {
	reqs := make([]*syncRequest, len(sel))
	for i, a := range sel {
		reqs[i] = newReq()
		select {
		case a.reqs <- reqs[i]:
		case <-a.done:
			reqs[i].reply <- SyncResult{Account: a.cfg.Name, Error: "the account was stopped"}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	out := make([]SyncResult, len(sel))
	for i, r := range reqs {
		select {
		case out[i] = <-r.reply:
		case <-sel[i].done:
			select {
			case out[i] = <-r.reply:
			default:
				out[i] = SyncResult{Account: sel[i].cfg.Name, Error: "the account was stopped"}
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return out, nil
}
