package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailmirror/mailmirror/config"
)

// manDir holds the checked-in man pages that `make man` writes.
const manDir = "../../docs/man"

// TestManPagesCheckedIn: docs/man/ holds exactly what ManPages generates,
// so the pages shipped cannot drift from --help and the key table.
func TestManPagesCheckedIn(t *testing.T) {
	for name, want := range ManPages() {
		got, err := os.ReadFile(filepath.Join(manDir, name))
		if err != nil {
			t.Errorf("%v (run make man)", err)
			continue
		}
		if string(got) != want {
			t.Errorf("docs/man/%s differs from the generated page: run make man and commit it", name)
		}
	}
}

// TestManPagesLint: mandoc -Tlint reports nothing on the pages. Without
// mandoc the test skips, except under CI=true.
func TestManPagesLint(t *testing.T) {
	mandoc, err := exec.LookPath("mandoc")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("mandoc is not installed (apt-get install mandoc); CI must lint the man pages")
		}
		t.Skip("mandoc is not installed")
	}
	dir := t.TempDir()
	for name, page := range ManPages() {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(page), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(mandoc, "-Tlint", p).CombinedOutput()
		if err != nil || len(out) != 0 {
			t.Errorf("mandoc -Tlint %s: %v\n%s", name, err, out)
		}
	}
}

// TestEveryCommandDocumented: every command has a summary and answers
// --help with its flags, every flag has a description, and each has its
// entry in mailmirror(1); every configuration key has a meaning and a
// default, and its entry in mailmirror.toml(5).
func TestEveryCommandDocumented(t *testing.T) {
	page := ManPages()["mailmirror.1"]
	for name, c := range commands {
		if c.hidden {
			continue
		}
		if c.summary == "" {
			t.Errorf("command %s has no summary (register)", name)
		}
		if code, _, stderr := runCLI(name, "--help"); code != ExitOK {
			t.Errorf("mailmirror %s --help: exit %d\n%s", name, code, stderr)
		}
	}
	seen := map[string]bool{}
	for _, d := range Commands() {
		seen[d.Name] = true
		if !d.HasFlags && len(d.Subs) == 0 {
			t.Errorf("command %s parses no flags (use e.Flags) and has no subcommands", d.Name)
		}
		for _, f := range d.Flags {
			if strings.TrimSpace(f.Usage) == "" {
				t.Errorf("mailmirror %s --%s has no description", d.Name, f.Name)
			}
		}
		if !strings.Contains(page, "\n.SS "+roffEscape(d.Name)+"\n") {
			t.Errorf("mailmirror(1) has no section for %s", d.Name)
		}
	}
	for name, c := range commands {
		if !c.hidden && !seen[name] {
			t.Errorf("command %s is missing from Commands()", name)
		}
	}

	page5 := ManPages()["mailmirror.toml.5"]
	for _, k := range config.KeyDocs() {
		if strings.TrimSpace(k.Doc) == "" || strings.TrimSpace(k.Default) == "" {
			t.Errorf("config key %q (table %q) lacks its meaning or default in config/keys.go", k.Name, k.Table)
		}
		entry := ".B " + roffEscape(k.Name) + "\n"
		if k.Protocol != "" {
			entry = ".BR " + roffEscape(k.Name) + ` " (` + k.Protocol + `)"` + "\n"
		}
		if !strings.Contains(page5, "\n.TP\n"+entry) {
			t.Errorf("mailmirror.toml(5) has no entry for %q", k.Name)
		}
	}
}

// TestRoffText pins the Markdown → roff conversion of the key table.
func TestRoffText(t *testing.T) {
	for md, want := range map[string]string{
		"`\"*\"` matches *any* name":    `\fB\(dq*\(dq\fR matches \fIany\fR name`,
		`a \ b — c`:                     `a \e b \(em c`,
		".dot first":                    `\&.dot first`,
		"see [docs](docs/oauth.md) ≤ 2": `see docs (docs/oauth.md) \[u2264] 2`,
		"**bold** and --flag":           `\fBbold\fR and \-\-flag`,
	} {
		if got := roffText(md); got != want {
			t.Errorf("roffText(%q) = %q, want %q", md, got, want)
		}
	}
}
