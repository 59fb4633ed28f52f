package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/daemon"
	"github.com/mailmirror/mailmirror/internal/demo"
	"github.com/mailmirror/mailmirror/state"
)

func init() {
	register("demo", "run a self-contained demo against in-process servers", runDemo)
}

func runDemo(e *Env) int {
	fs := e.Flags("demo", "demo [--dir D] [--every 5s]")
	dir := fs.String("dir", "mailmirror-demo", "directory for the demo's config, state and Maildirs")
	every := fs.Duration("every", 5*time.Second, "how often a new message arrives on the demo server")
	imapAddr := fs.String("imap-addr", "127.0.0.1:0", "listen address of the demo IMAP server")
	pop3Addr := fs.String("pop3-addr", "127.0.0.1:0", "listen address of the demo POP3 server")
	if ok, code := e.Parse(fs); !ok {
		return code
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts := demo.Options{Dir: *dir, Every: *every, IMAPAddr: *imapAddr, POP3Addr: *pop3Addr, Out: e.Stdout}
	err := demo.Run(ctx, opts, func(ctx context.Context, path string) error {
		return runDemoDaemon(ctx, path, e.Stderr)
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(e.Stderr, "mailmirror demo: %v\n", err)
		return ExitFailure
	}
	fmt.Fprintln(e.Stdout, "demo stopped; the Maildir stays in", *dir)
	return ExitOK
}

// runDemoDaemon runs the daemon on the demo's config until ctx ends.
func runDemoDaemon(ctx context.Context, path string, logTo io.Writer) error {
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	db, err := state.Open(cfg.StateDir)
	if err != nil {
		return err
	}
	defer db.Close()
	level := daemon.LevelVar(cfg.LogLevel)
	log := slog.New(daemon.NewHandler(logTo, cfg.LogFormat, level))
	d := daemon.New(cfg, db, daemon.Options{Logger: log, LogLevel: level, ConfigPath: path})
	err = d.Run(ctx)
	if ctx.Err() != nil {
		return nil
	}
	return err
}
