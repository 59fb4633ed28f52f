package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// completionConfig writes a config with an IMAP and a POP3 account.
func completionConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	body := `state_dir = "state"
[[account]]
name = "work"
protocol = "imap"
host = "127.0.0.1"
username = "me"
password_env = "X"
maildir = "mail/work"

[[account]]
name = "isp"
protocol = "pop3"
host = "127.0.0.1"
username = "me"
password_env = "X"
maildir = "mail/isp"
`
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestBashCompletion sources the bash script and runs its completion
// function on command lines as bash would (COMP_WORDS, COMP_CWORD),
// against the real binary for the account names.
func TestBashCompletion(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	bin := testBinary(t)
	cfg := completionConfig(t)
	code, script, stderr := runCLI("completion", "bash")
	if code != ExitOK {
		t.Fatalf("completion bash: exit %d: %s", code, stderr)
	}
	scriptFile := filepath.Join(t.TempDir(), "mailmirror.bash")
	if err := os.WriteFile(scriptFile, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	type tcase struct {
		words []string // after the binary; the last is the word being completed
		want  string
	}
	cases := []tcase{
		{[]string{"sy"}, "sync"},
		{[]string{""}, "archive auth check completion demo fetch import mailboxes run service status sync version"},
		{[]string{"--v"}, "--version"},
		{[]string{"--config", cfg, "sync", ""}, "work isp"},
		{[]string{"sync", "--config", cfg, "i"}, "isp"},
		{[]string{"sync", "--q"}, "--quiet"},
		{[]string{"service", "st"}, "start stop status"},
		{[]string{"service", "install", "--sys"}, "--system"},
		{[]string{"auth", "l"}, "login logout"},
		{[]string{"auth", "login", "--config", cfg, "w"}, "work"},
		{[]string{"auth", "login", "--no-"}, "--no-browser --no-check"},
		{[]string{"completion", ""}, "bash zsh fish"},
		{[]string{"import", "mb"}, "mbsync"},
		{[]string{"import", "--o"}, "--output"},
		{[]string{"mailboxes", "--config", cfg, ""}, "work isp"},
	}
	// One bash runs every case: comp WORDS… prints the completions.
	var prog strings.Builder
	prog.WriteString(`source "$1"` + "\n" +
		`comp() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _mailmirror; echo "${COMPREPLY[*]}"; }` + "\n")
	var wants []string
	for _, tc := range cases {
		words := []string{shellQuote(bin)}
		for _, w := range tc.words {
			words = append(words, shellQuote(w))
		}
		prog.WriteString("comp " + strings.Join(words, " ") + "\n")
		wants = append(wants, tc.want)
	}
	cmd := exec.Command(bash, "--norc", "-c", prog.String(), "bash", scriptFile)
	cmd.Env = append(os.Environ(), "MAILMIRROR_CONFIG="+filepath.Join(t.TempDir(), "none.toml"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(got) != len(wants) {
		t.Fatalf("%d results for %d cases:\n%s", len(got), len(wants), out)
	}
	for i, want := range wants {
		if got[i] != want {
			t.Errorf("completing %q: got %q, want %q", cases[i].words, got[i], want)
		}
	}
}

// TestCompletionScriptsCoverCommands: the zsh and fish scripts (no zsh or
// fish on the test machines) name every command and every flag.
func TestCompletionScriptsCoverCommands(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		code, script, stderr := runCLI("completion", shell)
		if code != ExitOK {
			t.Fatalf("completion %s: exit %d: %s", shell, code, stderr)
		}
		for _, d := range Commands() {
			last := d.Name[strings.LastIndex(d.Name, " ")+1:]
			if !strings.Contains(script, last) {
				t.Errorf("%s script lacks command %s", shell, d.Name)
			}
			for _, f := range d.Flags {
				if !strings.Contains(script, f.Name) {
					t.Errorf("%s script lacks %s --%s", shell, d.Name, f.Name)
				}
			}
		}
		if !strings.Contains(script, "__accounts") {
			t.Errorf("%s script does not ask for the account names", shell)
		}
	}
	if code, _, _ := runCLI("completion", "tcsh"); code != ExitUsage {
		t.Errorf("completion tcsh: exit %d, want %d", code, ExitUsage)
	}
}

// shellQuote quotes s for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
