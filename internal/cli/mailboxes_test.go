package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/mailmirror/mailmirror/internal/testenv"
	"github.com/mailmirror/mailmirror/maildir"
)

// mailboxesEnv makes a config with a verbatim IMAP account and a
// Maildir++ POP3 account whose Maildirs hold the given folders (a message
// in each), and returns the config path and the two stores.
func mailboxesEnv(t *testing.T, folders []string) (cfg string, stores map[string]*maildir.Store) {
	t.Helper()
	dir := t.TempDir()
	cfg = filepath.Join(dir, "config.toml")
	body := `state_dir = "state"
[[account]]
name = "work"
protocol = "imap"
host = "127.0.0.1"
username = "me"
password_env = "X"
maildir = "Mail/work"

[[account]]
name = "isp"
protocol = "pop3"
host = "127.0.0.1"
username = "me"
password_env = "X"
maildir = "Mail/isp"
layout = "maildir++"
`
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	stores = map[string]*maildir.Store{}
	for name, layout := range map[string]string{"work": maildir.LayoutVerbatim, "isp": maildir.LayoutMaildirPP} {
		s, err := maildir.Open(filepath.Join(dir, "Mail", name), layout)
		if err != nil {
			t.Fatal(err)
		}
		for i, f := range folders {
			mf, err := s.Folder(f)
			if err != nil {
				t.Fatal(err)
			}
			msg := "Message-ID: <m" + strconv.Itoa(i) + "@" + name + ">\nSubject: " + f + "\n\nbody\n"
			if err := os.WriteFile(filepath.Join(mf.Path, "cur", "m"+strconv.Itoa(i)+":2,S"), []byte(msg), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		stores[name] = s
	}
	return cfg, stores
}

var awkwardFolders = []string{"INBOX", "Sent", "Lists/golang", `Say "hi" $HOME`, "a.b", "Ünïcode"}

// parseMuttWords splits a muttrc line into words the way mutt's token
// parser does for double-quoted words: backslash escapes the next byte.
func parseMuttWords(t *testing.T, line string) []string {
	t.Helper()
	var words []string
	for i := 0; i < len(line); {
		switch {
		case line[i] == ' ':
			i++
		case line[i] == '"':
			var b strings.Builder
			i++
			for ; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' {
					i++
				} else if line[i] == '$' || line[i] == '`' {
					t.Errorf("unescaped %c in %q: mutt would expand it", line[i], line)
				}
				b.WriteByte(line[i])
			}
			if i == len(line) {
				t.Fatalf("unterminated quote in %q", line)
			}
			i++
			words = append(words, b.String())
		default:
			j := strings.IndexByte(line[i:], ' ')
			if j < 0 {
				j = len(line) - i
			}
			words = append(words, line[i:i+j])
			i += j
		}
	}
	return words
}

// TestMailboxesMutt: every line is a mutt "mailboxes" command naming one
// folder directory of the account's Maildir, INBOX first, and together
// they are exactly the Maildir's folders, for both layouts.
func TestMailboxesMutt(t *testing.T) {
	cfg, stores := mailboxesEnv(t, awkwardFolders)
	for account, store := range stores {
		code, stdout, stderr := runCLI("mailboxes", "--config", cfg, account)
		if code != ExitOK {
			t.Fatalf("%s: exit %d: %s", account, code, stderr)
		}
		var got []string
		for _, line := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n") {
			w := parseMuttWords(t, line)
			if len(w) != 2 || w[0] != "mailboxes" {
				t.Fatalf("%s: not a mailboxes line: %q", account, line)
			}
			if st, err := os.Stat(filepath.Join(w[1], "cur")); err != nil || !st.IsDir() {
				t.Errorf("%s: %q is not a Maildir folder: %v", account, w[1], err)
			}
			got = append(got, w[1])
		}
		var want []string
		for _, f := range awkwardFolders {
			p, err := store.FolderPath(f)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, p)
		}
		if len(got) == 0 || got[0] != want[0] {
			t.Errorf("%s: INBOX is not first: %q", account, got)
		}
		sort.Strings(got)
		sort.Strings(want)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: mailboxes\n%q\nwant\n%q", account, got, want)
		}
	}
}

// TestMailboxesNeomuttAndAerc: named-mailboxes label each directory with
// its folder name; the aerc section names the root and the folders as
// directories below it.
func TestMailboxesNeomuttAndAerc(t *testing.T) {
	cfg, stores := mailboxesEnv(t, awkwardFolders)
	code, stdout, stderr := runCLI("mailboxes", "--config", cfg, "--format", "neomutt", "work")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != len(awkwardFolders) {
		t.Fatalf("%d lines for %d folders:\n%s", len(lines), len(awkwardFolders), stdout)
	}
	for _, line := range lines {
		w := parseMuttWords(t, line)
		if len(w) != 3 || w[0] != "named-mailboxes" {
			t.Fatalf("not a named-mailboxes line: %q", line)
		}
		if p, _ := stores["work"].FolderPath(w[1]); p != w[2] {
			t.Errorf("label %q names %q, its folder is %q", w[1], w[2], p)
		}
	}

	code, stdout, stderr = runCLI("mailboxes", "--config", cfg, "--format", "aerc", "work")
	if code != ExitOK {
		t.Fatalf("aerc: exit %d: %s", code, stderr)
	}
	root := stores["work"].Root
	if !strings.HasPrefix(stdout, "[work]\nsource = maildir://"+root+"\ndefault = INBOX\nfolders = INBOX,") {
		t.Errorf("aerc section:\n%s", stdout)
	}
	_, list, _ := strings.Cut(stdout, "folders = ")
	for _, f := range strings.Split(strings.TrimSpace(list), ",") {
		if st, err := os.Stat(filepath.Join(root, f, "cur")); err != nil || !st.IsDir() {
			t.Errorf("aerc folder %q is not a directory below the root: %v", f, err)
		}
	}
	code, stdout, _ = runCLI("mailboxes", "--config", cfg, "--format", "aerc", "isp")
	if code != ExitOK || !strings.Contains(stdout, "source = maildirpp://") {
		t.Errorf("aerc, Maildir++: exit %d\n%s", code, stdout)
	}
}

// TestMailboxesNotmuch: each query the notmuch form prints finds exactly
// the message of its folder in a real notmuch index.
func TestMailboxesNotmuch(t *testing.T) {
	nm := testenv.RequireNotmuch(t)
	cfg, stores := mailboxesEnv(t, awkwardFolders)
	mailRoot := filepath.Dir(stores["work"].Root)
	nmConfig := filepath.Join(t.TempDir(), "notmuch-config")
	if err := os.WriteFile(nmConfig, []byte("[database]\npath="+mailRoot+"\n[new]\ntags=new\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("NOTMUCH_CONFIG", nmConfig)
	if out, err := exec.Command(nm, "new", "--quiet").CombinedOutput(); err != nil {
		t.Fatalf("notmuch new: %v\n%s", err, out)
	}
	code, stdout, stderr := runCLI("mailboxes", "--config", cfg, "--format", "notmuch")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != 2*len(awkwardFolders) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), 2*len(awkwardFolders), stdout)
	}
	for _, line := range lines {
		name, query, ok := strings.Cut(line, "=")
		account, folder, ok2 := strings.Cut(name, "/")
		if !ok || !ok2 {
			t.Fatalf("not NAME=QUERY with an account prefix: %q", line)
		}
		out, err := exec.Command(nm, "search", "--output=files", query).Output()
		if err != nil {
			t.Fatalf("notmuch search %s: %v", query, err)
		}
		files := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
		if len(files) != 1 {
			t.Errorf("%s: %s finds %d files, want 1: %q", name, query, len(files), files)
			continue
		}
		data, err := os.ReadFile(files[0])
		if err != nil || !strings.Contains(string(data), "Subject: "+folder+"\n") || !strings.Contains(string(data), "@"+account+">") {
			t.Errorf("%s: %s finds %s, not the message of that folder", name, query, files[0])
		}
	}
}
