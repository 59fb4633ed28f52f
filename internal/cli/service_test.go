package cli

import (
	"bytes"
	"strings"
	"testing"
)

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = Main(args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func TestServiceUsage(t *testing.T) {
	for _, args := range [][]string{
		{"service"},
		{"service", "frobnicate"},
		{"service", "install", "extra"},
		{"service", "install", "--user", "bob"},
		{"service", "start", "--dry-run"},
	} {
		code, _, stderr := runCLI(args...)
		if code != ExitUsage {
			t.Errorf("%q: exit %d, want %d; stderr:\n%s", args, code, ExitUsage, stderr)
		}
	}
	code, stdout, _ := runCLI("service", "--help")
	if code != ExitOK || !strings.Contains(stdout, "-dry-run") || !strings.Contains(stdout, "uninstall") {
		t.Errorf("--help: exit %d, output:\n%s", code, stdout)
	}
}
