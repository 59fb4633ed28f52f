package cli

import (
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/internal/testenv"
	"github.com/mailmirror/mailmirror/maildir"
)

// `mailmirror fetch FILE` through the built binary: a max_size placeholder
// becomes the server message, in place, by the running daemon or without
// one; clear errors and exit code 1 for a file that is no placeholder or
// not in a Maildir.
func TestFetchPlaceholderCommand(t *testing.T) {
	testenv.RequireDovecot(t)
	d := testenv.NewDovecot(t, nil)
	u := d.NewUser(t)
	rnd := rand.New(rand.NewPCG(7, 7))
	big := testenv.GenMessage(rnd, &testenv.GenOptions{Subject: "big", BodySize: 200_000})
	uid := u.Append(t, "INBOX", big, imap.FlagSeen)
	big2 := testenv.GenMessage(rnd, &testenv.GenOptions{Subject: "big 2", BodySize: 200_000})
	uid2 := u.Append(t, "INBOX", big2, imap.FlagSeen)
	u.Append(t, "INBOX", testenv.GenMessage(rnd, &testenv.GenOptions{Subject: "small", BodySize: 1000}))

	w := &world{t: t, d: d, u: u}
	dev := w.newDevice("fetch", "1h")
	cfg, err := os.ReadFile(dev.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dev.cfg, append(cfg, "max_size = \"100KB\"\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.Command(testBinary(t), append([]string{"--config", dev.cfg}, args...)...)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		code := exitCode(t, cmd.Run())
		return out.String(), errOut.String(), code
	}
	if out, errOut, code := run("sync"); code != 0 {
		t.Fatalf("sync: exit %d\n%s%s", code, out, errOut)
	}
	placeholder := map[string]string{} // Message-ID → path
	for _, m := range testenv.ReadMaildir(t, dev.root, maildir.LayoutVerbatim)["INBOX"] {
		data, _ := os.ReadFile(m.Path)
		if bytes.Contains(data, []byte("X-Mailmirror-Placeholder:")) {
			placeholder[m.MessageID] = m.Path
		}
	}
	if len(placeholder) != 2 {
		t.Fatalf("sync made %d placeholders, want 2", len(placeholder))
	}
	fetched := func(path string, uid uint32) {
		t.Helper()
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if want := bytes.ReplaceAll(u.Raw(t, "INBOX", uid), []byte("\r\n"), []byte("\n")); !bytes.Equal(got, want) {
			t.Fatalf("fetched file (%d bytes) differs from the server message (%d bytes)", len(got), len(want))
		}
	}

	// While the daemon runs it holds the state: it fetches.
	path := placeholder[testenv.MessageIDOf(big)]
	proc := startRun(t, dev)
	proc.waitReady(t, 2*time.Minute)
	out, errOut, code := run("fetch", path)
	if code != 0 {
		proc.stop(t)
		t.Fatalf("fetch by the daemon: exit %d\n%s%s", code, out, errOut)
	}
	fetched(path, uid)
	_, errOut, code = run("fetch", placeholder[testenv.MessageIDOf(big2)]+".nosuchfile")
	proc.stop(t)
	if code != 1 || !strings.Contains(errOut, "no such file") {
		t.Errorf("fetch of a missing file by the daemon: exit %d, %q", code, errOut)
	}

	// Without a daemon.
	out, errOut, code = run("fetch", placeholder[testenv.MessageIDOf(big2)])
	if code != 0 {
		t.Fatalf("fetch: exit %d\n%s%s", code, out, errOut)
	}
	fetched(placeholder[testenv.MessageIDOf(big2)], uid2)
	// The pairing was kept: a pass finds nothing to do.
	if out, errOut, code := run("sync"); code != 0 || !strings.Contains(out, "down: 0 new, 0 flags, 0 deleted, 0 moved; up: 0 new, 0 flags, 0 deleted, 0 moved") {
		t.Errorf("sync after fetch: exit %d\n%s%s", code, out, errOut)
	}
	if !testenv.CompareAccount(t, u, dev.root, maildir.LayoutVerbatim) {
		t.Fatal("server and Maildir differ")
	}

	// Errors: not a placeholder any more, not in a Maildir, missing.
	outside := filepath.Join(t.TempDir(), "msg")
	os.WriteFile(outside, []byte("Subject: x\n\nx\n"), 0o600)
	for _, tc := range []struct{ arg, want string }{
		{path, "not a mailmirror placeholder"},
		{outside, "is not in the Maildir of an IMAP account"},
		{filepath.Join(dev.root, "INBOX", "cur", "nosuchfile"), "no such file"},
	} {
		_, errOut, code := run("fetch", tc.arg)
		if code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("fetch %s: exit %d, %q; want 1 and %q", tc.arg, code, errOut, tc.want)
		}
	}
	if _, _, code := run("fetch"); code != ExitUsage {
		t.Errorf("fetch without files: exit %d, want %d", code, ExitUsage)
	}
}
