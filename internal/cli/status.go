package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/daemon"
)

func init() {
	register("status", "show the daemon's status", runStatus)
}

func runStatus(e *Env) int {
	fs := e.Flags("status", "status [--config F] [--json]")
	asJSON := fs.Bool("json", false, "print the status as JSON")
	if ok, code := e.Parse(fs); !ok {
		return code
	}
	if len(e.Args) > 0 {
		fmt.Fprintf(e.Stderr, "mailmirror status: unexpected argument %q\n", e.Args[0])
		return ExitUsage
	}
	cfg, err := config.Load(e.Config())
	if err != nil {
		fmt.Fprintf(e.Stderr, "mailmirror: %v\n", err)
		return ExitFailure
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := daemon.RequestStatus(ctx, cfg.StateDir)
	var note string
	if err != nil {
		if !errors.Is(err, daemon.ErrNotRunning) {
			note = fmt.Sprintf("the daemon did not answer: %v", err)
		}
		var derr error
		st, derr = daemon.OfflineStatus(cfg)
		if derr != nil && note == "" {
			note = derr.Error()
		}
	}
	if *asJSON {
		out := struct {
			*daemon.Status
			Note string `json:"note,omitempty"`
		}{st, note}
		enc := json.NewEncoder(e.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			fmt.Fprintf(e.Stderr, "mailmirror status: %v\n", err)
			return ExitFailure
		}
		return ExitOK
	}
	printStatus(e.Stdout, st, note, time.Now())
	return ExitOK
}

// printStatus writes the status for a person.
func printStatus(w io.Writer, st *daemon.Status, note string, now time.Time) {
	if st.Running {
		ready := "ready"
		if !st.Ready {
			ready = "starting"
		}
		fmt.Fprintf(w, "daemon: running (pid %d, up %s, %s)\n", st.PID, ago(now, st.Started), ready)
	} else {
		fmt.Fprintf(w, "daemon: not running; showing what the state in %s knows\n", st.StateDir)
	}
	if note != "" {
		fmt.Fprintf(w, "note: %s\n", note)
	}
	if len(st.Accounts) == 0 {
		fmt.Fprintln(w, "no accounts configured")
	}
	for _, a := range st.Accounts {
		fmt.Fprintf(w, "\n%s (%s)\n", a.Name, a.Protocol)
		switch {
		case !st.Running:
			fmt.Fprintf(w, "  connection:  unknown (daemon not running)\n")
		case a.Reason != "" && a.State != daemon.StateConnected:
			fmt.Fprintf(w, "  connection:  %s%s: %s\n", a.State, syncing(a), a.Reason)
		default:
			fmt.Fprintf(w, "  connection:  %s%s\n", a.State, syncing(a))
		}
		if !a.NextRetry.IsZero() && a.NextRetry.After(now) {
			fmt.Fprintf(w, "  next retry:  in %s\n", a.NextRetry.Sub(now).Round(time.Second))
		}
		for _, i := range a.Idle {
			s := "connected"
			if !i.Connected {
				s = "not connected"
				if i.Error != "" {
					s += ": " + i.Error
				}
			}
			if i.Reconnects > 0 {
				s += fmt.Sprintf(" (%d reconnects)", i.Reconnects)
			}
			fmt.Fprintf(w, "  IDLE:        %s %s\n", i.Folder, s)
		}
		if st.Running {
			if a.LastPass.IsZero() {
				fmt.Fprintf(w, "  last pass:   none yet\n")
			} else {
				fmt.Fprintf(w, "  last pass:   %s (%s ago): %s\n", a.LastPass.Format("2006-01-02 15:04:05"), ago(now, a.LastPass), a.LastSummary)
			}
		}
		for _, p := range a.Progress {
			fmt.Fprintf(w, "  to come:     %s\n", progressText(p))
		}
		fmt.Fprintf(w, "  pending:     %d operations\n", a.PendingOps)
		if a.LastError != "" {
			fmt.Fprintf(w, "  last error:  %s (%s)\n", a.LastError, a.LastErrorAt.Format("2006-01-02 15:04:05"))
		}
		if a.Protocol == config.ProtocolPOP3 {
			fmt.Fprintf(w, "  messages:    %d downloaded\n", a.Messages)
			printProblems(w, a)
			continue
		}
		for _, q := range a.Quota {
			fmt.Fprintf(w, "  quota:       %s\n", quotaText(q))
		}
		for _, q := range a.Quota {
			if q.Full() {
				fmt.Fprintf(w, "  warning:     server quota %d%% full (%s): consider archive_after\n", q.Percent, quotaText(q))
			}
		}
		for _, n := range a.Notes {
			fmt.Fprintf(w, "  attention:   %s (since %s)\n", n.Text, n.Since.Format("2006-01-02 15:04"))
		}
		fmt.Fprintf(w, "  messages:    %d in %d folders\n", a.Messages, len(a.Folders))
		width := 0
		for _, f := range a.Folders {
			width = max(width, len(f.Name))
		}
		for _, f := range a.Folders {
			fmt.Fprintf(w, "    %s%s %7d\n", f.Name, strings.Repeat(" ", width-len(f.Name)), f.Messages)
		}
	}
}

// printProblems lists what the last POP3 poll could not do.
func printProblems(w io.Writer, a daemon.AccountStatus) {
	if len(a.Problems) == 0 {
		return
	}
	fmt.Fprintf(w, "  problems:    %d at the last poll (the same since %s):\n", len(a.Problems), a.ProblemsAt.Format("2006-01-02 15:04:05"))
	for _, p := range a.Problems {
		fmt.Fprintf(w, "    %s\n", p)
	}
}

// quotaText renders a quota resource: "STORAGE 930.0 MB of 1.0 GB" (STORAGE
// counts KiB), "MESSAGE 930 of 1000".
func quotaText(q daemon.QuotaStatus) string {
	if q.Resource == "STORAGE" {
		return fmt.Sprintf("STORAGE %s of %s", humanBytes(q.Usage*1024), humanBytes(q.Limit*1024))
	}
	return fmt.Sprintf("%s %d of %d", q.Resource, q.Usage, q.Limit)
}

// progressText renders what a running pass still has to transfer in one
// folder: "INBOX: 2766 of 4000 messages to download (84.1 MB)".
func progressText(p daemon.TransferStatus) string {
	verb := map[string]string{"down": "download", "up": "upload", "read": "read"}[p.Direction]
	out := fmt.Sprintf("%s: %d of %d messages to %s", p.Folder, p.Total-p.Done, p.Total, verb)
	if p.TotalBytes > 0 {
		out += fmt.Sprintf(" (%s)", humanBytes(p.TotalBytes-p.Bytes))
	}
	return out
}

func syncing(a daemon.AccountStatus) string {
	if a.Syncing {
		return " (syncing now)"
	}
	return ""
}

func ago(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Second:
		return "0s"
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	default:
		return d.Round(time.Minute).String()
	}
}
