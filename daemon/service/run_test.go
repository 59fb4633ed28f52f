package service

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	kservice "github.com/kardianos/service"
)

func TestProgramStopCancelsAndWaits(t *testing.T) {
	errDone := errors.New("daemon finished")
	returned := make(chan struct{})
	p := newProgram(func(ctx context.Context) error {
		<-ctx.Done()
		close(returned)
		return errDone
	}, time.Hour)
	var exited bool
	p.exited = func(kservice.Service, error) { exited = true }
	if err := p.Start(nil); err != nil {
		t.Fatal(err)
	}
	if err := p.Stop(nil); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	select {
	case <-returned:
	default:
		t.Fatal("Stop returned before runFn did")
	}
	if p.err != errDone {
		t.Errorf("runFn's error = %v, want %v", p.err, errDone)
	}
	if exited {
		t.Error("exited hook called on a requested stop")
	}
}

func TestProgramStopTimeout(t *testing.T) {
	release := make(chan struct{})
	p := newProgram(func(ctx context.Context) error {
		<-release // ignores ctx
		return nil
	}, time.Millisecond)
	if err := p.Start(nil); err != nil {
		t.Fatal(err)
	}
	err := p.Stop(nil)
	close(release)
	<-p.done
	if !errors.Is(err, errStopTimeout) {
		t.Errorf("Stop = %v, want errStopTimeout", err)
	}
}

func TestProgramExitsByItself(t *testing.T) {
	errBoom := errors.New("bad config")
	p := newProgram(func(ctx context.Context) error { return errBoom }, time.Hour)
	var mu sync.Mutex
	var got error
	hook := make(chan struct{})
	p.exited = func(_ kservice.Service, err error) {
		mu.Lock()
		got = err
		mu.Unlock()
		close(hook)
	}
	if err := p.Start(nil); err != nil {
		t.Fatal(err)
	}
	<-hook
	mu.Lock()
	if got != errBoom {
		t.Errorf("exited hook got %v, want %v", got, errBoom)
	}
	mu.Unlock()
	// kardianos's RunWait returns once runFn is done, then Stop is a no-op.
	p.wait()
	if err := p.Stop(nil); err != nil || p.err != errBoom {
		t.Errorf("Stop = %v, runFn's error %v", err, p.err)
	}
}

func TestRunInteractiveReturnsRunFnError(t *testing.T) {
	if !Interactive() {
		t.Skip("the test process runs under a service manager")
	}
	errBoom := errors.New("boom")
	if err := Run(Name, func(ctx context.Context) error { return errBoom }); err != errBoom {
		t.Errorf("Run = %v, want %v", err, errBoom)
	}
}
