package cli

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/internal/testenv"
)

// TestStatusWarnsWhenServerQuotaNearlyFull: against a Dovecot with its
// quota plugin (100 KiB for the user), a pass records the usage
// GETQUOTAROOT reports, and `mailmirror status` shows it, with a warning
// once it is above 90%.
func TestStatusWarnsWhenServerQuotaNearlyFull(t *testing.T) {
	d := testenv.NewDovecot(t, &testenv.DovecotOptions{ExtraConfig: []string{
		"mail_plugins = quota",
		"protocol imap {",
		"  mail_plugins = quota imap_quota",
		"}",
		"plugin {",
		"  quota = maildir:User quota",
		"  quota_rule = *:storage=100K",
		"}",
	}})
	u := d.NewUser(t)
	dir := t.TempDir()
	cfg := writeIMAPConfig(t, u, d.IMAPPort, dir)
	rng := rand.New(rand.NewPCG(5, 6))
	c := u.Dial(t)
	usage := func() (int64, int64) {
		data, err := c.GetQuotaRoot("INBOX").Wait()
		if err != nil || len(data) != 1 {
			t.Fatalf("GETQUOTAROOT: %v %v", data, err)
		}
		r := data[0].Resources[imap.QuotaResourceStorage]
		return r.Usage, r.Limit
	}
	fill := func(percent int64) {
		for {
			used, limit := usage()
			if used*100 > limit*percent {
				return
			}
			u.Append(t, "INBOX", testenv.GenMessage(rng, &testenv.GenOptions{BodySize: 2500}))
		}
	}
	status := func() string {
		t.Helper()
		if code, out, errOut := runMain(t, "--config", cfg, "sync"); code != 0 {
			t.Fatalf("sync: %d %s%s", code, out, errOut)
		}
		code, out, errOut := runMain(t, "--config", cfg, "status")
		if code != 0 {
			t.Fatalf("status: %d %s%s", code, out, errOut)
		}
		return out
	}

	fill(50)
	out := status()
	if !strings.Contains(out, "quota:       STORAGE ") || !strings.Contains(out, "of 102.4 KB") || strings.Contains(out, "warning:") {
		t.Errorf("status at about half the quota:\n%s", out)
	}
	fill(91)
	used, limit := usage()
	out = status()
	want := fmt.Sprintf("warning:     server quota %d%% full (STORAGE %s of 102.4 KB): consider archive_after", used*100/limit, humanBytes(used*1024))
	if !strings.Contains(out, want) {
		t.Errorf("status above 90%%:\n%s\nwant a line %q", out, want)
	}
	code, out, _ := runMain(t, "--config", cfg, "status", "--json")
	if code != 0 || !strings.Contains(out, `"resource": "STORAGE"`) || !strings.Contains(out, fmt.Sprintf(`"usage": %d`, used)) {
		t.Errorf("status --json:\n%s", out)
	}
}
