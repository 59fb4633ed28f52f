package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/importer"
)

func init() {
	register("import", "translate an mbsync or OfflineIMAP config (prints mailmirror TOML)", runImport)
}

// importSources are the tools import reads, with their default files in
// the order they are looked for.
var importSources = map[string]struct {
	convert  func([]byte, string) (*importer.Result, error)
	defaults func(home, xdgConfig string) []string
}{
	"mbsync": {importer.MBSync, func(home, xdg string) []string {
		return []string{filepath.Join(home, ".mbsyncrc"), filepath.Join(xdg, "isyncrc")}
	}},
	"offlineimap": {importer.OfflineIMAP, func(home, xdg string) []string {
		return []string{filepath.Join(home, ".offlineimaprc"), filepath.Join(xdg, "offlineimap", "config")}
	}},
}

// runImport translates ~/.mbsyncrc or ~/.offlineimaprc (or FILE) and
// prints the mailmirror config on stdout (or writes it, mode 0600, to
// --output). Lines that could not be translated are comments in the
// output; stderr gets a summary, the warnings, and the problems the
// result still has as a config.
func runImport(e *Env) int {
	flags := e.FlagsNoConfig("import", "import mbsync|offlineimap [FILE] [--output NEW-FILE]")
	output := flags.String("output", "", "write the config to this new file (mode 0600) instead of stdout")
	if ok, code := e.Parse(flags); !ok {
		return code
	}
	if len(e.Args) < 1 || len(e.Args) > 2 {
		flags.Usage()
		return ExitUsage
	}
	src, ok := importSources[e.Args[0]]
	if !ok {
		fmt.Fprintf(e.Stderr, "mailmirror import: unknown source %q (want mbsync or offlineimap)\n", e.Args[0])
		return ExitUsage
	}
	path := ""
	if len(e.Args) == 2 {
		path = e.Args[1]
	} else {
		home, err := os.UserHomeDir()
		if err != nil {
			fmt.Fprintf(e.Stderr, "mailmirror import: %v; name the file to import\n", err)
			return ExitFailure
		}
		xdg := os.Getenv("XDG_CONFIG_HOME")
		if xdg == "" || !filepath.IsAbs(xdg) {
			xdg = filepath.Join(home, ".config")
		}
		candidates := src.defaults(home, xdg)
		path = candidates[0]
		for _, c := range candidates {
			if _, err := os.Stat(c); err == nil {
				path = c
				break
			}
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(e.Stderr, "mailmirror import: cannot read the %s config to import: %v\n", e.Args[0], err)
		return ExitFailure
	}
	res, err := src.convert(data, path)
	if err != nil {
		fmt.Fprintf(e.Stderr, "mailmirror import: %s: %v\n", path, err)
		return ExitFailure
	}

	if len(res.Refused) > 0 {
		fmt.Fprintf(e.Stderr, "mailmirror import: %s: nothing written: %s change what a channel does in a way mailmirror would not follow:\n", path, plural(len(res.Refused), "line"))
		for _, r := range res.Refused {
			fmt.Fprintf(e.Stderr, "  %s\n", r)
		}
		fmt.Fprintf(e.Stderr, "mailmirror import: change those lines in a copy of %s and import the copy\n", path)
		return ExitFailure
	}
	if *output != "" {
		if err := writeNewFile(*output, res.TOML); err != nil {
			fmt.Fprintf(e.Stderr, "mailmirror import: --output: %v\n", err)
			return ExitFailure
		}
	} else {
		fmt.Fprint(e.Stdout, res.TOML)
	}

	fmt.Fprintf(e.Stderr, "mailmirror import: %s: translated %s, %s not translated (see the \"# not translated\" comments)\n",
		path, plural(len(res.Accounts), "account"), plural(len(res.NotTranslated), "line"))
	for _, w := range res.Warnings {
		fmt.Fprintf(e.Stderr, "mailmirror import: warning: %s\n", w)
	}
	if _, err := config.Parse([]byte(res.TOML), "output.toml"); err != nil {
		fmt.Fprintf(e.Stderr, "mailmirror import: the translated config is not valid yet (lines of output.toml refer to the output):\n%v\n", err)
	}
	return ExitOK
}

// writeNewFile creates name (mode 0600, never over an existing file) with
// text, creating its directory (mode 0700) when missing. Errors say which
// step failed.
func writeNewFile(name, text string) error {
	dir := filepath.Dir(name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cannot create the directory %s: %w", dir, cause(err))
	}
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s already exists; remove it or choose another name", name)
	}
	if err != nil {
		return fmt.Errorf("cannot create %s: %w", name, cause(err))
	}
	_, err = f.WriteString(text)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return fmt.Errorf("cannot write %s: %w", name, err)
	}
	return nil
}

// cause is the reason of a path error without its repeated path.
func cause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
