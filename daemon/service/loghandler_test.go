package service

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
)

// fakeLogger records what would go to the Event Log.
type fakeLogger struct {
	mu     sync.Mutex
	events []string // "LEVEL message"
}

func (l *fakeLogger) add(level string, v ...any) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, level+" "+fmt.Sprint(v...))
	return nil
}

func (l *fakeLogger) Error(v ...any) error   { return l.add("E", v...) }
func (l *fakeLogger) Warning(v ...any) error { return l.add("W", v...) }
func (l *fakeLogger) Info(v ...any) error    { return l.add("I", v...) }
func (l *fakeLogger) Errorf(f string, a ...any) error {
	return l.add("E", fmt.Sprintf(f, a...))
}
func (l *fakeLogger) Warningf(f string, a ...any) error {
	return l.add("W", fmt.Sprintf(f, a...))
}
func (l *fakeLogger) Infof(f string, a ...any) error { return l.add("I", fmt.Sprintf(f, a...)) }

func textHandler(w io.Writer) slog.Handler {
	return slog.NewTextHandler(w, &slog.HandlerOptions{
		Level: slog.LevelInfo,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		},
	})
}

func TestEventLogHandler(t *testing.T) {
	fl := &fakeLogger{}
	ctx := context.WithValue(context.Background(), eventLogKey{}, fl)
	log := slog.New(LogHandler(ctx, textHandler))
	acct := log.With("account", "work")
	acct.Info("ready")
	acct.WithGroup("imap").Warn("reconnecting", "in", "2s")
	log.Error("state db", "err", "locked")
	log.Debug("not enabled")

	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			acct.Info("pass", "n", i)
		}()
	}
	wg.Wait()

	want := []string{
		"I level=INFO msg=ready account=work",
		"W level=WARN msg=reconnecting account=work imap.in=2s",
		"E level=ERROR msg=\"state db\" err=locked",
	}
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if len(fl.events) != len(want)+8 || !slices.Equal(fl.events[:3], want) {
		t.Errorf("events:\n%q\nwant first:\n%q and 8 more", fl.events, want)
	}
	seen := map[string]bool{}
	for _, e := range fl.events[3:] {
		seen[e] = true
	}
	for i := range 8 {
		if e := fmt.Sprintf("I level=INFO msg=pass account=work n=%d", i); !seen[e] {
			t.Errorf("missing or garbled concurrent event %q in %q", e, fl.events[3:])
		}
	}
}

func TestLogHandlerOutsideSCM(t *testing.T) {
	var got io.Writer
	LogHandler(context.Background(), func(w io.Writer) slog.Handler {
		got = w
		return slog.NewTextHandler(w, nil)
	})
	if got != os.Stderr {
		t.Errorf("handler writes to %v, want os.Stderr", got)
	}
}
