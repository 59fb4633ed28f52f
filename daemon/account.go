package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/imapconn"
	"github.com/mailmirror/mailmirror/maildir"
	"github.com/mailmirror/mailmirror/pop3pull"
	"github.com/mailmirror/mailmirror/state"
	"github.com/mailmirror/mailmirror/syncer"
)

// account supervises one account: its passes, IDLE connections, local
// watcher and hook.
type account struct {
	d   *Daemon
	cfg *config.Account
	log *slog.Logger

	trigger chan struct{}      // cap 1: a pass is wanted
	newMail chan syncer.Pushed // what IDLE connections pushed
	wake    chan struct{}      // cap 1: reconnect now (clock jump, network change)
	reqs    chan *syncRequest  // explicit passes (control socket)
	cancel  context.CancelFunc
	done    chan struct{}

	syncMu   sync.Mutex
	syncer   *syncer.Syncer // kept between passes; nil: create at the next pass
	password config.Secret  // resolved with the Syncer, used by IDLE connections
	poolSize int            // the Syncer's max_connections
	link     *imapconn.Link // shared by the Syncer's and the IDLE connections
	newMu    sync.Mutex
	newBy    map[string]int // per pass: folder → messages downloaded

	mu     sync.Mutex // guards st and idlers' status
	st     AccountStatus
	idlers map[string]*idler // remote folder → IDLE worker (loop goroutine only, status under mu)
}

// syncRequest asks for a pass that starts after the request arrived.
type syncRequest struct {
	reply chan SyncResult
	fetch []string // placeholder files to replace with their messages first
}

// passResult is what a pass goroutine reports.
type passResult struct {
	summary  string
	newBy    map[string]int
	warnings []string
	files    map[string]string // fetch requests' paths → error ("" = done)
	changed  bool              // the pass moved something in either direction
	targeted bool              // a targeted pass did it all (no full pass)
	took     time.Duration
	err      error
}

func newAccount(d *Daemon, a *config.Account) *account {
	return &account{
		d:       d,
		cfg:     a,
		log:     d.log.With("account", a.Name),
		trigger: make(chan struct{}, 1),
		link:    imapconn.NewLink(),
		newMail: make(chan syncer.Pushed, 16),
		wake:    make(chan struct{}, 1),
		reqs:    make(chan *syncRequest),
		done:    make(chan struct{}),
		idlers:  map[string]*idler{},
		st:      AccountStatus{Name: a.Name, Protocol: a.Protocol, State: StateStarting},
	}
}

// kick asks for a pass; it never blocks.
func (a *account) kick() {
	select {
	case a.trigger <- struct{}{}:
	default:
	}
}

// kickNew reports what an IDLE connection pushed (new messages, flag
// changes, expunges by UID): the loop pulls just that when nothing else is
// known to have changed, else runs a pass. It never blocks.
func (a *account) kickNew(p syncer.Pushed) {
	select {
	case a.newMail <- p:
	default:
		a.kick()
	}
}

// wakeUp asks for an immediate reconnect and pass; it never blocks.
func (a *account) wakeUp() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// status returns the account's runtime status (without the DB part).
func (a *account) status() AccountStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.st
	st.Idle = nil
	names := make([]string, 0, len(a.idlers))
	for n := range a.idlers {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		st.Idle = append(st.Idle, a.idlers[n].status())
	}
	return st
}

func (a *account) setState(fn func(st *AccountStatus)) {
	a.mu.Lock()
	fn(&a.st)
	a.mu.Unlock()
}

// needsPass reports whether local changes call for a pass: changes of
// unknown extent do; message files do unless the state already agrees with
// them (the daemon's own writes: a download, a flag or move applied from
// the server, a file removed for a server expunge).
func (a *account) needsPass(tree *localTree, all bool, msgs map[string]string) bool {
	if all {
		return true
	}
	for path, folder := range msgs {
		if !a.settled(tree, path, folder) {
			return true
		}
	}
	return false
}

// settled reports whether the message file path (which appeared, vanished
// or was renamed away in folder) matches what the state records, so that a
// pass would find nothing to do for it.
func (a *account) settled(tree *localTree, path, folder string) bool {
	base := filepath.Base(path)
	if strings.HasPrefix(base, ".") {
		return true // not a message (Scan skips dot files)
	}
	key, flags := maildir.ParseName(base)
	p, f, paired, err := a.d.db.PairByKey(a.cfg.Name, key)
	if err != nil {
		return false
	}
	if _, err := os.Lstat(path); err == nil {
		// Present: the state must pair it in this folder with these
		// flags.
		return paired && f.Name == folder && p.Flags == maildir.KnownOnly(flags)
	}
	if !paired {
		return true // gone, and the state does not expect it
	}
	// Gone but paired: settled only when the file lives on under
	// another name in its folder (a flag change; the new name has an
	// event of its own).
	dir, err := tree.store.FolderPath(f.Name)
	if err != nil {
		return false
	}
	info := string(maildir.Separator) + "2," + p.Flags
	for _, c := range []string{filepath.Join(dir, "cur", key+info), filepath.Join(dir, "new", key), filepath.Join(dir, "new", key+info)} {
		if _, err := os.Lstat(c); err == nil {
			return true
		}
	}
	return false
}

// targeted is the work of a targeted pass: local changes of single
// messages to push, and what IDLE connections announced to pull.
type targeted struct {
	local []syncer.LocalChange
	pulls []syncer.Pushed
	lease *lease // the IDLE connection pulls[0].Conn is, given back after the pull (idle.go)
}

// pass runs one pass of the account's protocol. With t (IMAP only) it does
// just that work, or a full pass when more changed; placeholder files to
// fetch (IMAP only, from fetch requests) are replaced with their messages
// first.
func (a *account) pass(ctx context.Context, t *targeted, fetch []string) passResult {
	if a.cfg.Protocol == config.ProtocolPOP3 {
		return a.passPOP3(ctx)
	}
	return a.passIMAP(ctx, t, fetch)
}

func (a *account) passIMAP(ctx context.Context, t *targeted, fetch []string) passResult {
	a.syncMu.Lock()
	s := a.syncer
	a.syncMu.Unlock()
	if s == nil {
		pw, err := a.cfg.ResolvePassword(ctx)
		if err != nil {
			return passResult{err: fmt.Errorf("password: %w", err)}
		}
		store, err := maildir.Open(a.cfg.Maildir, a.cfg.Layout)
		if err != nil {
			return passResult{err: err}
		}
		acct := *a.cfg
		// IDLE connections count against max_connections.
		acct.MaxConnections = max(1, a.cfg.MaxConnections-len(a.idlers))
		a.poolSize = acct.MaxConnections
		s = syncer.New(&acct, store, a.d.db, syncer.Options{
			DialOptions: syncer.DialOptions{Password: pw, Timeout: a.d.opts.CommandTimeout, Link: a.link},
			Progress:    a.progress,
		})
		a.syncMu.Lock()
		a.syncer = s
		a.password = pw
		a.syncMu.Unlock()
	}
	a.newMu.Lock()
	a.newBy = map[string]int{}
	a.newMu.Unlock()
	var files map[string]string
	if len(fetch) > 0 {
		files = map[string]string{}
		for _, p := range fetch {
			files[p] = ""
			if err := s.FetchPlaceholder(ctx, p); err != nil {
				files[p] = err.Error()
			}
		}
	}
	st, err := a.targetedPass(ctx, s, t)
	onlyTargeted := err == nil
	if errors.Is(err, syncer.ErrFullPass) {
		a.log.Debug("more changed than the targeted pass can do: full pass")
		var full syncer.Stats
		full, err = s.Sync(ctx)
		st.Add(full)
	}
	a.newMu.Lock()
	newBy := a.newBy
	a.newBy = nil
	a.newMu.Unlock()
	if st.Down.New > 0 && len(newBy) == 0 {
		newBy = map[string]int{"": st.Down.New}
	}
	if err != nil && errors.Is(err, syncer.ErrAuth) {
		if s := a.takeSyncer(); s != nil {
			s.Close()
		}
	}
	changed := st.Down != (syncer.Counts{}) || st.Up != (syncer.Counts{}) || st.Paired > 0
	return passResult{summary: st.String(), newBy: newBy, warnings: st.Warnings, changed: changed, targeted: onlyTargeted, files: files, err: err}
}

// targetedPass pushes t's local changes and pulls what IDLE announced,
// each for just the messages concerned; syncer.ErrFullPass (also for a
// nil t) asks for a full pass.
func (a *account) targetedPass(ctx context.Context, s *syncer.Syncer, t *targeted) (syncer.Stats, error) {
	if t == nil {
		return syncer.Stats{}, syncer.ErrFullPass
	}
	var st syncer.Stats
	if len(t.local) > 0 {
		var err error
		if st, err = s.PushLocal(ctx, t.local); err != nil {
			return st, err
		}
	}
	if len(t.pulls) > 0 {
		pulled, err := s.PullNew(ctx, t.pulls...)
		t.lease.giveBack()
		st.Add(pulled)
		if err != nil {
			return st, err
		}
		// Keyword changes came with the pushed FLAGS (tags.go).
		if a.cfg.Tags != "" {
			tagged, err := s.TagPass(ctx)
			st.Add(tagged)
			if err != nil {
				st.Warnings = append(st.Warnings, err.Error())
			}
		}
	}
	return st, nil
}

// progress shows a pass's progress in the status and collects the number
// of messages downloaded per folder.
func (a *account) progress(p syncer.Progress) {
	a.setState(func(st *AccountStatus) {
		t := TransferStatus{Folder: p.Folder, Direction: p.Direction, Done: p.Done, Total: p.Total, Bytes: p.Bytes, TotalBytes: p.TotalBytes}
		for i := range st.Progress {
			if st.Progress[i].Folder == p.Folder && st.Progress[i].Direction == p.Direction {
				st.Progress[i] = t
				return
			}
		}
		st.Progress = append(st.Progress, t)
	})
	if p.Direction != "down" {
		return
	}
	a.newMu.Lock()
	if a.newBy != nil && p.Done > a.newBy[p.Folder] {
		a.newBy[p.Folder] = p.Done
	}
	a.newMu.Unlock()
}

func (a *account) passPOP3(ctx context.Context) passResult {
	res, err := pop3pull.SyncAccount(ctx, a.d.cfgNow(), a.cfg, a.d.db)
	var warnings []string
	for _, e := range res.Errors {
		warnings = append(warnings, e.Error())
	}
	folder := a.cfg.Folder
	if folder == "" {
		folder = maildir.Inbox
	}
	return passResult{
		summary:  pop3pull.Summary(res),
		newBy:    map[string]int{folder: res.Downloaded},
		warnings: warnings,
		changed:  res.Downloaded > 0 || res.Deleted > 0,
		err:      err,
	}
}

// dropSyncer closes the Syncer's connections in the background (they may
// be dead and slow to time out) so that the next pass dials afresh.
func (a *account) dropSyncer() {
	if s := a.takeSyncer(); s != nil {
		go s.Close()
	}
}

// secret returns the password the last Syncer logged in with, resolving
// it when there is none yet.
func (a *account) secret(ctx context.Context) (config.Secret, error) {
	a.syncMu.Lock()
	pw := a.password
	a.syncMu.Unlock()
	if pw != "" {
		return pw, nil
	}
	return a.cfg.ResolvePassword(ctx)
}

func (a *account) takeSyncer() *syncer.Syncer {
	a.syncMu.Lock()
	defer a.syncMu.Unlock()
	s := a.syncer
	a.syncer = nil
	return s
}

// finishPass records a pass's outcome, answers its requests, runs the hook
// and settles offline records. It returns what the pass learnt about the
// server.
func (a *account) finishPass(res passResult, reqs []*syncRequest, hooks *hookRunner, offlineOps map[string]int64) reach {
	now := time.Now()
	for _, w := range res.warnings {
		a.log.Warn("pass warning", "warning", w)
	}
	r := reachOf(res.err)
	a.setState(func(st *AccountStatus) {
		st.Syncing = false
		st.Progress = nil
		st.Connected = r == reachOK
		if res.err == nil {
			st.State = StateConnected
			st.Reason = ""
			st.LastPass = now
			st.LastSummary = res.summary
			st.Passes++
			if res.targeted {
				st.Targeted++
			}
			st.NextRetry = time.Time{}
			return
		}
		st.LastError = res.err.Error()
		st.LastErrorAt = now
		st.Reason = res.err.Error()
		st.State = stateFor(res.err, r == reachAuthFailed)
	})
	answer := SyncResult{Account: a.cfg.Name, Summary: res.summary}
	if res.err != nil {
		answer = SyncResult{Account: a.cfg.Name, Error: res.err.Error()}
	}
	for _, q := range reqs {
		r := answer
		for _, p := range q.fetch {
			msg, done := res.files[p]
			if !done {
				msg = r.Error
				if msg == "" {
					msg = "not fetched"
				}
			}
			r.Files = append(r.Files, FileResult{Path: p, Error: msg})
		}
		q.reply <- r
	}
	if res.err != nil {
		return r
	}
	if res.changed {
		a.log.Info("pass", "result", res.summary, "took", res.took.Round(time.Millisecond))
	} else {
		a.log.Debug("pass", "result", res.summary, "took", res.took.Round(time.Millisecond))
	}
	if hooks != nil && len(res.newBy) > 0 {
		hooks.add(res.newBy)
	}
	a.clearLocalChangeOps(offlineOps)
	return r
}

// isAuthError reports a login the server refused: retrying soon will not
// help.
func isAuthError(err error) bool {
	return errors.Is(err, syncer.ErrAuth) || errors.Is(err, pop3pull.ErrAuth)
}

// isDisconnect reports whether a pass error means the server was not
// reached or the connection broke, rather than a refusal of one command by
// a working server.
func isDisconnect(err error) bool {
	if isAuthError(err) {
		return true
	}
	// Several folders' errors: disconnected when one of them says so.
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return slices.ContainsFunc(j.Unwrap(), isDisconnect)
	}
	if w := errors.Unwrap(err); w != nil && w != err {
		if _, ok := w.(interface{ Unwrap() []error }); ok {
			return isDisconnect(w)
		}
	}
	if errors.Is(err, syncer.ErrLocal) {
		return false // the Maildir or the state DB: the server is fine
	}
	var ie *imap.Error
	if errors.As(err, &ie) {
		return false
	}
	return !errors.Is(err, pop3pull.ErrUnsupported)
}

// stateFor is the account state after a pass that failed with err.
func stateFor(err error, authFail bool) string {
	switch {
	case authFail:
		return StateAuthFailed
	case !isDisconnect(err) && errors.Is(err, syncer.ErrLocal):
		return StateLocalError
	default:
		return StateDisconnected
	}
}

// loadLocalChangeOps returns the folders with a local change record
// already in the state DB (left by an earlier run), by folder name, with
// the time each was recorded (Unix nanoseconds). The records are
// informational (state.MarkLocalChange): the Maildir and the state's base
// hold the change itself, and they are no write-ahead intents.
func (a *account) loadLocalChangeOps() map[string]int64 {
	out := map[string]int64{}
	changes, err := a.d.db.LocalChanges(a.cfg.Name)
	if err != nil {
		a.log.Warn("read the local change records", "err", err)
		return out
	}
	for folder, since := range changes {
		out[folder] = since.UnixNano()
	}
	return out
}

// recordLocalChange records, at most once per folder, that the folder
// changed while the account was disconnected.
func (a *account) recordLocalChange(ops map[string]int64, folder string) {
	if _, ok := ops[folder]; ok {
		return
	}
	if err := a.d.db.MarkLocalChange(a.cfg.Name, folder); err != nil {
		a.log.Warn("record a local change", "folder", folder, "err", err)
		return
	}
	ops[folder] = time.Now().UnixNano()
	a.log.Info("local change recorded while disconnected", "folder", folder)
}

// clearLocalChangeOps deletes the local change records after a successful
// pass pushed the changes.
func (a *account) clearLocalChangeOps(ops map[string]int64) {
	if len(ops) == 0 {
		return
	}
	folders := slices.Collect(maps.Keys(ops))
	if err := a.d.db.ClearLocalChanges(a.cfg.Name, folders...); err != nil {
		a.log.Warn("delete the local change records", "folders", folders, "err", err)
		return
	}
	clear(ops)
}

// newFolderCheck is how often an account whose every folder IDLEs is
// polled anyway, for folders created on the server (IDLE does not tell).
const newFolderCheck = 30 * time.Minute

// everyFolderIdles reports whether every folder of the account has a
// connected IDLE connection, so that polling it would only repeat what
// IDLE pushes.
func (a *account) everyFolderIdles() bool {
	folders, err := a.d.db.Folders(a.cfg.Name)
	if err != nil || len(folders) == 0 {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, f := range folders {
		if f.Remote == "" {
			continue
		}
		i := a.idlers[f.Remote]
		if i == nil || !i.status().Connected {
			return false
		}
	}
	return true
}

// updateIdlers starts and stops IDLE connections so that one runs for each
// folder of idle_folders the state knows (within max_connections, leaving
// one connection for passes).
func (a *account) updateIdlers(ctx context.Context) {
	slots := a.cfg.MaxConnections - 1
	var want []state.Folder
	if slots > 0 {
		folders, err := a.d.db.Folders(a.cfg.Name)
		if err != nil {
			a.log.Warn("list folders for IDLE", "err", err)
			return
		}
		for _, f := range folders {
			if f.Remote != "" && a.cfg.IsIdleFolder(f.Name) {
				want = append(want, f)
			}
		}
		// INBOX first, then by name.
		sort.SliceStable(want, func(i, j int) bool {
			ii, jj := strings.EqualFold(want[i].Name, maildir.Inbox), strings.EqualFold(want[j].Name, maildir.Inbox)
			if ii != jj {
				return ii
			}
			return want[i].Name < want[j].Name
		})
		if len(want) > slots {
			skipped := make([]string, 0, len(want)-slots)
			for _, f := range want[slots:] {
				skipped = append(skipped, f.Name)
			}
			a.log.Warn("more idle_folders than max_connections allows; polling the rest", "polled", strings.Join(skipped, ","), "max_connections", a.cfg.MaxConnections)
			want = want[:slots]
		}
	}
	keep := map[string]bool{}
	for _, f := range want {
		keep[f.Remote] = true
		if _, ok := a.idlers[f.Remote]; ok {
			continue
		}
		i := newIdler(a, f.Name, f.Remote)
		a.mu.Lock()
		a.idlers[f.Remote] = i
		a.mu.Unlock()
		i.start(ctx)
	}
	for name, i := range a.idlers {
		if !keep[name] {
			i.stop()
			a.mu.Lock()
			delete(a.idlers, name)
			a.mu.Unlock()
		}
	}
	// Keep the total within max_connections.
	if a.poolSize != max(1, a.cfg.MaxConnections-len(a.idlers)) {
		a.dropSyncer()
	}
}
