package demo

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// configHeader starts every config the demo writes: how a later run knows
// the directory is a demo's.
const configHeader = "# mailmirror demo configuration"

// demoEntries are what the demo writes into its directory.
var demoEntries = []string{"config.toml", "state", "Mail", "muttrc"}

// Fresh prepares dir for a new run. The demo servers live in memory and
// start with new messages each time, so a previous run's Maildir and state
// would meet servers that never had their messages: it removes what a
// previous demo wrote there and reports whether it did. A directory that
// is not empty and was not made by the demo is refused, untouched.
func Fresh(dir string) (bool, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) || err == nil && len(ents) == 0 {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("demo: %w", err)
	}
	if !isDemoConfig(filepath.Join(dir, "config.toml")) {
		return false, fmt.Errorf("demo: %s is not empty and was not made by mailmirror demo; nothing changed there: choose another --dir", dir)
	}
	for _, e := range demoEntries {
		if err := os.RemoveAll(filepath.Join(dir, e)); err != nil {
			return false, fmt.Errorf("demo: start fresh: %w", err)
		}
	}
	return true, nil
}

func isDemoConfig(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	return strings.HasPrefix(line, configHeader)
}

// WriteMuttrc writes dir/muttrc: mutt (or neomutt) on the demo's Maildir
// with every folder of both accounts listed, and returns its path.
func WriteMuttrc(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	root := filepath.Join(abs, "Mail", "demo")
	var b strings.Builder
	fmt.Fprintf(&b, "# mutt configuration for the mailmirror demo, written by \"mailmirror demo\".\n")
	fmt.Fprintf(&b, "# Use it with: mutt -F %s\n", filepath.Join(abs, "muttrc"))
	fmt.Fprintf(&b, "set mbox_type = Maildir\nset folder = %q\nset spoolfile = \"+INBOX\"\n", root)
	b.WriteString("set record = \"+Sent\"\nset trash = \"+Trash\"\nset mail_check = 1\nset timeout = 2\n")
	b.WriteString("set sort = reverse-date\n")
	b.WriteString("mailboxes")
	for _, f := range Folders {
		fmt.Fprintf(&b, " %q", "+"+f)
	}
	fmt.Fprintf(&b, " %q\n", filepath.Join(abs, "Mail", "demo-pop", "INBOX"))
	path := filepath.Join(abs, "muttrc")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return "", fmt.Errorf("demo: %w", err)
	}
	return path, nil
}
