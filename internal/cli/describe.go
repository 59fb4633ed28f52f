package cli

import (
	"flag"
	"io"
	"sort"
	"strings"
)

// CommandDoc describes one command or subcommand ("sync", "auth login")
// as its own --help does: the man page and the completion scripts are
// made from these, so they cannot drift from the code.
type CommandDoc struct {
	Name     string       // "sync", "auth login"
	Summary  string       // one line, from register
	Usage    string       // the usage line after "mailmirror "
	Text     string       // the rest of the synopsis: what --help says besides the flags
	Flags    []*flag.Flag // the command's flags, sorted by name
	Subs     []string     // subcommands or actions
	HasFlags bool         // the command parses flags itself (false: only its subcommands do)
}

// describeCommand runs one command with --help and returns the flag sets
// it made and what it printed on standard output.
func describeCommand(name string, args ...string) ([]flagSet, string) {
	var out strings.Builder
	e := &Env{Args: append(args, "--help"), Stdin: strings.NewReader(""), Stdout: &out, Stderr: io.Discard}
	commands[name].run(e)
	return e.flagSets, out.String()
}

// Commands returns the documentation of every command users see, sorted
// by name, each command's subcommands (auth login) right after it.
func Commands() []CommandDoc {
	names := make([]string, 0, len(commands))
	for n, c := range commands {
		if !c.hidden {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var out []CommandDoc
	for _, n := range names {
		c := commands[n]
		doc := CommandDoc{Name: n, Summary: c.summary, Usage: n, Subs: c.subs}
		sets, help := describeCommand(n)
		for _, fs := range sets {
			if fs.name == n {
				doc.fill(fs)
			}
		}
		if !doc.HasFlags {
			// A command of subcommands (auth): its help after the usage lines.
			if _, text, ok := strings.Cut(help, "\n\n"); ok {
				doc.Text = strings.TrimSpace(text)
			}
		}
		out = append(out, doc)
		for _, sub := range c.subs {
			sets, _ := describeCommand(n, sub)
			for _, fs := range sets {
				if fs.name == n+" "+sub {
					sd := CommandDoc{Name: fs.name}
					sd.fill(fs)
					out = append(out, sd)
				}
			}
		}
	}
	return out
}

// fill sets the usage, text and flags from a recorded flag set.
func (d *CommandDoc) fill(fs flagSet) {
	d.HasFlags = true
	usage, text, _ := strings.Cut(fs.synopsis, "\n")
	d.Usage = strings.TrimSpace(usage)
	text = strings.TrimSpace(text)
	d.Text = strings.TrimSpace(strings.TrimSuffix(text, "Flags:"))
	d.Flags = nil
	fs.fs.VisitAll(func(f *flag.Flag) { d.Flags = append(d.Flags, f) })
}
