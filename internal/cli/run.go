package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/daemon"
	"github.com/mailmirror/mailmirror/daemon/service"
	"github.com/mailmirror/mailmirror/state"
)

func init() {
	register("run", "run the daemon in the foreground", runDaemon)
	askDaemonToSync = daemonSync
}

func runDaemon(e *Env) int {
	fs := e.Flags("run", "run [--config F]")
	if ok, code := e.Parse(fs); !ok {
		return code
	}
	if len(e.Args) > 0 {
		fmt.Fprintf(e.Stderr, "mailmirror run: unexpected argument %q\n", e.Args[0])
		return ExitUsage
	}
	path := e.Config()
	cfg, err := config.Load(path)
	if err != nil {
		fmt.Fprintf(e.Stderr, "mailmirror: %v\n", err)
		return ExitFailure
	}
	db, err := state.Open(cfg.StateDir)
	if err != nil {
		if errors.Is(err, state.ErrLocked) {
			fmt.Fprintf(e.Stderr, "mailmirror run: another mailmirror is running on this state dir (%s); `mailmirror status` shows it\n", cfg.StateDir)
		} else {
			fmt.Fprintf(e.Stderr, "mailmirror run: %v\n", err)
		}
		return ExitFailure
	}
	defer db.Close()
	err = service.Run(service.Name, func(ctx context.Context) error {
		level := daemon.LevelVar(cfg.LogLevel)
		// Standard error, or the Windows Event Log under the SCM.
		h := service.LogHandler(ctx, func(w io.Writer) slog.Handler {
			return daemon.NewHandler(w, cfg.LogFormat, level)
		})
		log := slog.New(h)
		d := daemon.New(cfg, db, daemon.Options{Logger: log, LogLevel: level, ConfigPath: path})
		return d.Run(ctx)
	})
	if err != nil {
		fmt.Fprintf(e.Stderr, "mailmirror run: %v\n", err)
		return ExitFailure
	}
	return ExitOK
}

// daemonSync asks a running daemon to do a pass (mailmirror sync while the
// daemon holds the state lock) and prints its answer. ok is false when no
// daemon answers.
func daemonSync(ctx context.Context, e *Env, cfg *config.Config, accts []*config.Account, quiet bool) (int, bool) {
	var names []string
	for _, a := range accts {
		names = append(names, a.Name)
	}
	if len(names) == len(cfg.Accounts) {
		names = nil // all of them, as the daemon knows them
	}
	// Say that the daemon syncs only once one answers: the state may be
	// held by another one-shot sync.
	probe, cancel := context.WithTimeout(ctx, 5*time.Second)
	_, err := daemon.RequestStatus(probe, cfg.StateDir)
	cancel()
	if errors.Is(err, daemon.ErrNotRunning) {
		return 0, false
	}
	if !quiet {
		fmt.Fprintln(e.Stderr, "mailmirror sync: the daemon is running; asking it to sync")
	}
	res, err := daemon.RequestSync(ctx, cfg.StateDir, names)
	if err != nil && len(res) == 0 {
		if errors.Is(err, daemon.ErrNotRunning) {
			return 0, false
		}
		fmt.Fprintf(e.Stderr, "mailmirror sync: %v\n", err)
		return ExitFailure, true
	}
	code := ExitOK
	for _, r := range res {
		if r.Error != "" {
			fmt.Fprintf(e.Stderr, "%s: %s\n", r.Account, r.Error)
			code = ExitFailure
			continue
		}
		if !quiet {
			fmt.Fprintf(e.Stdout, "%s: %s\n", r.Account, r.Summary)
		}
	}
	if err != nil {
		fmt.Fprintf(e.Stderr, "mailmirror sync: %v\n", err)
		code = ExitFailure
	}
	return code, true
}
