package cli

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mailmirror/mailmirror/internal/testenv"
)

// The demo, run as a user would: it reaches the ready line, receives a
// pushed message, and exits 0 on SIGINT.
func TestDemoRunsPushesAndStopsOnSIGINT(t *testing.T) {
	exe := testBinary(t)
	dir := filepath.Join(t.TempDir(), "demo")
	cmd := exec.Command(exe, "demo", "--dir", dir, "--every", "300ms")
	stderr, _ := cmd.StderrPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var out strings.Builder
	go io.Copy(&out, stdout)
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var log []string
	ready, pushed := false, false
	deadline := time.After(2 * time.Minute)
	for !pushed {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("demo exited early:\n%s\n%s", strings.Join(log, "\n"), out.String())
			}
			log = append(log, l)
			if strings.Contains(l, "msg=ready") {
				ready = true
			}
			if ready && strings.Contains(l, "account=demo ") && strings.Contains(l, "down: 1 new") {
				pushed = true
			}
		case <-deadline:
			t.Fatalf("no ready line and pushed message within 2 minutes (ready=%v):\n%s", ready, strings.Join(log, "\n"))
		}
	}
	cmd.Process.Signal(syscall.SIGINT)
	for range lines {
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("demo did not exit 0 on SIGINT: %v\n%s", err, strings.Join(log, "\n"))
	}
	if !strings.Contains(out.String(), "mutt -f "+filepath.Join(dir, "Mail", "demo", "INBOX")) {
		t.Errorf("demo did not say how to look:\n%s", out.String())
	}
}

// demoRun runs the demo binary in dir until until(stdout so far) holds,
// after act(dir) once the first pushed message arrived, then stops it
// with SIGINT and returns its stdout.
func demoRun(t *testing.T, dir string, act func(), until func(out string) bool) string {
	t.Helper()
	cmd := exec.Command(testBinary(t), "demo", "--dir", dir, "--every", "300ms")
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var out strings.Builder
	acted := false
	deadline := time.After(2 * time.Minute)
	for !until(out.String()) {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("demo exited early:\n%s", out.String())
			}
			out.WriteString(l + "\n")
			if !acted && strings.HasPrefix(l, "Maildir: ") && strings.Contains(l, "arrived in INBOX") && !strings.Contains(l, "messages arrived") {
				acted = true
				if act != nil {
					act()
				}
			}
		case <-deadline:
			t.Fatalf("demo did not get there within 2 minutes:\n%s", out.String())
		}
	}
	cmd.Process.Signal(syscall.SIGINT)
	for l := range lines {
		out.WriteString(l + "\n")
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("demo did not exit 0 on SIGINT: %v\n%s", err, out.String())
	}
	return out.String()
}

// demoMaildir lists the demo's local messages: folder → Message-ID → files.
func demoMaildir(t *testing.T, dir string) map[string]map[string]int {
	t.Helper()
	out := map[string]map[string]int{}
	for _, acct := range []string{"demo", "demo-pop"} {
		for folder, msgs := range testenv.ReadMaildir(t, filepath.Join(dir, "Mail", acct), "verbatim") {
			k := acct + "/" + folder
			out[k] = map[string]int{}
			for _, m := range msgs {
				out[k][m.MessageID]++
			}
		}
	}
	return out
}

// Running the demo again starts fresh and says so: the Maildir holds the
// second run's messages once each, none of the first run's (issue 18: the
// POP3 INBOX ended with 14 files). A flag set locally is reported in words
// as the server's change; the muttrc lists every folder.
func TestDemoRerunStartsFreshWithoutDuplicates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	flagged := false
	first := demoRun(t, dir, func() {
		ents, _ := filepath.Glob(filepath.Join(dir, "Mail", "demo", "INBOX", "cur", "*:2,S"))
		if len(ents) == 0 {
			t.Errorf("no seen message in INBOX/cur")
			return
		}
		if err := os.Rename(ents[0], ents[0]+"F"); err != nil {
			t.Error(err)
		}
		flagged = true
	}, func(out string) bool { return flagged && strings.Contains(out, `server: \Flagged set on "`) })
	before := demoMaildir(t, dir)
	if strings.Contains(first, "Starting fresh") {
		t.Errorf("first run says it starts fresh:\n%s", first)
	}
	second := demoRun(t, dir, nil, func(out string) bool {
		return strings.Count(out, "Maildir: ") >= 7 && strings.Contains(out, "POP3 INBOX")
	})
	if !strings.Contains(second, "Starting fresh: removed the previous demo's Maildir and state in "+dir) {
		t.Errorf("second run does not say it starts fresh:\n%s", second)
	}
	after := demoMaildir(t, dir)
	for folder, ids := range after {
		for id, n := range ids {
			if n != 1 {
				t.Errorf("%s: %s is there %d times", folder, id, n)
			}
			if before[folder][id] > 0 {
				t.Errorf("%s: %s is left from the first run", folder, id)
			}
		}
	}
	if n := len(after["demo-pop/INBOX"]); n < 6 || n > 6+len(after["demo/INBOX"])-24 {
		t.Errorf("POP3 INBOX holds %d messages", n)
	}
	if n := len(after["demo/INBOX"]); n < 24 {
		t.Errorf("INBOX holds %d messages, want the 24 samples and what arrived", n)
	}
	muttrc, err := os.ReadFile(filepath.Join(dir, "muttrc"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{`"+INBOX"`, `"+Archive"`, `"+Sent"`, `"+Lists/golang"`, `"+Trash"`, filepath.Join(dir, "Mail", "demo-pop", "INBOX")} {
		if !strings.Contains(string(muttrc), f) {
			t.Errorf("muttrc lacks %s:\n%s", f, muttrc)
		}
	}
}
