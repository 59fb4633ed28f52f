package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/daemon"
	"github.com/mailmirror/mailmirror/pop3pull"
	"github.com/mailmirror/mailmirror/state"
	"github.com/mailmirror/mailmirror/syncer"
)

func init() {
	register("sync", "run one two-way pass and exit", runSync)
}

const syncSynopsis = `sync [--config F] [--quiet] [--dry-run] [--allow-deletes ACCOUNT[/FOLDER]]... [ACCOUNT...]

Runs one complete pass of each account (all when none is named) and exits.
When the daemon (mailmirror run, or the service) is running, it holds the
state: sync then hands the pass to the daemon over its control socket and
prints the daemon's results.

Exit status: 0 when every account synced; 1 when one failed (the reason
is on standard error) or the config is invalid; 2 for bad usage or an
account the config does not have.

Flags:`

func runSync(e *Env) int {
	fs := e.Flags("sync", syncSynopsis)
	quiet := fs.Bool("quiet", false, "print nothing but errors")
	dryRun := fs.Bool("dry-run", false, "print what a pass would do, per account and folder; change nothing (server, Maildir, state)")
	var allow allowList
	fs.Var(&allow, "allow-deletes", "let this pass delete more than the mass-delete guard allows in ACCOUNT (every folder) or ACCOUNT/FOLDER; repeatable")
	if ok, code := e.Parse(fs); !ok {
		return code
	}
	cfg, accts, code := e.loadAccounts("sync")
	if code != ExitOK {
		return code
	}
	for _, a := range allow {
		if cfg.Account(a.account) == nil {
			fmt.Fprintf(e.Stderr, "mailmirror sync: --allow-deletes %s: no account named %q in %s\n", a.raw, a.account, cfg.Path)
			return ExitUsage
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *dryRun {
		return dryRunSync(ctx, e, cfg, accts)
	}

	// The first IMAP account's login starts now, while the state opens.
	first := dialEarly(ctx, accts)
	defer first.Close()
	db, err := state.Open(cfg.StateDir)
	if err != nil {
		first.Close()
		if errors.Is(err, state.ErrLocked) {
			if len(allow) > 0 {
				fmt.Fprintf(e.Stderr, "mailmirror sync: --allow-deletes: the daemon is running and holds the state; stop it, run this again, then start it\n")
				return ExitFailure
			}
			if code, ok := askDaemonToSync(ctx, e, cfg, accts, *quiet); ok {
				return code
			}
			fmt.Fprintf(e.Stderr, "mailmirror sync: another mailmirror process holds the state in %s and no daemon answers "+
				"there: most likely another `mailmirror sync` is running; wait for it to finish and try again\n", cfg.StateDir)
			return ExitFailure
		}
		fmt.Fprintf(e.Stderr, "mailmirror sync: %v\n", err)
		return ExitFailure
	}
	defer db.Close()

	prog := newProgress(e.Stderr, *quiet)
	failed := false
	for _, a := range accts {
		start := time.Now()
		nb := &newBy{m: map[string]int{}}
		summary, err := syncOne(ctx, a, db, syncer.Options{Progress: nb.wrap(prog.report(a.Name)), AllowDeletes: allow.folders(a.Name), Early: first.imap}, first.pop3)
		prog.clear()
		// New mail stored, even by a pass that then failed: run the hook
		// (notmuch new) as the daemon would.
		if herr := daemon.RunHook(ctx, a.OnNewMail, a.Name, nb.m, e.Stdout, e.Stderr); herr != nil {
			fmt.Fprintf(e.Stderr, "mailmirror sync: account %q: on_new_mail failed: %v\n", a.Name, herr)
		}
		var pe *ProblemsError
		if errors.As(err, &pe) {
			// One line per problem, then the pass's own error if any.
			failed = true
			if !*quiet && summary != "" {
				fmt.Fprintf(e.Stdout, "%s: %s (%.1fs)\n", a.Name, summary, time.Since(start).Seconds())
			}
			for _, p := range pe.Problems {
				fmt.Fprintf(e.Stderr, "%s: %s\n", a.Name, p)
			}
			if pe.Err != nil {
				fmt.Fprintf(e.Stderr, "%s\n", explain(a, pe.Err))
			}
			continue
		}
		if err != nil {
			failed = true
			fmt.Fprintf(e.Stderr, "%s\n", explain(a, err))
			continue
		}
		if !*quiet {
			fmt.Fprintf(e.Stdout, "%s: %s (%.1fs)\n", a.Name, summary, time.Since(start).Seconds())
		}
	}
	if failed {
		return ExitFailure
	}
	return ExitOK
}

// early is the first session of the first account, dialled before the
// state is open (one of the two, or neither).
type early struct {
	imap *syncer.Early
	pop3 *pop3pull.Early
}

// dialEarly starts the login of the first account of accts: a one-shot
// pass then waits for the server's greeting and login while it opens the
// state, not after. Only the first account: a password_command may
// prompt, and the others' turn comes later.
func dialEarly(ctx context.Context, accts []*config.Account) early {
	if len(accts) == 0 {
		return early{}
	}
	switch a := accts[0]; a.Protocol {
	case config.ProtocolIMAP:
		return early{imap: syncer.DialEarly(ctx, a, syncer.Options{})}
	case config.ProtocolPOP3:
		return early{pop3: pop3pull.DialEarly(ctx, a, "", 0)}
	}
	return early{}
}

// Close abandons the sessions no pass took.
func (e early) Close() {
	e.imap.Close()
	e.pop3.Close()
}

// newBy counts the messages a pass downloaded per folder, from its
// progress reports (the POP3 pass reports its folder once at the end).
type newBy struct {
	mu sync.Mutex
	m  map[string]int
}

// wrap returns a progress function that counts, then calls next (may be
// nil).
func (n *newBy) wrap(next func(syncer.Progress)) func(syncer.Progress) {
	return func(p syncer.Progress) {
		if p.Direction == "down" {
			n.mu.Lock()
			n.m[p.Folder] = max(n.m[p.Folder], p.Done)
			n.mu.Unlock()
		}
		if next != nil {
			next(p)
		}
	}
}

// SyncOne runs one pass of one account of either protocol and returns a
// one-line summary. Warnings are part of the summary. progress, when set,
// also gets a "down" report of a POP3 pass's downloads.
func SyncOne(ctx context.Context, a *config.Account, db *state.DB, progress func(syncer.Progress)) (string, error) {
	return syncOne(ctx, a, db, syncer.Options{Progress: progress}, nil)
}

// syncOne is SyncOne with the IMAP engine's options and the POP3 session
// dialled early (nil: none).
func syncOne(ctx context.Context, a *config.Account, db *state.DB, opts syncer.Options, pop3Early *pop3pull.Early) (string, error) {
	switch a.Protocol {
	case config.ProtocolPOP3:
		res, err := pop3pull.SyncAccountWith(ctx, a, db, &pop3pull.Options{Early: pop3Early})
		if opts.Progress != nil && res.Downloaded > 0 {
			opts.Progress(syncer.Progress{Folder: a.Folder, Direction: "down", Done: res.Downloaded, Total: res.Downloaded})
		}
		if len(res.Errors) > 0 {
			pe := &ProblemsError{Err: err}
			for _, e := range res.Errors {
				pe.Problems = append(pe.Problems, e.Error())
			}
			if err != nil {
				return "", pe
			}
			return pop3pull.Summary(res), pe
		}
		if err != nil {
			return "", err
		}
		return pop3pull.Summary(res), nil
	default:
		st, err := syncer.SyncAccount(ctx, a, db, opts)
		out := st.String()
		for _, w := range st.Warnings {
			out += "\n  warning: " + w
		}
		return out, err
	}
}

// ProblemsError is a pass that left things undone: Problems says what, one
// line each (a POP3 message not fetched, a deletion held back); Err is the
// pass's own error, nil when it ended normally.
type ProblemsError struct {
	Problems []string
	Err      error
}

// Error implements error.
func (e *ProblemsError) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return fmt.Sprintf("%d problems: %s", len(e.Problems), strings.Join(e.Problems, "; "))
}

// Unwrap returns the pass's own error.
func (e *ProblemsError) Unwrap() error { return e.Err }

func selectAccounts(cfg *config.Config, names []string) ([]*config.Account, error) {
	if len(names) == 0 {
		return cfg.Accounts, nil
	}
	var out []*config.Account
	for _, n := range names {
		a := cfg.Account(n)
		if a == nil {
			return nil, fmt.Errorf("no account named %q in %s", n, cfg.Path)
		}
		out = append(out, a)
	}
	return out, nil
}

// progress draws a one-line transfer display on a terminal.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	on    bool // a terminal: one line redrawn in place
	plain bool // not a terminal: a plain line now and then
	last  time.Time
	drawn bool
}

func newProgress(w io.Writer, quiet bool) *progress {
	tty := isTerminal(w)
	return &progress{w: w, on: !quiet && tty, plain: !quiet && !tty}
}

// plainEvery is how many messages pass between two plain progress lines.
const plainEvery = 1000

func (p *progress) report(account string) func(syncer.Progress) {
	if p.plain {
		return func(pr syncer.Progress) {
			if pr.Total < plainEvery || (pr.Done%plainEvery != 0 && pr.Done != pr.Total) {
				return
			}
			p.mu.Lock()
			defer p.mu.Unlock()
			verb := map[string]string{"down": "downloaded", "up": "uploaded", "read": "read to pair"}[pr.Direction]
			fmt.Fprintf(p.w, "%s/%s: %s %d of %d messages\n", account, pr.Folder, verb, pr.Done, pr.Total)
		}
	}
	if !p.on {
		return nil
	}
	return func(pr syncer.Progress) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if time.Since(p.last) < 100*time.Millisecond && pr.Done != pr.Total {
			return
		}
		p.last = time.Now()
		switch pr.Direction {
		case "read":
			fmt.Fprintf(p.w, "\r\033[K%s/%s: reading local files to pair them: %d/%d", account, pr.Folder, pr.Done, pr.Total)
		default:
			fmt.Fprintf(p.w, "\r\033[K%s/%s: %s %d/%d messages, %.1f/%.1f MB", account, pr.Folder, pr.Direction, pr.Done, pr.Total, float64(pr.Bytes)/1e6, float64(pr.TotalBytes)/1e6)
		}
		p.drawn = true
	}
}

func (p *progress) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\r\033[K")
		p.drawn = false
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// askDaemonToSync is replaced once the daemon's control socket exists.
var askDaemonToSync = func(ctx context.Context, e *Env, cfg *config.Config, accts []*config.Account, quiet bool) (int, bool) {
	return 0, false
}

// explain turns an account's error into a message that says what
// happened and what to do.
func explain(a *config.Account, err error) string {
	msg := fmt.Sprintf("%s: %v", a.Name, err)
	switch {
	case errors.Is(err, syncer.ErrAuth):
		src := "the password"
		switch {
		case a.PasswordCommand != "":
			src = "password_command"
		case a.PasswordEnv != "":
			src = "password_env ($" + a.PasswordEnv + ")"
		case a.Password != "":
			src = "password"
		}
		msg = fmt.Sprintf("login failed for account %s: %v; check username and %s", a.Name, err, src)
	case errors.Is(err, syncer.ErrNoStartTLS):
		msg += "; the server cannot encrypt the connection: use tls = \"implicit\" (port 993) if it offers it"
	case strings.Contains(err.Error(), "connection refused"), strings.Contains(err.Error(), "no such host"),
		strings.Contains(err.Error(), "i/o timeout") && beforeLogin(err):
		msg += fmt.Sprintf("; check host and port (%s) and your network", a.Address())
	case strings.Contains(err.Error(), "i/o timeout"):
		msg += "; the server stopped answering in the middle of the session (a bad link, or a server in trouble): sync again later"
	case errors.Is(err, state.ErrCorrupt), strings.Contains(err.Error(), "database disk image is malformed"):
		msg += "; the state database is damaged: move state.db in the state directory aside and sync again (IMAP accounts pair their messages again without downloading them)"
	case strings.Contains(err.Error(), "certificate"):
		msg += "; if the server uses a private CA, set tls_ca_file"
	}
	return msg
}

// beforeLogin reports whether err happened before the server accepted
// the login: only then are host, port and network the likely cause of a
// timeout. POP3 errors say it (pop3pull.BeforeLogin); IMAP errors are
// recognised by the steps of syncer.Dial that come before the login.
func beforeLogin(err error) bool {
	if pop3pull.BeforeLogin(err) {
		return true
	}
	msg := err.Error()
	for _, step := range []string{"connect to ", "TLS handshake with ", "greeting from ", "STARTTLS with "} {
		if strings.Contains(msg, step) {
			return true
		}
	}
	return false
}

// loadAccounts loads the config and selects the accounts named in e.Args
// (all when none). On failure it prints why and returns the exit code.
func (e *Env) loadAccounts(cmd string) (*config.Config, []*config.Account, int) {
	cfg, err := config.Load(e.Config())
	if err != nil {
		fmt.Fprintf(e.Stderr, "mailmirror: %v\n", err)
		return nil, nil, ExitFailure
	}
	accts, err := selectAccounts(cfg, e.Args)
	if err != nil {
		fmt.Fprintf(e.Stderr, "mailmirror %s: %v\n", cmd, err)
		return nil, nil, ExitUsage
	}
	return cfg, accts, ExitOK
}
