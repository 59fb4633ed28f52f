// Package cli implements the mailmirror command line: global flags and the
// dispatch to one function per subcommand. Each subcommand lives in its own
// file and returns a process exit code.
package cli

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
)

// Exit codes shared by every subcommand.
const (
	ExitOK      = 0 // everything worked
	ExitFailure = 1 // the command ran and something failed
	ExitUsage   = 2 // bad usage, or a command that is not implemented yet
)

// Env is what a subcommand gets: its arguments (after the subcommand name),
// the resolved config path and the standard streams.
type Env struct {
	Args       []string
	ConfigPath string
	Stdin      io.Reader
	Stdout     io.Writer
	Stderr     io.Writer

	// flagSets records every flag set Flags made, for describe.
	flagSets []flagSet
}

// flagSet is one flag set a command made, with its synopsis.
type flagSet struct {
	name, synopsis string
	fs             *flag.FlagSet
}

type command struct {
	summary string
	run     func(*Env) int
	subs    []string // subcommands or actions, for completion and the man page
	hidden  bool     // a helper for the completion scripts: not in usage nor the man page
}

// commands is filled by the init functions of the files next to this one.
var commands = map[string]command{}

func register(name, summary string, run func(*Env) int) {
	commands[name] = command{summary: summary, run: run}
}

// registerSubs names the subcommands (auth login) or actions (service
// install) of a registered command, for completion and the man page.
func registerSubs(name string, subs ...string) {
	c := commands[name]
	c.subs = subs
	commands[name] = c
}

// registerHidden registers a helper command that usage and the man page
// leave out.
func registerHidden(name, summary string, run func(*Env) int) {
	commands[name] = command{summary: summary, run: run, hidden: true}
}

// DefaultConfigPath returns $MAILMIRROR_CONFIG, else
// <os.UserConfigDir()>/mailmirror/config.toml.
func DefaultConfigPath() string {
	if p := os.Getenv("MAILMIRROR_CONFIG"); p != "" {
		return p
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "config.toml"
	}
	return filepath.Join(dir, "mailmirror", "config.toml")
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "usage: mailmirror [--config FILE] COMMAND [ARGS]\n\ncommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if !commands[n].hidden {
			fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
		}
	}
	fmt.Fprintf(w, "\nglobal flags:\n  --config FILE  config file (default $MAILMIRROR_CONFIG, else %s)\n", DefaultConfigPath())
	fmt.Fprintf(w, "  --version      print the version and commit, and exit\n")
	fmt.Fprintf(w, "\nRun 'mailmirror COMMAND --help' for a command's own flags.\n")
}

// Main runs the command line and returns the process exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mailmirror", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "config file")
	showVersion := fs.Bool("version", false, "print the version and commit")
	fs.Usage = func() { usage(stderr) }
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			usage(stdout)
			return ExitOK
		}
		return ExitUsage
	}
	if *showVersion {
		fmt.Fprintln(stdout, versionLine())
		return ExitOK
	}
	rest := fs.Args()
	if len(rest) == 0 {
		usage(stderr)
		return ExitUsage
	}
	name := rest[0]
	cmd, ok := commands[name]
	if !ok {
		if name == "help" {
			usage(stdout)
			return ExitOK
		}
		fmt.Fprintf(stderr, "mailmirror: unknown command %q\n", name)
		usage(stderr)
		return ExitUsage
	}
	env := &Env{Args: rest[1:], ConfigPath: *configPath, Stdin: stdin, Stdout: stdout, Stderr: stderr}
	return cmd.run(env)
}

// Flags returns a flag set for a subcommand that also accepts --config
// after the subcommand name (mailmirror sync --config F). Its usage text
// prints the synopsis and the flags.
//
// The synopsis's first line is the usage line; further lines (after a
// blank line) describe the command, in --help and in the man page.
func (e *Env) Flags(name, synopsis string) *flag.FlagSet {
	fs := e.FlagsNoConfig(name, synopsis)
	fs.StringVar(&e.ConfigPath, "config", e.ConfigPath, "config file")
	return fs
}

// FlagsNoConfig is Flags for a command that reads no config file (import,
// completion, version): its flag set has no --config.
func (e *Env) FlagsNoConfig(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: mailmirror %s\n\n", synopsis)
		fs.PrintDefaults()
	}
	e.flagSets = append(e.flagSets, flagSet{name: name, synopsis: synopsis, fs: fs})
	return fs
}

// Parse parses the subcommand's flags. It returns false with the exit code
// to use when the command should stop (help requested or bad flags).
func (e *Env) Parse(fs *flag.FlagSet) (ok bool, code int) {
	// Accept flags after positional arguments too (sync ACCOUNT --quiet).
	var pos []string
	args := e.Args
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			fs.SetOutput(e.Stdout)
		}
	}
	for {
		if err := fs.Parse(args); err != nil {
			if err == flag.ErrHelp {
				return false, ExitOK
			}
			return false, ExitUsage
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	e.Args = pos
	return true, 0
}

// Config returns the config path to use: the --config flag, else the default.
func (e *Env) Config() string {
	if e.ConfigPath != "" {
		return e.ConfigPath
	}
	return DefaultConfigPath()
}

func notImplemented(name string) func(*Env) int {
	return func(e *Env) int {
		fs := e.Flags(name, name+" [flags]")
		if ok, code := e.Parse(fs); !ok {
			return code
		}
		fmt.Fprintf(e.Stderr, "mailmirror %s: not implemented yet\n", name)
		return ExitUsage
	}
}
