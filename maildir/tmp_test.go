package maildir

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestDeadKey(t *testing.T) {
	mine := NewKey()
	other := strings.Replace(mine, fmt.Sprintf("P%dQ", os.Getpid()), "P1Q", 1)
	for name, want := range map[string]bool{
		mine:  false,
		other: true,
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
