package cli

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailmirror/mailmirror/internal/testenv/pop3srv"
)

// writePOP3Config writes a config with one POP3 account "pop" on the fake
// server at addr (clear text on loopback), its state and Maildir in dir.
func writePOP3Config(t *testing.T, addr, dir string) string {
	t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	return writeConfig(t, fmt.Sprintf(`state_dir = %q
[[account]]
name = "pop"
protocol = "pop3"
host = %q
port = %s
tls = "none"
username = "user"
password = "pass"
maildir = %q
`, filepath.Join(dir, "state"), host, port, filepath.Join(dir, "Mail")))
}

// Issue 19 item 4: `mailmirror sync` says, one line each, what a POP3 poll
// could not fetch, exits non-zero, and `status` shows the same.
func TestIssue19SyncReportsPOP3Problems(t *testing.T) {
	srv := pop3srv.New(pop3srv.Options{})
	addr, err := srv.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	for i := range 4 {
		srv.Mailbox.Add([]byte(fmt.Sprintf("Subject: %d\r\nMessage-ID: <%d@x>\r\n\r\nbody\r\n", i, i)))
	}
	bad := srv.Mailbox.Messages()[1].UIDL
	srv.SetFaults(pop3srv.Faults{BreakUIDL: bad})
	cfg := writePOP3Config(t, addr, t.TempDir())

	code, stdout, stderr := runMain(t, "--config", cfg, "sync")
	t.Logf("sync: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	if code == ExitOK {
		t.Errorf("sync exited 0 with a message not fetched")
	}
	if !strings.Contains(stdout, "pop: pop3: 3 new, 0 deleted on the server, 4 on the server, 1 not fetched") {
		t.Errorf("summary does not count the message not fetched:\n%s", stdout)
	}
	want := "pop: message 2 (UIDL " + bad + "): not fetched: "
	if strings.Count(stderr, want) != 1 {
		t.Errorf("stderr does not name message 2 once:\n%s", stderr)
	}
	code, stdout, _ = runMain(t, "--config", cfg, "status")
	if code != ExitOK || !strings.Contains(stdout, "problems:    1 at the last poll") || !strings.Contains(stdout, "message 2 (UIDL "+bad+")") {
		t.Errorf("status: exit %d\n%s", code, stdout)
	}
}
