package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/state"
	"github.com/mailmirror/mailmirror/syncer"
)

func init() {
	register("archive", "move messages past archive_after to their local archive folder now", runArchive)
}

// runArchive runs the archive step of a pass on demand (after resolving
// pending intents), or with --dry-run lists what it would move and changes
// nothing: the state is opened read-only then, so it works while the
// daemon runs.
func runArchive(e *Env) int {
	fs := e.Flags("archive", "archive [--dry-run] [--config F] [ACCOUNT...]")
	dryRun := fs.Bool("dry-run", false, "list what would be archived; change nothing locally or on the server")
	if ok, code := e.Parse(fs); !ok {
		return code
	}
	cfg, accts, code := e.loadAccounts("archive")
	if code != ExitOK {
		return code
	}
	var todo []*config.Account
	for _, a := range accts {
		if hasArchivePolicy(a) {
			todo = append(todo, a)
		} else if len(e.Args) > 0 {
			fmt.Fprintf(e.Stderr, "mailmirror archive: account %q has no folder_policy with archive_after\n", a.Name)
			return ExitUsage
		}
	}
	if len(todo) == 0 {
		fmt.Fprintln(e.Stdout, "no account has a folder_policy with archive_after: nothing to do")
		return ExitOK
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var db *state.DB
	var err error
	if *dryRun {
		db, err = state.OpenReadOnly(cfg.StateDir)
	} else {
		db, err = state.Open(cfg.StateDir)
	}
	if err != nil {
		switch {
		case errors.Is(err, state.ErrLocked):
			fmt.Fprintf(e.Stderr, "mailmirror archive: the daemon is running and archives during its passes (at most once an hour); stop it to archive now, or use --dry-run to see what would go\n")
		case errors.Is(err, os.ErrNotExist):
			fmt.Fprintf(e.Stderr, "mailmirror archive: nothing was synced yet (no state in %s): run mailmirror sync first\n", cfg.StateDir)
		default:
			fmt.Fprintf(e.Stderr, "mailmirror archive: %v\n", err)
		}
		return ExitFailure
	}
	defer db.Close()

	failed := false
	for _, a := range todo {
		items, warnings, err := syncer.ArchiveAccount(ctx, a, db, *dryRun, syncer.Options{})
		var total int64
		for _, it := range items {
			total += it.Size
			subject := it.Subject
			if subject == "" {
				subject = it.MessageID
			}
			fmt.Fprintf(e.Stdout, "%s: %s -> %s  %s  %8s  %s\n", a.Name, it.Folder, it.ArchiveTo,
				it.Date.Format("2006-01-02"), humanBytes(it.Size), oneLine(subject))
		}
		verb := "archived"
		if *dryRun {
			verb = "would be archived"
		}
		fmt.Fprintf(e.Stdout, "%s: %d messages (%s) %s\n", a.Name, len(items), humanBytes(total), verb)
		for _, w := range warnings {
			fmt.Fprintf(e.Stdout, "  warning: %s\n", w)
		}
		if err != nil {
			failed = true
			fmt.Fprintf(e.Stderr, "%s\n", explain(a, err))
		}
	}
	if failed {
		return ExitFailure
	}
	return ExitOK
}

func hasArchivePolicy(a *config.Account) bool {
	for _, p := range a.FolderPolicies {
		if p.ArchiveAfter > 0 {
			return true
		}
	}
	return false
}

// humanBytes renders a size as "930 B", "12.3 KB", "4.1 MB" (powers of 1000).
func humanBytes(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1000*1000:
		return fmt.Sprintf("%.1f KB", float64(n)/1e3)
	case n < 1000*1000*1000:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%.1f GB", float64(n)/1e9)
}

// oneLine keeps a header value on one line, without control characters a
// hostile message could use to draw on the terminal.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
