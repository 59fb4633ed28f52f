package cli

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/syncer"
)

func TestExplainNamesTheFix(t *testing.T) {
	a := &config.Account{Name: "work", Host: "imap.example.com", Port: 993, PasswordCommand: "pass show work"}
	err := fmt.Errorf("login as %q: %w: the server said %q", "me", syncer.ErrAuth, "[AUTHENTICATIONFAILED] Authentication failed.")
	got := explain(a, err)
	for _, want := range []string{"login failed for account work", "[AUTHENTICATIONFAILED]", "check username and password_command"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
	got = explain(a, fmt.Errorf("connect to imap.example.com:993: dial tcp: connection refused"))
	if !strings.Contains(got, "check host and port (imap.example.com:993)") {
		t.Errorf("%q", got)
	}
}

func TestPlainProgressLinesWhenNotATerminal(t *testing.T) {
	var b strings.Builder
	p := newProgress(&b, false)
	report := p.report("work")
	for i := 1; i <= 2500; i++ {
		report(syncer.Progress{Folder: "INBOX", Direction: "down", Done: i, Total: 2500})
	}
	got := b.String()
	want := "work/INBOX: downloaded 1000 of 2500 messages\nwork/INBOX: downloaded 2000 of 2500 messages\nwork/INBOX: downloaded 2500 of 2500 messages\n"
	if got != want {
		t.Errorf("progress lines:\n%s\nwant\n%s", got, want)
	}
	b.Reset()
	if r := newProgress(&b, true).report("work"); r != nil {
		t.Error("--quiet still reports progress")
	}
}
