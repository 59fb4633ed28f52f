package maildir

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestDeadKey(t *testing.T) {
	mine := NewKey()
	// A process that has exited: its downloads are dead.
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	other := strings.Replace(mine, fmt.Sprintf("P%dQ", os.Getpid()), fmt.Sprintf("P%dQ", cmd.Process.Pid), 1)
	// A process that runs (this test's parent) may be writing its file
	// still: a mail client using this package on the same Maildir
	// (found by TestHardeningCrashChaos, whose client's file the
	// daemon's first pass removed before the client published it).
	live := strings.Replace(mine, fmt.Sprintf("P%dQ", os.Getpid()), fmt.Sprintf("P%dQ", os.Getppid()), 1)
	for name, want := range map[string]bool{
		mine:  false,
		other: true,
		live:  false,
		strings.TrimSuffix(other, hostname) + "elsewhere": false,
		"1796000000.12345_1." + hostname:                  false,
		"":                                                false,
		".M1P2Q3R4." + hostname:                           false,
	} {
		if got := deadKey(name); got != want {
			t.Errorf("deadKey(%q) = %v, want %v", name, got, want)
		}
	}
}
