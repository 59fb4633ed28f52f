package syncer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/maildir"
	"github.com/mailmirror/mailmirror/state"
)

// Options tune a Syncer. The zero value is usable once Password is set.
type Options struct {
	DialOptions
	// Progress, when set, is called as messages are transferred. It may be
	// called from several goroutines at once.
	Progress func(Progress)
	// DryRun: Sync finds what a pass would do and changes nothing (not the
	// server, not the Maildir, not the state, which may then be open
	// read-only); Stats.Plan holds what it found.
	DryRun bool
	// AllowDeletes names the local folders where this pass may delete
	// more than the mass-delete guard lets through ("" or "*": every
	// folder of the account).
	AllowDeletes []string
	// NotmuchEnv, when not nil, is the environment notmuch runs with for
	// tags = "notmuch" (this process's when nil).
	NotmuchEnv []string
	// NotmuchBin is the notmuch command ("notmuch" in PATH when empty).
	NotmuchBin string
	// Early, when set, is the connection DialEarly started for this
	// account with these options: SyncAccount's pass uses it (and its
	// password) instead of dialling, and closes it.
	Early *Early
}

// Progress reports the transfer of one folder.
type Progress struct {
	Folder     string
	Direction  string // "down" (downloads), "up" (uploads) or "read" (local files read to pair them)
	Done       int
	Total      int
	Bytes      int64
	TotalBytes int64
}

// Counts are the changes applied in one direction.
type Counts struct {
	New, Flags, Deleted, Moved int
}

func (c Counts) String() string {
	return fmt.Sprintf("%d new, %d flags, %d deleted, %d moved", c.New, c.Flags, c.Deleted, c.Moved)
}

// Stats summarises a pass.
type Stats struct {
	Folders int    // folders in sync scope
	Down    Counts // server → Maildir
	Up      Counts // Maildir → server
	Paired  int    // local files bound to server messages without transfer
	// Copied are new local files that are a message the server has in
	// another folder (mutt's save): copied there on the server (UID COPY),
	// not uploaded.
	Copied int
	// Held are the changes a one-way folder (direction) kept on the side
	// they were made: local changes under "pull", server changes under
	// "push". They are counted at every pass that sees them.
	Held  Counts
	Bytes int64 // message bytes downloaded
	// Archived counts messages moved into an archive_to folder and
	// deleted from the server (see Syncer.Archive).
	Archived int
	// Quota is the server's quota for INBOX as read at the start of the
	// pass (servers with QUOTA only).
	Quota []state.Quota
	// BytesIn and BytesOut are what the pass received from and sent to
	// the server on all its connections (TCP payload, logins included;
	// see Counters). Connections kept for the next pass are logged out
	// by Close, after the pass: those few bytes are not in them.
	BytesIn, BytesOut int64
	// Placeholders of messages above max_size stored (counted in
	// Down.New too), and placeholders replaced by their message.
	Placeholders, Fetched int
	// TagsDown counts notmuch messages whose tags a pass changed,
	// TagsUp server messages whose keywords it changed (tags = "notmuch").
	TagsDown, TagsUp int
	// Warnings are problems that did not stop the pass (a folder that
	// could not be mapped, a folder deleted on one side that still holds
	// messages on the other).
	Warnings []string
	// Plan is what a dry run found (Options.DryRun only).
	Plan *Plan
}

// Add adds the work of another pass to s (targeted passes before a full
// one).
func (s *Stats) Add(o Stats) {
	s.Folders = max(s.Folders, o.Folders)
	s.Down.add(o.Down)
	s.Up.add(o.Up)
	s.Paired += o.Paired
	s.Copied += o.Copied
	s.Held.add(o.Held)
	s.Bytes += o.Bytes
	s.Archived += o.Archived
	if o.Quota != nil {
		s.Quota = o.Quota
	}
	s.BytesIn += o.BytesIn
	s.BytesOut += o.BytesOut
	s.Placeholders += o.Placeholders
	s.Fetched += o.Fetched
	s.TagsDown += o.TagsDown
	s.TagsUp += o.TagsUp
	s.Warnings = append(s.Warnings, o.Warnings...)
}

func (c *Counts) add(o Counts) {
	c.New += o.New
	c.Flags += o.Flags
	c.Deleted += o.Deleted
	c.Moved += o.Moved
}

func (s Stats) String() string {
	out := fmt.Sprintf("down: %s; up: %s", s.Down, s.Up)
	if s.Paired > 0 {
		out += fmt.Sprintf("; %d paired without transfer", s.Paired)
	}
	if s.Copied > 0 {
		out += fmt.Sprintf("; %d copied on the server (not uploaded)", s.Copied)
	}
	if s.Held != (Counts{}) {
		out += fmt.Sprintf("; held by direction: %s", s.Held)
	}
	if s.Archived > 0 {
		out += fmt.Sprintf("; %d archived", s.Archived)
	}
	if s.Placeholders > 0 {
		out += fmt.Sprintf("; %d placeholders (above max_size)", s.Placeholders)
	}
	if s.Fetched > 0 {
		out += fmt.Sprintf("; %d placeholders fetched in full", s.Fetched)
	}
	if s.TagsDown+s.TagsUp > 0 {
		out += fmt.Sprintf("; tags: %d down, %d up", s.TagsDown, s.TagsUp)
	}
	return out
}

// Syncer syncs one IMAP account. It is safe to call Sync from one
// goroutine at a time.
type Syncer struct {
	acct  *config.Account
	store *maildir.Store
	db    *state.DB
	opts  Options
	names nameMap  // set by listRemote
	ns    *nameMap // the personal namespace, once NAMESPACE answered
	trash string   // server name of the Trash folder, "" when none
	conns int      // connections this pass uses (see connsFor)
	// remotes are the server's folders by name as the pass's LIST saw them.
	remotes map[string]*remoteFolder
	// notes are the folder notes this pass raised (see settleNotes).
	notes map[noteKey]string
	// rescan is a second look at every folder's keys, made when a pass is
	// about to delete on the server (see findKey); nil until then.
	rescan map[string]located

	pool *pool // kept between passes; see Close
	// lastArchive is when the archive step last ran (see archiveStep).
	lastArchive time.Time
	// lastQuota is the quota last recorded in the state (see readQuota).
	lastQuota []state.Quota
	// quotaRead is when readQuota last asked the server.
	quotaRead time.Time
	// tmpCleaned: the first pass removed what killed passes left in the
	// folders' tmp/ (see cleanTmp).
	tmpCleaned bool
	// tags is the notmuch side of tags = "notmuch", once found (tags.go).
	tags *tagSync

	mu    sync.Mutex
	stats Stats
}

// New returns a Syncer for acct, using store as its Maildir and db for
// state.
// Connections are kept open between passes (a daemon runs many); Close
// logs them out.
func New(acct *config.Account, store *maildir.Store, db *state.DB, opts Options) *Syncer {
	return newSyncer(acct, store, db, opts, nil)
}

// newSyncer is New with the pool of an Early (nil: a new one).
func newSyncer(acct *config.Account, store *maildir.Store, db *state.DB, opts Options, p *pool) *Syncer {
	opts.Early = nil
	if opts.Counters == nil {
		opts.Counters = &Counters{}
	}
	s := &Syncer{acct: acct, store: store, db: db, opts: opts, pool: p}
	if s.pool == nil {
		s.pool = newPool(s, acct.MaxConnections)
	}
	return s
}

// Close logs out every connection the Syncer holds.
func (s *Syncer) Close() {
	s.tagClose() // tags_local.go
	s.pool.close()
}

// Account is the account this Syncer syncs.
func (s *Syncer) Account() *config.Account { return s.acct }

func (s *Syncer) count(fn func(st *Stats)) {
	s.mu.Lock()
	fn(&s.stats)
	s.mu.Unlock()
}

func (s *Syncer) warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.count(func(st *Stats) { st.Warnings = append(st.Warnings, msg) })
}

// remoteFolder is a server mailbox as LIST reported it.
type remoteFolder struct {
	name   string
	attrs  []imap.MailboxAttr
	status *imap.StatusData
}

func (r *remoteFolder) hasAttr(a imap.MailboxAttr) bool {
	for _, x := range r.attrs {
		if strings.EqualFold(string(x), string(a)) {
			return true
		}
	}
	return false
}

// Sync runs one complete two-way pass.
func (s *Syncer) Sync(ctx context.Context) (Stats, error) {
	return s.counted(func() (Stats, error) { return s.tolerant(ctx, s.sync) })
}

// counted runs fn and adds the bytes on the wire meanwhile to its stats.
func (s *Syncer) counted(fn func() (Stats, error)) (Stats, error) {
	in, out := s.opts.Counters.In.Load(), s.opts.Counters.Out.Load()
	st, err := fn()
	st.BytesIn = s.opts.Counters.In.Load() - in
	st.BytesOut = s.opts.Counters.Out.Load() - out
	return st, markLocal(err)
}

// sync is Sync without the byte counts.
func (s *Syncer) sync(ctx context.Context) (Stats, error) {
	s.stats = Stats{}
	s.notes = nil
	p := s.pool
	s.tagBegin(ctx) // tags_local.go: notmuch is read while the pass runs
	defer s.tagEnd()

	warmed := s.warmLocal()
	c, err := p.get(ctx)
	<-warmed
	if err != nil {
		return s.stats, err
	}
	names, remotes, err := s.listRemote(c)
	if err != nil {
		p.discard(c)
		return s.stats, err
	}
	if !s.opts.DryRun {
		if err := s.readQuota(c); err != nil {
			p.discard(c)
			return s.stats, err
		}
	}
	p.put(c)
	s.names = names
	s.remotes = remotes

	if s.opts.DryRun {
		n, err := s.db.OpCount(s.acct.Name)
		if err != nil {
			return s.stats, err
		}
		s.planFolder(maildir.Inbox) // the plan is never nil
		s.stats.Plan.Pending = n
	} else if err := s.resolveIntents(ctx, p); err != nil {
		return s.stats, err
	}

	jobs, err := s.plan(ctx, p, remotes)
	if err != nil {
		return s.stats, err
	}
	if err := s.deferIdentities(jobs); err != nil { // detect.go: a first sync
		return s.stats, err
	}
	s.stats.Folders = len(jobs)
	if !s.tmpCleaned {
		s.tmpCleaned = true
		s.cleanTmp(jobs)
	}
	s.conns = s.connsFor(jobs)
	busy := 0
	for _, j := range jobs {
		if !j.serverUnchanged() {
			busy++
		}
	}
	if s.conns > 1 {
		p.warm(ctx, min(busy, s.conns))
	}

	// Phase A: find what changed, folder by folder, in parallel. A
	// folder that fails (a broken link) is left out; the others go on.
	detectErr := s.parallel(ctx, p, jobs, (*job).detect)
	if ctx.Err() != nil {
		return s.stats, detectErr
	}
	var ok, failed []*job
	for _, j := range jobs {
		if j.failed {
			failed = append(failed, j)
		} else {
			ok = append(ok, j)
		}
	}
	// Moves and pairs across folders need every folder's changes.
	s.rescan = nil
	s.matchAcross(ok)
	s.keepDeletesSeenIn(ok, failed)
	s.holdOneWay(ok)
	s.guardDeletes(ok)
	if s.opts.DryRun {
		s.describe(ok)
		return s.stats, detectErr
	}
	if err := s.settleNotes(); err != nil {
		return s.stats, err
	}
	// Phase B: apply.
	err = errors.Join(detectErr, s.parallel(ctx, p, ok, (*job).apply))
	// Keywords ↔ notmuch tags, with the pairs up to date (tags.go). A
	// notmuch problem does not fail the pass: mail first, tags next time.
	if err == nil {
		if terr := s.tagStep(ctx, ok); terr != nil {
			s.warn("%v", terr)
		}
	}
	// Then archive_after, with the state up to date.
	err = errors.Join(err, s.archiveStep(ctx))
	return s.stats, err
}

// warmLocal reads, in the background, what plan reads first: the
// account's folders in the state and the Maildir's folder list, while the
// pass waits for the server's greeting and login. Nothing is kept: the
// first query of a process pays for SQLite's schema and the first reads
// of its file (several milliseconds), and the one plan makes is then
// cheap. The channel is closed when it is done.
func (s *Syncer) warmLocal() <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.db.Folders(s.acct.Name)
		s.store.Folders()
	}()
	return done
}

// parallel runs fn for every job with up to MaxConnections connections,
// each taken from the pool only when the job needs the server. Errors of
// single folders are collected and do not stop the other folders. Once ctx
// is done no more folders start, and its error is among those returned.
func (s *Syncer) parallel(ctx context.Context, p *pool, jobs []*job, fn func(*job, context.Context, *lazyConn) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	work := make(chan *job)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	conns := max(s.conns, 1)
	// More workers than connections: a folder's local part (its pairs,
	// its directory, renames and fsyncs) runs while another folder
	// holds the connection; the workers share conns connections.
	n := min(max(conns, localWorkers), len(jobs))
	sem := make(chan struct{}, conns)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lc := &lazyConn{p: p, ctx: ctx, sem: sem}
			defer lc.release(nil)
			for j := range work {
				if j.quiet || ctx.Err() != nil {
					continue
				}
				// One folder's error does not stop the others.
				err := markLocal(fn(j, ctx, lc))
				if err != nil {
					j.failed = true
					mu.Lock()
					errs = append(errs, fmt.Errorf("folder %q: %w", j.local, err))
					mu.Unlock()
				}
				lc.release(err)
			}
		}()
	}
	// Biggest folders first, so that they do not start last.
	sort.SliceStable(jobs, func(a, b int) bool { return jobs[a].weight() > jobs[b].weight() })
	for _, j := range jobs {
		select {
		case work <- j:
		case <-ctx.Done():
		}
	}
	close(work)
	wg.Wait()
	// A cancelled pass never reports success: folders it did not reach
	// were neither fetched nor applied.
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// localWorkers is the least number of folders a pass works on at once,
// whatever its number of connections.
const localWorkers = 4

// lazyConn is a worker's connection, taken on first use.
type lazyConn struct {
	p    *pool
	ctx  context.Context
	sem  chan struct{} // the pass's connections: one slot per connection in use
	c    *Conn
	lent bool // c is not the pool's (PullNew over an IDLE connection): release only lets go of it
}

func (l *lazyConn) get() (*Conn, error) {
	if l.c != nil {
		return l.c, nil
	}
	select {
	case l.sem <- struct{}{}:
	case <-l.ctx.Done():
		return nil, l.ctx.Err()
	}
	c, err := l.p.get(l.ctx)
	if err != nil {
		<-l.sem
		return nil, err
	}
	l.c = c
	return c, nil
}

// release gives the connection back to the pool, or closes it when err
// shows it is broken.
func (l *lazyConn) release(err error) {
	if l.c == nil {
		return
	}
	if l.lent {
		l.lent = false
	} else if err != nil && isConnError(err) {
		l.p.discard(l.c)
	} else {
		l.p.put(l.c)
	}
	l.c = nil
	<-l.sem
}

// isConnError reports errors after which a connection is not reusable:
// not a server's refusal of one command, not a local error.
func isConnError(err error) bool {
	var ie *imap.Error
	if errors.As(err, &ie) || errors.Is(err, ErrLocal) || localCause(err) {
		return false
	}
	return true
}

// listRemote lists the server's folders (with their STATUS when the server
// has LIST-STATUS) and reads its namespace.
func (s *Syncer) listRemote(c *Conn) (nameMap, map[string]*remoteFolder, error) {
	return s.listRemoteKeeping(c, nil)
}

// listRemoteKeeping is listRemote leaving the connection's selected
// folder selected when keep has it (PullNew, which selects it again
// next): its STATUS is then the session's view, possibly stale.
func (s *Syncer) listRemoteKeeping(c *Conn, keep map[string]bool) (nameMap, map[string]*remoteFolder, error) {
	var nm nameMap
	caps := c.Caps()
	if sel := c.Selected(); sel != "" && !keep[sel] {
		// Dovecot answers STATUS for the selected folder from the
		// session's view: a connection kept from an earlier pass must
		// leave it (UNSELECT costs nothing) or catch up (NOOP syncs
		// the folder), or LIST-STATUS hides the changes since.
		if caps.Has(imap.CapUnselect) || caps.Has(imap.CapIMAP4rev2) {
			if err := c.Unselect().Wait(); err != nil {
				return nm, nil, err
			}
			c.ClearSelected()
		} else if err := c.Noop().Wait(); err != nil {
			return nm, nil, err
		}
	}
	// NAMESPACE is asked once per Syncer (a daemon's passes need not ask
	// again), in the same round trip as the LIST: their replies differ in
	// kind, so go-imap tells them apart.
	var nsCmd *imapclient.NamespaceCommand
	if caps.Has(imap.CapNamespace) && s.ns == nil {
		nsCmd = c.Namespace()
	}
	opts := &imap.ListOptions{}
	if caps.Has(imap.CapListStatus) || caps.Has(imap.CapIMAP4rev2) {
		opts.ReturnStatus = statusOptions(caps)
	}
	listCmd := c.List("", "*", opts)
	if nsCmd != nil {
		ns, err := nsCmd.Wait()
		if err == nil {
			s.ns = &nameMap{}
			if ns != nil && len(ns.Personal) > 0 {
				s.ns.prefix, s.ns.delim = ns.Personal[0].Prefix, ns.Personal[0].Delim
			}
		}
	}
	if s.ns != nil {
		nm = *s.ns
	}
	list, err := listCmd.Collect()
	if err != nil {
		return nm, nil, fmt.Errorf("list folders: %w", err)
	}
	remotes := map[string]*remoteFolder{}
	for _, l := range list {
		if nm.delim == 0 && l.Delim != 0 {
			nm.delim = l.Delim
		}
		r := &remoteFolder{name: l.Mailbox, attrs: l.Attrs, status: l.Status}
		remotes[l.Mailbox] = r
		if r.hasAttr(imap.MailboxAttrTrash) {
			s.trash = l.Mailbox
		}
	}
	if s.trash == "" && s.acct.TrashFolder != "" {
		if _, ok := remotes[s.acct.TrashFolder]; ok {
			s.trash = s.acct.TrashFolder
		}
	}
	if s.trash == "" {
		for name := range remotes {
			if ln, err := nm.local(name); err == nil && strings.EqualFold(ln, "Trash") {
				s.trash = name
			}
		}
	}
	if nm.delim == 0 {
		nm.delim = '/'
	}
	return nm, remotes, nil
}

func statusOptions(caps imap.CapSet) *imap.StatusOptions {
	return &imap.StatusOptions{
		NumMessages:   true,
		UIDNext:       true,
		UIDValidity:   true,
		HighestModSeq: caps.Has(imap.CapCondStore),
	}
}

// SyncAccount resolves the account's password, opens its Maildir and runs
// one pass. opts.Password is filled in when empty.
func SyncAccount(ctx context.Context, acct *config.Account, db *state.DB, opts Options) (st Stats, err error) {
	err = withAccount(ctx, acct, db, opts, func(s *Syncer) error {
		st, err = s.Sync(ctx)
		return err
	})
	return st, err
}

// withAccount is what the one-shot entry points (SyncAccount,
// FetchAccount, ArchiveAccount) share: it resolves the account's password
// unless opts has one (or takes the password and connection of
// opts.Early), opens its Maildir (openStore), and runs fn with a Syncer it
// closes afterwards. An error before fn runs is returned as it is.
func withAccount(ctx context.Context, acct *config.Account, db *state.DB, opts Options, fn func(*Syncer) error) error {
	early, err := takeEarly(acct, &opts)
	if err != nil {
		return err
	}
	if early != nil {
		defer early.close()
	}
	if opts.Password == "" {
		pw, err := acct.ResolvePassword(ctx)
		if err != nil {
			return err
		}
		opts.Password = pw
	}
	store, err := openStore(acct, opts.DryRun)
	if err != nil {
		return err
	}
	s := newSyncer(acct, store, db, opts, early)
	defer s.Close()
	return fn(s)
}

// openStore opens the account's Maildir; a dry run does not create its
// root when it is missing.
func openStore(acct *config.Account, dryRun bool) (*maildir.Store, error) {
	if dryRun {
		if _, err := os.Stat(acct.Maildir); err != nil {
			abs, aerr := filepath.Abs(acct.Maildir)
			if aerr != nil {
				return nil, aerr
			}
			layout := acct.Layout
			if layout == "" {
				layout = maildir.LayoutVerbatim
			}
			return &maildir.Store{Root: abs, Layout: layout}, nil
		}
	}
	return maildir.Open(acct.Maildir, acct.Layout)
}

// bulkMessages is the number of new server messages from which a pass uses
// several connections. Below it one connection does all folders one after
// the other: a login costs more (tens of milliseconds of server CPU) than
// what a few folders' changes take.
const bulkMessages = 200

// connsFor decides how many connections a pass needs: max_connections for
// a first sync of a folder or many new messages, else one.
func (s *Syncer) connsFor(jobs []*job) int {
	newMsgs := 0
	for _, j := range jobs {
		if j.st.UIDValidity == 0 || j.status == nil || j.status.UIDValidity != j.st.UIDValidity {
			return s.acct.MaxConnections
		}
		if next := uint32(j.status.UIDNext); next > j.st.UIDNext {
			newMsgs += int(next - j.st.UIDNext)
		}
	}
	if newMsgs >= bulkMessages {
		return s.acct.MaxConnections
	}
	return 1
}

// cleanTmp removes the downloads that an earlier process, killed before it
// published them, left in the folders' tmp/ (its intents are settled by
// then), keeping the partial downloads the state records for resuming.
// Failures only leave files behind: they are warned about, not fatal.
func (s *Syncer) cleanTmp(jobs []*job) {
	for _, j := range jobs {
		if j.lf == nil {
			continue
		}
		keep := map[string]bool{}
		if j.st.ID != 0 {
			parts, err := s.db.Partials(j.st.ID)
			if err != nil {
				s.warn("folder %q: tmp/ not cleaned: %v", j.local, err)
				continue
			}
			for _, p := range parts {
				keep[p.File] = true
			}
		}
		if _, err := j.lf.CleanTmp(keep, time.Now()); err != nil {
			s.warn("folder %q: tmp/ not cleaned: %v", j.local, err)
		}
	}
}

// keepDeletesSeenIn cancels the server deletes of jobs whose file now lies
// in a folder left out of the pass (failed): that is a move the pass
// cannot see, which the next pass carries out.
func (s *Syncer) keepDeletesSeenIn(jobs, failed []*job) {
	if len(failed) == 0 {
		return
	}
	keys := map[string]bool{}
	for _, f := range failed {
		ents, err := f.lf.Scan()
		if err != nil {
			// Unknown: no delete this pass.
			for _, j := range jobs {
				j.serverDeletes = nil
			}
			return
		}
		for _, e := range ents {
			keys[e.Key] = true
		}
	}
	for _, j := range jobs {
		kept := j.serverDeletes[:0]
		for _, p := range j.serverDeletes {
			if !keys[p.Key] {
				kept = append(kept, p)
			}
		}
		j.serverDeletes = kept
	}
}
