package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"

	kservice "github.com/kardianos/service"
)

// Run runs runFn, the daemon, until it returns or is asked to stop, and
// returns runFn's error. name is the service name (Name); on Windows it is
// the Event Log source.
//
// Under the service manager (Interactive is false) runFn runs under
// kardianos/service's Start and Stop: a stop request (systemctl stop,
// launchctl unload, the SCM's Stop or shutdown, or SIGTERM/SIGINT on Unix)
// cancels ctx, and Run waits up to StopTimeout for runFn to return; if it
// does not, Run returns an error. On Windows Run logs start, stop and
// failures to the Event Log, and LogHandler(ctx, ...) sends the daemon's
// own records there. If runFn returns by itself with an error under the
// Windows SCM, Run logs it and exits the process with status 1, so that the
// SCM's recovery actions restart the service (the SCM only sees a clean
// stop otherwise); if it returns nil, Run asks the SCM to stop the service.
//
// From a terminal, runFn runs with a context cancelled on the first SIGINT
// or SIGTERM; a second one kills the process.
func Run(name string, runFn func(ctx context.Context) error) error {
	if Interactive() {
		return runInteractive(runFn)
	}
	p := newProgram(runFn, StopTimeout)
	cfg := &kservice.Config{Name: name, Option: kservice.KeyValue{}}
	if runtime.GOOS != "windows" {
		cfg.Option["RunWait"] = p.wait
	}
	svc, err := kservice.New(p, cfg)
	if err != nil {
		return fmt.Errorf("service: %w", err)
	}
	if runtime.GOOS == "windows" {
		logger, err := svc.Logger(nil)
		if err != nil {
			return fmt.Errorf("service: event log: %w", err)
		}
		p.ctx = context.WithValue(p.ctx, eventLogKey{}, logger)
		p.logger = logger
		p.exited = func(s kservice.Service, err error) {
			if err != nil {
				_ = logger.Errorf("%s stopped: %v", name, err)
				os.Exit(1)
			}
			_ = s.Stop()
		}
		_ = logger.Infof("%s started", name)
	}
	if err := runService(name, svc, p); err != nil {
		if p.logger != nil {
			_ = p.logger.Errorf("%s: %v", name, err)
		}
		return err
	}
	if p.logger != nil {
		_ = p.logger.Infof("%s stopped", name)
	}
	return p.err
}

// runService runs p under the service manager. kardianos decides once, at
// start, whether the process is a Windows service (it must be in session 0
// too); where it took a service for a console program (Wine, see
// Interactive), runSCM talks to the SCM itself.
func runService(name string, svc kservice.Service, p *program) error {
	if kservice.Interactive() {
		return runSCM(name, svc, p)
	}
	return svc.Run()
}

func runInteractive(runFn func(ctx context.Context) error) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second signal gets the default behaviour: exit
	}()
	return runFn(ctx)
}

// program is the kardianos Interface around runFn.
type program struct {
	runFn    func(context.Context) error
	ctx      context.Context
	cancel   context.CancelFunc
	timeout  time.Duration
	done     chan struct{} // closed when runFn returned; err is set then
	err      error
	stopping atomic.Bool
	logger   kservice.Logger                     // Windows only
	exited   func(s kservice.Service, err error) // runFn returned without a stop request
}

func newProgram(runFn func(context.Context) error, timeout time.Duration) *program {
	ctx, cancel := context.WithCancel(context.Background())
	return &program{runFn: runFn, ctx: ctx, cancel: cancel, timeout: timeout, done: make(chan struct{})}
}

// Start starts runFn and returns at once.
func (p *program) Start(s kservice.Service) error {
	go func() {
		p.err = p.runFn(p.ctx)
		close(p.done)
		if !p.stopping.Load() && p.exited != nil {
			p.exited(s, p.err)
		}
	}()
	return nil
}

// errStopTimeout is returned by Stop when runFn outlives the timeout.
var errStopTimeout = errors.New("service: the daemon did not stop in time")

// Stop cancels runFn's context and waits for it to return, at most
// p.timeout.
func (p *program) Stop(kservice.Service) error {
	p.stopping.Store(true)
	p.cancel()
	t := time.NewTimer(p.timeout)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
		return fmt.Errorf("%w (%s)", errStopTimeout, p.timeout)
	}
}

// wait is kardianos's RunWait on Unix: it returns on SIGTERM or SIGINT
// (then Stop runs) or when runFn returned by itself.
func (p *program) wait() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	defer signal.Stop(sig)
	select {
	case <-sig:
	case <-p.done:
	}
}
