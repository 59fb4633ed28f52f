package daemon

import (
	"io"
	"log/slog"
	"strings"
)

// NewHandler returns the log handler for a log_format ("json", else text)
// writing to w at level.
func NewHandler(w io.Writer, format string, level slog.Leveler) slog.Handler {
	opts := &slog.HandlerOptions{Level: level}
	if strings.EqualFold(format, "json") {
		return slog.NewJSONHandler(w, opts)
	}
	return slog.NewTextHandler(w, opts)
}

// LevelVar returns a level variable set to a log_level ("debug", "info",
// "warn", "error"; info when empty or unknown).
func LevelVar(level string) *slog.LevelVar {
	v := new(slog.LevelVar)
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err == nil {
		v.Set(l)
	}
	return v
}
