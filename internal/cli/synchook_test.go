package cli

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailmirror/mailmirror/internal/testenv"
)

// mailmirror sync runs on_new_mail (notmuch new) after a pass that stored
// new mail, with the daemon's environment, and not after one that did not.
func TestSyncRunsOnNewMail(t *testing.T) {
	testenv.RequireDovecot(t)
	u := testenv.Shared(t).NewUser(t)
	dir := t.TempDir()
	log := filepath.Join(dir, "hook.log")
	base := writeIMAPConfig(t, u, u.Server().IMAPPort, dir)
	text, err := os.ReadFile(base)
	if err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, string(text)+fmt.Sprintf("on_new_mail = 'printf \"%%s %%s %%s\\n\" \"$MAILMIRROR_ACCOUNT\" \"$MAILMIRROR_NEW\" \"$MAILMIRROR_FOLDER\" >> %s'\n", log))
	u.CreateFolder(t, "Lists")
	rng := rand.New(rand.NewPCG(5, 6))
	for i, folder := range []string{"INBOX", "INBOX", "Lists"} {
		u.Append(t, folder, testenv.GenMessage(rng, &testenv.GenOptions{Subject: fmt.Sprintf("m%d", i), BodySize: 300}))
	}
	if code, _, errOut := runMain(t, "--config", cfg, "sync"); code != 0 {
		t.Fatalf("sync: %d %s", code, errOut)
	}
	got, err := os.ReadFile(log)
	if err != nil {
		t.Fatalf("on_new_mail did not run: %v", err)
	}
	if want := "work 3 INBOX\nLists\n"; string(got) != want {
		t.Errorf("hook saw %q, want %q", got, want)
	}
	// Nothing new: no run.
	if code, _, errOut := runMain(t, "--config", cfg, "sync"); code != 0 {
		t.Fatalf("second sync: %d %s", code, errOut)
	}
	if again, _ := os.ReadFile(log); string(again) != string(got) {
		t.Errorf("hook ran without new mail: %q", again)
	}
	// A failing hook is reported; the sync still succeeds.
	failing := writeConfig(t, strings.Replace(string(text), "maildir =", "on_new_mail = \"exit 3\"\nmaildir =", 1))
	u.Append(t, "INBOX", testenv.GenMessage(rng, &testenv.GenOptions{Subject: "m4", BodySize: 300}))
	code, _, errOut := runMain(t, "--config", failing, "sync")
	if code != 0 || !strings.Contains(errOut, `mailmirror sync: account "work": on_new_mail failed: exit status 3`) {
		t.Errorf("failing hook: exit %d, stderr %q", code, errOut)
	}
}
