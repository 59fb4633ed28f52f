package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestClientsDocCommands runs every `mailmirror mailboxes` command that
// docs/clients.md shows (also inside mutt's source "…|") against a
// Maildir with the folders the examples name: each must work and print
// the form its snippet uses.
func TestClientsDocCommands(t *testing.T) {
	data, err := os.ReadFile("../../docs/clients.md")
	if err != nil {
		t.Fatal(err)
	}
	cfg, stores := mailboxesEnv(t, []string{"INBOX", "Sent", "Lists/golang"})
	// notmuch, when installed, is asked for its database.path.
	nmConfig := filepath.Join(t.TempDir(), "notmuch-config")
	if err := os.WriteFile(nmConfig, []byte("[database]\npath="+filepath.Dir(stores["work"].Root)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("NOTMUCH_CONFIG", nmConfig)
	re := regexp.MustCompile(`mailmirror (mailboxes[^|"\n#>]*)`)
	found := 0
	inBlock := false
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "```") {
			inBlock = !inBlock
			continue
		}
		if !inBlock {
			continue
		}
		for _, m := range re.FindAllStringSubmatch(line, -1) {
			found++
			args := append([]string{"--config", cfg}, strings.Fields(m[1])...)
			code, stdout, stderr := runCLI(args...)
			if code != ExitOK || stdout == "" {
				t.Errorf("%q: exit %d, output %q, stderr %s", m[0], code, stdout, stderr)
				continue
			}
			var want string
			switch {
			case strings.Contains(m[1], "neomutt"):
				want = "named-mailboxes \""
			case strings.Contains(m[1], "aerc"):
				want = "[work]\nsource = maildir://"
			case strings.Contains(m[1], "notmuch"):
				want = "INBOX=folder:\""
			default:
				want = "mailboxes \""
			}
			if !strings.HasPrefix(stdout, want) {
				t.Errorf("%q prints\n%s\nwant it to start with %q", m[0], stdout, want)
			}
		}
	}
	if found < 5 {
		t.Errorf("found %d mailboxes commands in docs/clients.md, want at least 5", found)
	}
}
