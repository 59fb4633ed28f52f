package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// RequireNotmuch returns the path of the notmuch command. Without it the
// test is skipped, or fails when CI or MAILMIRROR_REQUIRE_DOVECOT is set
// (the test command installs notmuch like Dovecot).
func RequireNotmuch(t testing.TB) string {
	t.Helper()
	nm, err := exec.LookPath("notmuch")
	if err != nil {
		skip, fail := skipOrFail(os.Getenv("CI"), os.Getenv(EnvRequire), false)
		switch {
		case fail:
			t.Fatalf("notmuch is not installed (apt-get install notmuch); required because CI or %s is set", EnvRequire)
		case skip:
			t.Skip("notmuch is not installed (apt-get install notmuch)")
		}
	}
	return nm
}
