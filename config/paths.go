package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// DefaultStateDir returns the default state_dir: the per-user state
// directory of the OS followed by "mailmirror". On Linux and other Unix
// systems that is $XDG_STATE_HOME (when set to an absolute path) or
// ~/.local/state; on macOS ~/Library/Application Support; on Windows
// %LocalAppData%.
func DefaultStateDir() (string, error) {
	switch runtime.GOOS {
	case "windows":
		d := os.Getenv("LocalAppData")
		if d == "" {
			return "", errors.New("cannot find the default state directory: %LocalAppData% is not set")
		}
		return filepath.Join(d, "mailmirror"), nil
	case "darwin", "ios":
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("cannot find the default state directory: %w", err)
		}
		return filepath.Join(home, "Library", "Application Support", "mailmirror"), nil
	default:
		if d := os.Getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
			return filepath.Join(d, "mailmirror"), nil
		}
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("cannot find the default state directory: %w", err)
		}
		return filepath.Join(home, ".local", "state", "mailmirror"), nil
	}
}

// expandPath expands a leading "~" or "~/" to the home directory and
// $VAR or ${VAR} to the environment variable's value, makes the result
// absolute relative to dir and cleans it. An unset variable is an error,
// so that "$MAILDIR/work" never silently becomes "/work".
func expandPath(p, dir string) (string, error) {
	if p == "~" || strings.HasPrefix(p, "~/") || (runtime.GOOS == "windows" && strings.HasPrefix(p, `~\`)) {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("cannot expand ~: %w", err)
		}
		p = home + p[1:]
	} else if strings.HasPrefix(p, "~") {
		return "", errors.New("~user is not supported (use ~/ or an absolute path)")
	}
	var missing []string
	p = os.Expand(p, func(name string) string {
		v, ok := os.LookupEnv(name)
		if !ok {
			missing = append(missing, "$"+name)
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("environment variable %s is not set", strings.Join(missing, ", "))
	}
	if p == "" {
		return "", errors.New("expands to an empty path")
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	return filepath.Clean(p), nil
}
