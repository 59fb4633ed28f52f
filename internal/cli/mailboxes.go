package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/maildir"
)

func init() {
	register("mailboxes", "print an account's folders for mutt's mailboxes (--format neomutt, aerc, notmuch)", runMailboxes)
}

const mailboxesSynopsis = `mailboxes [--config F] [--format mutt|neomutt|aerc|notmuch] [ACCOUNT...]

Prints the folders of each account (all when none is named) as they are in
its local Maildir, in the form a mail client's configuration wants:

  mutt     mailboxes "/home/me/Mail/work/INBOX"           (the default)
  neomutt  named-mailboxes "Lists/golang" "/home/me/Mail/work/Lists/golang"
  aerc     an accounts.conf section: source = maildir://…, folders = …
  notmuch  name=folder:"work/INBOX" lines: aerc's query-map for its notmuch
           backend, and notmuch searches (paths relative to database.path,
           from --notmuch-root, else "notmuch config get database.path",
           else the directory above the account's maildir)

Flags:`

func runMailboxes(e *Env) int {
	fs := e.Flags("mailboxes", mailboxesSynopsis)
	format := fs.String("format", "mutt", "output form: mutt, neomutt, aerc or notmuch")
	root := fs.String("notmuch-root", "", "with --format notmuch: notmuch's database.path")
	if ok, code := e.Parse(fs); !ok {
		return code
	}
	write, ok := map[string]func(io.Writer, mailboxSet, bool) error{
		"mutt": writeMutt, "neomutt": writeNeomutt, "aerc": writeAerc, "notmuch": writeNotmuch,
	}[*format]
	if !ok {
		fmt.Fprintf(e.Stderr, "mailmirror mailboxes: unknown --format %q (want mutt, neomutt, aerc or notmuch)\n", *format)
		return ExitUsage
	}
	_, accts, code := e.loadAccounts("mailboxes")
	if code != ExitOK {
		return code
	}
	for _, a := range accts {
		set, err := localMailboxes(a)
		if err == nil && *format == "notmuch" {
			set.notmuchRoot, err = notmuchRoot(*root, set.root)
		}
		if err == nil {
			err = write(e.Stdout, set, len(accts) > 1)
		}
		if err != nil {
			fmt.Fprintf(e.Stderr, "mailmirror mailboxes: account %q: %v\n", a.Name, err)
			return ExitFailure
		}
	}
	return ExitOK
}

// mailboxSet is one account's local folders.
type mailboxSet struct {
	account     string
	root        string // the account's maildir, absolute
	layout      string
	folders     []mailbox // INBOX first
	notmuchRoot string
}

// mailbox is one local folder: its name ("Lists/golang") and directory.
type mailbox struct {
	name, dir string
}

// localMailboxes lists the folders of a's Maildir as they are on disk,
// mapped to their names by the account's layout. It creates nothing.
func localMailboxes(a *config.Account) (mailboxSet, error) {
	set := mailboxSet{account: a.Name, layout: a.Layout}
	root, err := filepath.Abs(a.Maildir)
	if err != nil {
		return set, err
	}
	set.root = root
	if _, err := os.Stat(root); errors.Is(err, fs.ErrNotExist) {
		return set, fmt.Errorf("maildir %s does not exist yet: run mailmirror sync first", root)
	}
	store := &maildir.Store{Root: root, Layout: a.Layout}
	if store.Layout == "" {
		store.Layout = maildir.LayoutVerbatim
	}
	names, err := store.Folders()
	if err != nil {
		return set, err
	}
	for _, n := range names {
		dir, err := store.FolderPath(n)
		if err != nil {
			return set, err
		}
		m := mailbox{name: n, dir: dir}
		if n == maildir.Inbox {
			set.folders = append([]mailbox{m}, set.folders...)
		} else {
			set.folders = append(set.folders, m)
		}
	}
	return set, nil
}

// muttQuote quotes s for a muttrc: double quotes, with the characters mutt
// interprets inside them escaped.
func muttQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "$", `\$`, "`", "\\`").Replace(s) + `"`
}

func writeMutt(w io.Writer, set mailboxSet, _ bool) error {
	for _, m := range set.folders {
		if _, err := fmt.Fprintf(w, "mailboxes %s\n", muttQuote(m.dir)); err != nil {
			return err
		}
	}
	return nil
}

func writeNeomutt(w io.Writer, set mailboxSet, several bool) error {
	for _, m := range set.folders {
		label := m.name
		if several {
			label = set.account + "/" + m.name
		}
		if _, err := fmt.Fprintf(w, "named-mailboxes %s %s\n", muttQuote(label), muttQuote(m.dir)); err != nil {
			return err
		}
	}
	return nil
}

// writeAerc writes an accounts.conf section for aerc's Maildir backend.
// aerc names a folder by its directory below the root ("Lists/golang",
// escapes as on disk); with Maildir++ it maps the folders itself.
func writeAerc(w io.Writer, set mailboxSet, _ bool) error {
	scheme := "maildir"
	if set.layout == maildir.LayoutMaildirPP {
		scheme = "maildirpp"
	}
	fmt.Fprintf(w, "[%s]\nsource = %s://%s\ndefault = INBOX\n", set.account, scheme, filepath.ToSlash(set.root))
	if set.layout != maildir.LayoutMaildirPP {
		var names []string
		for _, m := range set.folders {
			rel, err := filepath.Rel(set.root, m.dir)
			if err != nil {
				return err
			}
			names = append(names, filepath.ToSlash(rel))
		}
		fmt.Fprintf(w, "folders = %s\n", strings.Join(names, ","))
	}
	_, err := fmt.Fprintln(w)
	return err
}

// writeNotmuch writes name=query lines: aerc's query-map for its notmuch
// backend, one notmuch folder: search per folder.
func writeNotmuch(w io.Writer, set mailboxSet, several bool) error {
	for _, m := range set.folders {
		rel, err := filepath.Rel(set.notmuchRoot, m.dir)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return fmt.Errorf("maildir %s is not below notmuch's database.path %s", set.root, set.notmuchRoot)
		}
		if rel == "." {
			rel = ""
		}
		name := m.name
		if several {
			name = set.account + "/" + m.name
		}
		q := `folder:"` + strings.ReplaceAll(filepath.ToSlash(rel), `"`, `""`) + `"`
		if _, err := fmt.Fprintf(w, "%s=%s\n", name, q); err != nil {
			return err
		}
	}
	return nil
}

// notmuchRoot returns notmuch's database.path: flag, else what notmuch
// says, else the directory above the account's maildir.
func notmuchRoot(flagValue, maildirRoot string) (string, error) {
	if flagValue != "" {
		return filepath.Abs(flagValue)
	}
	if out, err := exec.Command("notmuch", "config", "get", "database.path").Output(); err == nil {
		if p := strings.TrimSpace(string(out)); p != "" {
			return filepath.Abs(p)
		}
	}
	return filepath.Dir(maildirRoot), nil
}
