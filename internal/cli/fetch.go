package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/daemon"
	"github.com/mailmirror/mailmirror/state"
	"github.com/mailmirror/mailmirror/syncer"
)

func init() {
	register("fetch", "replace max_size placeholders with their full messages", runFetch)
}

// runFetch replaces placeholder files with the messages they stand for,
// in place, whatever max_size says.
func runFetch(e *Env) int {
	fs := e.Flags("fetch", "fetch [--config F] FILE...")
	if ok, code := e.Parse(fs); !ok {
		return code
	}
	if len(e.Args) == 0 {
		fmt.Fprintln(e.Stderr, "mailmirror fetch: name the placeholder files to download (paths in an account's Maildir)")
		return ExitUsage
	}
	cfg, err := config.Load(e.Config())
	if err != nil {
		fmt.Fprintf(e.Stderr, "mailmirror: %v\n", err)
		return ExitFailure
	}
	failed := false
	// Paths by account, in the order given.
	var order []*config.Account
	byAcct := map[*config.Account][]string{}
	for _, p := range e.Args {
		abs, err := filepath.Abs(p)
		if err == nil {
			_, err = os.Stat(abs)
		}
		if err != nil {
			fmt.Fprintf(e.Stderr, "mailmirror fetch: %v\n", err)
			failed = true
			continue
		}
		a := owner(cfg, abs)
		if a == nil {
			fmt.Fprintf(e.Stderr, "mailmirror fetch: %s is not in the Maildir of an IMAP account of %s\n", p, cfg.Path)
			failed = true
			continue
		}
		if byAcct[a] == nil {
			order = append(order, a)
		}
		byAcct[a] = append(byAcct[a], abs)
	}
	if len(order) == 0 {
		return ExitFailure
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Without the state to ourselves (the daemon runs), the daemon does it.
	var fetch func(a *config.Account, paths []string) ([]error, error)
	db, err := state.Open(cfg.StateDir)
	switch {
	case errors.Is(err, state.ErrLocked):
		fetch = func(a *config.Account, paths []string) ([]error, error) {
			return fetchByDaemon(ctx, cfg.StateDir, a, paths)
		}
	case err != nil:
		fmt.Fprintf(e.Stderr, "mailmirror fetch: %v\n", err)
		return ExitFailure
	default:
		defer db.Close()
		fetch = func(a *config.Account, paths []string) ([]error, error) {
			return syncer.FetchAccount(ctx, a, db, syncer.Options{}, paths)
		}
	}
	for _, a := range order {
		paths := byAcct[a]
		errs, err := fetch(a, paths)
		if err != nil {
			fmt.Fprintf(e.Stderr, "%s\n", explain(a, err))
			failed = true
			continue
		}
		for i, p := range paths {
			if errs[i] != nil {
				fmt.Fprintf(e.Stderr, "mailmirror fetch: %s: %v\n", a.Name, errs[i])
				failed = true
				continue
			}
			fmt.Fprintf(e.Stdout, "%s: fetched %s\n", a.Name, p)
		}
	}
	if failed {
		return ExitFailure
	}
	return ExitOK
}

// fetchByDaemon asks the running daemon to fetch an account's placeholder
// files, and returns an error per path (nil when fetched).
func fetchByDaemon(ctx context.Context, stateDir string, a *config.Account, paths []string) ([]error, error) {
	res, err := daemon.RequestFetch(ctx, stateDir, a.Name, paths)
	if err != nil {
		if errors.Is(err, daemon.ErrNotRunning) {
			return nil, fmt.Errorf("mailmirror fetch: the state in %s is locked, but no daemon answers on its control socket: %w", stateDir, err)
		}
		return nil, err
	}
	if res.Error != "" && len(res.Files) == 0 {
		return nil, errors.New(res.Error)
	}
	errs := make([]error, len(paths))
	for i, p := range paths {
		errs[i] = errors.New("the daemon did not answer for it")
		for _, f := range res.Files {
			if f.Path == p {
				errs[i] = nil
				if f.Error != "" {
					errs[i] = errors.New(f.Error)
				}
			}
		}
	}
	return errs, nil
}

// owner returns the IMAP account whose Maildir holds path, or nil.
func owner(cfg *config.Config, path string) *config.Account {
	for _, a := range cfg.Accounts {
		if a.Protocol != config.ProtocolPOP3 && syncer.Owns(a, path) {
			return a
		}
	}
	return nil
}
