//go:build unix

package main

import (
	"strings"
	"testing"
)

func TestMedianPicksTheMiddleWallTime(t *testing.T) {
	rs := []*result{{Seconds: 3}, {Seconds: 1}, {Seconds: 2}, {Seconds: 5}, {Seconds: 4}}
	if m := median(rs); m.Seconds != 3 {
		t.Errorf("median %v, want 3", m.Seconds)
	}
	if rs[0].Seconds != 3 {
		t.Error("median reordered its argument")
	}
}

func TestHuman(t *testing.T) {
	for n, want := range map[int64]string{999: "999 B", 12_345: "12.3 KB", 282_600_000: "282.6 MB"} {
		if got := human(n); got != want {
			t.Errorf("human(%d) = %q, want %q", n, got, want)
		}
	}
}

// figures builds a tool whose every run has these time, RSS and bytes.
func figures(name string, secs float64, rssKB, out, in int64) *tool {
	r := func() *result { return &result{Seconds: secs, RSSKB: rssKB, ServerOut: out, ServerIn: in} }
	t := &tool{name: name}
	t.res = toolResults{First: r(), NoChange: r(), NoChangeRuns: []*result{r()}, FlagsChanged: r(), NewMessage: r(), Startup: r(), PeakRSSKB: rssKB}
	return t
}

func TestPrintTableRatiosAndMissedTargets(t *testing.T) {
	rep := &report{LoginSeconds: 0.5}
	mm := figures("mailmirror", 1, 70<<10, 30, 10)
	mb := figures("mbsync", 4, 8<<10, 1000, 0)
	mm.res.NoChange = &result{Seconds: 3, ServerOut: 100}
	mm.res.Differences = map[string]int{"1% flags changed": 2}
	mm.res.RevertedOnServer = 1
	printTable(rep, mm, mb)
	if got := rep.Ratios["first_sync_time"]; got != 0.25 {
		t.Errorf("first sync ratio %v, want 0.25", got)
	}
	// Own work: wall time minus the login floor of the same run.
	if got := rep.Ratios["no_change_own"]; got != 2.5/3.5 {
		t.Errorf("no-change own-work ratio %v, want %v", got, 2.5/3.5)
	}
	if got := rep.Ratios["flags_changed_own"]; got != 0.5/3.5 {
		t.Errorf("1%% own-work ratio %v, want %v", got, 0.5/3.5)
	}
	if got := rep.Ratios["flags_changed_bytes"]; got != 0.04 {
		t.Errorf("1%% bytes ratio %v, want 0.04", got)
	}
	missed := strings.Join(rep.Missed, "\n")
	for _, want := range []string{"no-change sync, own work", "peak RSS 70.0 MB", "bytes both ways, no change", "after the 1% flags changed: 2", "undid 1"} {
		if !strings.Contains(missed, want) {
			t.Errorf("missed targets lack %q:\n%s", want, missed)
		}
	}
	for _, not := range []string{"first full sync", "1% flags changed, own work", "bytes both ways, 1% flags"} {
		if strings.Contains(missed, not) {
			t.Errorf("missed targets name %q, which was met:\n%s", not, missed)
		}
	}
}

func TestPrintTableWithoutMbsync(t *testing.T) {
	rep := &report{}
	printTable(rep, figures("mailmirror", 1, 1024, 1, 1), nil)
	if len(rep.Ratios) != 0 || len(rep.Missed) != 0 {
		t.Errorf("ratios %v, missed %v without mbsync", rep.Ratios, rep.Missed)
	}
}
