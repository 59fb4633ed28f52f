//go:build unix

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// targets of issues 3 and 16 (times and RSS) and issue 10 (bytes): ratios
// mailmirror / mbsync in the same run, except rss_mb, an absolute bound.
// The small passes are compared by their own work (issue 16): wall time
// minus the bare login the same run measured, which neither tool can avoid.
var targets = map[string]float64{
	"first_sync_time":    0.3,
	"no_change_own":      0.5,
	"flags_changed_own":  0.5,
	"rss_mb":             64,
	"no_change_bytes":    0.05,
	"flags_changed_byte": 0.10,
}

// row is one line of the table: a figure of both tools.
type row struct {
	name      string
	key       string // ratio key in the JSON; "" for none
	target    string // targets key; "" for none
	ours, ref func(*toolResults) *result
	value     func(*result) float64
	format    func(float64) string
}

func seconds(r *result) float64 { return r.Seconds }
func rssMB(r *result) float64   { return float64(r.RSSKB) / 1024 }
func sent(r *result) float64    { return float64(r.ServerOut) }
func recvd(r *result) float64   { return float64(r.ServerIn) }
func both(r *result) float64    { return float64(r.total()) }

func fmtSeconds(v float64) string { return fmt.Sprintf("%.3f s", v) }
func fmtMB(v float64) string      { return fmt.Sprintf("%.1f MB", v) }
func fmtBytes(v float64) string   { return human(int64(v)) }

func first(t *toolResults) *result    { return t.First }
func noChange(t *toolResults) *result { return t.NoChange }
func flags(t *toolResults) *result    { return t.FlagsChanged }
func newMsg(t *toolResults) *result   { return t.NewMessage }
func peak(t *toolResults) *result     { return &result{RSSKB: t.PeakRSSKB} }
func startup(t *toolResults) *result  { return t.Startup }

// printTable prints figure | mailmirror | mbsync | ratio | target, fills
// rep.Ratios and rep.Missed. ref may be nil (mbsync not run).
func printTable(rep *report, mm, ref *tool) {
	// own is the time a run took beyond the bare login (the floor).
	own := func(r *result) float64 { return max(r.Seconds-rep.LoginSeconds, 0) }
	// overTrue is the time a start took beyond /bin/true's.
	overTrue := func(r *result) float64 { return max(r.Seconds-rep.TrueSeconds, 0) }
	rows := []row{
		{"first full sync", "first_sync_time", "first_sync_time", first, first, seconds, fmtSeconds},
		{fmt.Sprintf("no-change sync (median of %d)", len(mm.res.NoChangeRuns)), "no_change_time", "", noChange, noChange, seconds, fmtSeconds},
		{"no-change sync, own work", "no_change_own", "no_change_own", noChange, noChange, own, fmtSeconds},
		{"1% flags changed", "flags_changed_time", "", flags, flags, seconds, fmtSeconds},
		{"1% flags changed, own work", "flags_changed_own", "flags_changed_own", flags, flags, own, fmtSeconds},
		{"one new message", "new_message_time", "", newMsg, newMsg, seconds, fmtSeconds},
		{"start and exit (version), median", "startup_time", "", startup, startup, seconds, fmtSeconds},
		{"start and exit over /bin/true", "startup_over_true", "", startup, startup, overTrue, fmtSeconds},
		{"peak RSS, first sync", "first_sync_rss", "", first, first, rssMB, fmtMB},
		{"peak RSS, any run", "peak_rss", "", peak, peak, rssMB, fmtMB},
		{"server sent, first sync", "first_sync_sent", "", first, first, sent, fmtBytes},
		{"server received, first sync", "first_sync_received", "", first, first, recvd, fmtBytes},
		{"server sent, no change", "no_change_sent", "", noChange, noChange, sent, fmtBytes},
		{"server received, no change", "no_change_received", "", noChange, noChange, recvd, fmtBytes},
		{"bytes both ways, no change", "no_change_bytes", "no_change_bytes", noChange, noChange, both, fmtBytes},
		{"server sent, 1% flags", "flags_changed_sent", "", flags, flags, sent, fmtBytes},
		{"server received, 1% flags", "flags_changed_received", "", flags, flags, recvd, fmtBytes},
		{"bytes both ways, 1% flags", "flags_changed_bytes", "flags_changed_byte", flags, flags, both, fmtBytes},
		{"server sent, new message", "new_message_sent", "", newMsg, newMsg, sent, fmtBytes},
		{"server received, new message", "new_message_received", "", newMsg, newMsg, recvd, fmtBytes},
	}
	refName := "mbsync"
	if ref != nil {
		refName = ref.name
	}
	rep.Ratios = map[string]float64{}
	fmt.Printf("%-32s %14s %14s %9s %8s\n", "figure", mm.name, refName, "ratio", "target")
	fmt.Println(strings.Repeat("-", 81))
	for _, r := range rows {
		o := r.ours(&mm.res)
		if o == nil {
			continue
		}
		ov := r.value(o)
		theirs, ratio, target := "-", "-", ""
		if r.target != "" {
			target = fmt.Sprintf("≤ %.2f", targets[r.target])
		}
		if ref != nil {
			if t := r.ref(&ref.res); t != nil {
				tv := r.value(t)
				theirs = r.format(tv)
				if tv > 0 && !(o.InProcess && r.key == "first_sync_rss") {
					q := ov / tv
					rep.Ratios[r.key] = q
					ratio = fmt.Sprintf("%.3f", q)
					if r.target != "" && q > targets[r.target] {
						ratio += " !"
						rep.Missed = append(rep.Missed, fmt.Sprintf("%s: %.3f > %.2f", r.name, q, targets[r.target]))
					}
				}
			}
		}
		ours := r.format(ov)
		switch {
		case o.InProcess && r.key == "first_sync_rss":
			ours = "n/a"
		case r.key == "peak_rss":
			target = fmt.Sprintf("≤ %.0f MB", targets["rss_mb"])
			if ov > targets["rss_mb"] {
				ours += " !"
			}
		}
		fmt.Printf("%-32s %14s %14s %9s %8s\n", r.name, ours, theirs, ratio, target)
	}
	peakMB := float64(mm.res.PeakRSSKB) / 1024
	if peakMB > targets["rss_mb"] {
		rep.Missed = append(rep.Missed, fmt.Sprintf("peak RSS %.1f MB > %.0f MB", peakMB, targets["rss_mb"]))
	}
	for _, label := range []string{"first sync", "1% flags changed", "last sync"} {
		for _, t := range []*tool{mm, ref} {
			if t == nil {
				continue
			}
			if n := t.res.Differences[label]; n > 0 {
				msg := fmt.Sprintf("%s's Maildir differs from the server after the %s: %d messages", t.name, label, n)
				fmt.Println(msg)
				if t == mm {
					rep.Missed = append(rep.Missed, msg)
				}
			}
		}
	}
	for _, t := range []*tool{mm, ref} {
		if t != nil && t.res.RevertedOnServer > 0 {
			msg := fmt.Sprintf("%s undid %d of the other client's flag changes on the server", t.name, t.res.RevertedOnServer)
			fmt.Println(msg)
			if t == mm {
				rep.Missed = append(rep.Missed, msg)
			}
		}
	}
	for _, r := range mm.res.runs() {
		if r.Error != "" {
			rep.Missed = append(rep.Missed, "a mailmirror run failed: "+r.Error)
			break
		}
	}
	fmt.Println(strings.Repeat("-", 81))
	fmt.Printf("targets (issues 3, 10 and 16): time ratios first full ≤ %.2f, own work no-change ≤ %.2f, 1%%-changed ≤ %.2f; peak RSS ≤ %.0f MB; bytes: no-change ≤ %.0f%% of mbsync's, 1%%-changed ≤ %.0f%%\n",
		targets["first_sync_time"], targets["no_change_own"], targets["flags_changed_own"], targets["rss_mb"],
		targets["no_change_bytes"]*100, targets["flags_changed_byte"]*100)
	switch {
	case ref == nil:
		fmt.Println("mbsync was not run: no ratios")
	case len(rep.Missed) == 0:
		fmt.Println("every target met")
	default:
		fmt.Printf("missed: %s\n", strings.Join(rep.Missed, "; "))
	}
	fmt.Printf("an IMAP connect + greeting + LOGIN + LOGOUT alone takes %.3f s on this server (median of 10 in this run: the floor under every sync of both tools, subtracted in the own-work rows)\n", rep.LoginSeconds)
	fmt.Printf("/bin/true started the same way takes %.3f s (subtracted in the \"over /bin/true\" row)\n", rep.TrueSeconds)
	fmt.Printf("a Go program that prints one line, built like mailmirror, takes %.3f s: %.3f s over /bin/true, the start of any Go binary here (mailmirror's start over it: %.3f s)\n",
		rep.GoFloorSeconds, max(rep.GoFloorSeconds-rep.TrueSeconds, 0), max(mmStartup(rep)-rep.GoFloorSeconds, 0))
	fmt.Println("times are wall times of the whole child process; bytes are Dovecot's own in=/out= counts of the run's sessions")
}

// writeJSON writes the report to path, creating its directory.
func writeJSON(path string, rep *report) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return err
	}
	fmt.Printf("results written to %s\n", path)
	return nil
}

// mmStartup is mailmirror's median start and exit (0 when not measured).
func mmStartup(rep *report) float64 {
	if t := rep.Tools["mailmirror"]; t != nil && t.Startup != nil {
		return t.Startup.Seconds
	}
	return 0
}
