package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/mailmirror/mailmirror/daemon"
)

func TestPrintStatus(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	st := &daemon.Status{
		Running: true, PID: 4242, Started: now.Add(-3 * time.Hour), Ready: true, StateDir: "/s",
		Accounts: []daemon.AccountStatus{
			{Name: "work", Protocol: "imap", State: daemon.StateConnected, Connected: true,
				LastPass: now.Add(-5 * time.Second), LastSummary: "down: 1 new, 0 flags, 0 deleted, 0 moved; up: 0 new, 0 flags, 0 deleted, 0 moved",
				Passes: 12, Idle: []daemon.IdleStatus{{Folder: "INBOX", Connected: true}},
				Folders: []daemon.FolderStatus{{Name: "Archive", Messages: 5678}, {Name: "INBOX", Messages: 1234}}, Messages: 6912},
			{Name: "home", Protocol: "imap", State: daemon.StateAuthFailed, Reason: "login as \"me\": authentication failed",
				LastError: "login as \"me\": authentication failed", LastErrorAt: now.Add(-time.Minute), NextRetry: now.Add(4 * time.Minute), PendingOps: 2,
				Progress: []daemon.TransferStatus{{Folder: "INBOX", Direction: "down", Done: 1234, Total: 4000, Bytes: 10_000_000, TotalBytes: 94_100_000}}},
			{Name: "old", Protocol: "pop3", State: daemon.StateConnected, Connected: true, LastPass: now.Add(-time.Minute), LastSummary: "pop3: 0 new", Messages: 31},
		},
	}
	var b strings.Builder
	printStatus(&b, st, "", now)
	out := b.String()
	t.Logf("\n%s", out)
	for _, want := range []string{
		"daemon: running (pid 4242, up 3h0m0s, ready)",
		"work (imap)\n  connection:  connected\n",
		"  IDLE:        INBOX connected\n",
		"  last pass:   2025-03-01 11:59:55 (5s ago): down: 1 new",
		"  messages:    6912 in 2 folders\n    Archive    5678\n    INBOX      1234\n",
		"home (imap)\n  connection:  auth-failed: login as \"me\": authentication failed\n  next retry:  in 4m0s\n",
		"  to come:     INBOX: 2766 of 4000 messages to download (84.1 MB)\n  pending:     2 operations\n",
		"old (pop3)",
		"  messages:    31 downloaded\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	b.Reset()
	st.Running = false
	printStatus(&b, st, "", now)
	if !strings.Contains(b.String(), "daemon: not running; showing what the state in /s knows") || !strings.Contains(b.String(), "unknown (daemon not running)") {
		t.Errorf("offline output:\n%s", b.String())
	}
}
