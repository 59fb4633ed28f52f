package cli

import (
	"strings"
	"testing"
)

// TestVersionFlag: mailmirror --version prints what mailmirror version
// prints, and both carry the version and the commit stamped at build time.
func TestVersionFlag(t *testing.T) {
	oldV, oldC := Version, Commit
	Version, Commit = "v9.8.7", "abc123def456"
	defer func() { Version, Commit = oldV, oldC }()
	code, flagOut, stderr := runCLI("--version")
	if code != ExitOK {
		t.Fatalf("--version: exit %d, stderr %s", code, stderr)
	}
	code, cmdOut, stderr := runCLI("version")
	if code != ExitOK {
		t.Fatalf("version: exit %d, stderr %s", code, stderr)
	}
	if flagOut != cmdOut {
		t.Errorf("--version printed %q, version printed %q", flagOut, cmdOut)
	}
	for _, want := range []string{"mailmirror v9.8.7 ", "(commit abc123def456)"} {
		if !strings.Contains(cmdOut, want) {
			t.Errorf("version output %q lacks %q", cmdOut, want)
		}
	}
}

// TestSyncHelpDocumentsExitCodesAndDaemon: sync --help says what its exit
// statuses mean and that it hands the pass to a running daemon.
func TestSyncHelpDocumentsExitCodesAndDaemon(t *testing.T) {
	code, stdout, _ := runCLI("sync", "--help")
	if code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"Exit status: 0 when every account synced", "1 when one failed", "2 for bad usage", "hands the pass to the daemon", "-quiet"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("sync --help lacks %q:\n%s", want, stdout)
		}
	}
}

// TestImportHelpHasNoConfig: import reads an mbsync or OfflineIMAP file,
// not a mailmirror config, so its --help offers no --config.
func TestImportHelpHasNoConfig(t *testing.T) {
	code, stdout, _ := runCLI("import", "--help")
	if code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	if strings.Contains(stdout, "-config") {
		t.Errorf("import --help offers --config:\n%s", stdout)
	}
	if !strings.Contains(stdout, "-output") {
		t.Errorf("import --help lacks --output:\n%s", stdout)
	}
}
