package service

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"

	kservice "github.com/kardianos/service"
)

type eventLogKey struct{}

// LogHandler returns the slog handler the daemon should log through. ctx
// is the context Run passed to runFn; newHandler builds the daemon's
// handler (text or JSON, with its options) on a writer.
//
// Under the Windows SCM, where standard error goes nowhere, each record is
// formatted by newHandler's handler and written to the Event Log (source
// Name) as an error, warning or information event by its level. Everywhere
// else it is newHandler(os.Stderr): the journal under systemd, the log
// file under launchd, the terminal otherwise.
func LogHandler(ctx context.Context, newHandler func(w io.Writer) slog.Handler) slog.Handler {
	if l, ok := ctx.Value(eventLogKey{}).(kservice.Logger); ok {
		return newEventLogHandler(l, newHandler)
	}
	return newHandler(os.Stderr)
}

// eventLogHandler formats a record with the inner handler into a buffer,
// then sends the buffer to a kardianos Logger.
type eventLogHandler struct {
	sink  *eventLogSink
	inner slog.Handler // writes to sink
}

// eventLogSink is shared by a handler and those derived from it with
// WithAttrs and WithGroup, since their inner handlers all write to it.
type eventLogSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
	log kservice.Logger
}

func (s *eventLogSink) Write(p []byte) (int, error) { return s.buf.Write(p) }

func newEventLogHandler(l kservice.Logger, newHandler func(io.Writer) slog.Handler) *eventLogHandler {
	s := &eventLogSink{log: l}
	return &eventLogHandler{sink: s, inner: newHandler(s)}
}

// Enabled reports whether the inner handler handles records at level.
func (h *eventLogHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.inner.Enabled(ctx, level)
}

// Handle formats r and writes it as one event.
func (h *eventLogHandler) Handle(ctx context.Context, r slog.Record) error {
	h.sink.mu.Lock()
	defer h.sink.mu.Unlock()
	h.sink.buf.Reset()
	if err := h.inner.Handle(ctx, r); err != nil {
		return err
	}
	msg := strings.TrimRight(h.sink.buf.String(), "\n")
	switch {
	case r.Level >= slog.LevelError:
		return h.sink.log.Error(msg)
	case r.Level >= slog.LevelWarn:
		return h.sink.log.Warning(msg)
	default:
		return h.sink.log.Info(msg)
	}
}

// WithAttrs returns a handler whose records carry attrs.
func (h *eventLogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &eventLogHandler{sink: h.sink, inner: h.inner.WithAttrs(attrs)}
}

// WithGroup returns a handler that puts the following attributes in group
// name.
func (h *eventLogHandler) WithGroup(name string) slog.Handler {
	return &eventLogHandler{sink: h.sink, inner: h.inner.WithGroup(name)}
}
