//go:build unix

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mailmirror/mailmirror/bench/corpus"
	"github.com/mailmirror/mailmirror/internal/testenv"
	"github.com/mailmirror/mailmirror/internal/testenv/faultproxy"
)

// link is a bad link between the tools and Dovecot (-link): a rate shared
// by every connection, a drop of each connection after so many bytes, a
// latency.
type link struct {
	Spec    string        `json:"spec"`
	Rate    int           `json:"rate_bytes_per_second"` // 0: unlimited
	Drop    int64         `json:"drop_after_bytes"`      // 0: never
	Latency time.Duration `json:"latency_ns"`
}

// parseLink reads "rate=10Mbit,drop=4MB,latency=20ms". Rates take bit/s
// with k, M, G (Kbit, Mbit, Gbit, or bps); sizes take KB, MB, GB (1024s).
func parseLink(spec string) (link, error) {
	l := link{Spec: spec}
	for _, part := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return l, fmt.Errorf("-link: %q: want key=value", part)
		}
		var err error
		switch k {
		case "rate":
			var bits int64
			bits, err = scaled(v, map[string]int64{"bps": 1, "kbit": 1000, "mbit": 1000_000, "gbit": 1000_000_000})
			l.Rate = int(bits / 8)
		case "drop":
			l.Drop, err = scaled(v, map[string]int64{"b": 1, "kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30})
		case "latency":
			l.Latency, err = time.ParseDuration(v)
		default:
			err = fmt.Errorf("unknown key (rate, drop, latency)")
		}
		if err != nil {
			return l, fmt.Errorf("-link: %s: %w", part, err)
		}
	}
	return l, nil
}

// scaled parses a number followed by one of units (case-insensitive).
func scaled(v string, units map[string]int64) (int64, error) {
	lv := strings.ToLower(strings.TrimSpace(v))
	names := make([]string, 0, len(units))
	for u := range units {
		names = append(names, u)
	}
	// Longest first: "mb" before "b".
	sort.Slice(names, func(a, b int) bool { return len(names[a]) > len(names[b]) })
	for _, u := range names {
		mul := units[u]
		if num, ok := strings.CutSuffix(lv, u); ok {
			f, err := strconv.ParseFloat(num, 64)
			if err != nil || f < 0 {
				return 0, fmt.Errorf("bad number %q", num)
			}
			return int64(f * float64(mul)), nil
		}
	}
	return 0, fmt.Errorf("%q: no unit", v)
}

// linkResult is one tool's first sync through the link.
type linkResult struct {
	Seconds  float64 `json:"seconds"`   // all syncs together
	Syncs    int     `json:"syncs"`     // runs until one succeeded with the Maildir equal to the server
	Complete bool    `json:"complete"`  // within maxLinkSyncs
	Out      int64   `json:"out_bytes"` // what Dovecot sent, all syncs together
	// Received is what reached the tool through the link (Dovecot's Out
	// also counts what it wrote into sockets that a drop then lost).
	// CleanOut is what Dovecot sent for the same tool's first sync
	// without the link; Twice is Received - CleanOut: bytes fetched
	// again.
	Received    int64 `json:"received_bytes"`
	CleanOut    int64 `json:"clean_out_bytes"`
	Twice       int64 `json:"fetched_twice_bytes"`
	Dropped     int   `json:"connections_dropped"`
	Differences int   `json:"differences_from_server"`
}

// maxLinkSyncs bounds the syncs a tool gets through the link.
const maxLinkSyncs = 30

// runLink measures each tool's first sync through the link l, beside its
// first sync without it, and prints them side by side.
func runLink(l link, work, repo string, srv *corpus.Server, tools []*tool) (map[string]*linkResult, error) {
	fmt.Printf("\nlink %q: %d bytes/s shared, a drop every %d bytes, latency %v\n", l.Spec, l.Rate, l.Drop, l.Latency)
	out := map[string]*linkResult{}
	for _, t := range tools {
		clean, err := measure(srv, t.sync)
		if err != nil {
			return nil, err
		}
		fmt.Printf("%-10s %-26s %s\n", t.name, "first sync, no link:", clean.describe())
		p, err := faultproxy.Start(srv.Dovecot.IMAPAddr())
		if err != nil {
			return nil, err
		}
		p.SetLinkRate(l.Rate)
		p.SetDropAfter(l.Drop)
		p.SetLatency(l.Latency)
		lt, err := t.again(filepath.Join(work, t.name+"-link"), repo, srv, p.Port())
		if err != nil {
			p.Close()
			return nil, err
		}
		r := &linkResult{CleanOut: clean.ServerOut}
		before, err := srv.SettledCounters(0, settleTimeout)
		if err != nil {
			p.Close()
			return nil, err
		}
		start := time.Now()
		for r.Syncs < maxLinkSyncs && !r.Complete {
			r.Syncs++
			_, runErr := lt.sync()
			if runErr == nil {
				if n, err := differences(srv, lt); err != nil {
					p.Close()
					return nil, err
				} else {
					r.Complete, r.Differences = n == 0, n
				}
			}
			fmt.Printf("%-10s link sync %2d: %s\n", t.name, r.Syncs, linkStatus(runErr, r))
			if !r.Complete {
				time.Sleep(restGap)
			}
		}
		r.Seconds = time.Since(start).Seconds()
		r.Dropped = p.Dropped()
		r.Received = p.Through(faultproxy.Down)
		p.Close()
		after, err := srv.SettledCounters(before.IMAPSessions+1, settleTimeout)
		if err != nil {
			return nil, err
		}
		r.Out = after.Out - before.Out
		r.Twice = max(0, r.Received-r.CleanOut)
		out[t.name] = r
	}
	fmt.Printf("\n| first sync through %q | time | syncs | connections dropped | received | fetched twice | server sent | complete |\n|---|---|---|---|---|---|---|---|\n", l.Spec)
	for _, t := range tools {
		r := out[t.name]
		fmt.Printf("| %s | %.1f s | %d | %d | %s | %s (%.0f%%) | %s | %v |\n", t.name, r.Seconds, r.Syncs, r.Dropped, human(r.Received), human(r.Twice), 100*float64(r.Twice)/float64(max(1, r.CleanOut)), human(r.Out), r.Complete)
	}
	fmt.Println("(times include a 1.1 s rest between syncs of one tool; the machine may be shared)")
	return out, nil
}

func linkStatus(err error, r *linkResult) string {
	switch {
	case err != nil:
		msg := err.Error()
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		return "failed: " + msg
	case r.Complete:
		return "succeeded, the Maildir equals the server"
	default:
		return fmt.Sprintf("succeeded, %d differences from the server", r.Differences)
	}
}

// differences counts how t's Maildir differs from the server.
func differences(srv *corpus.Server, t *tool) (int, error) {
	server, err := srv.Snapshot()
	if err != nil {
		return 0, err
	}
	local, err := corpus.ReadMaildir(t.maildir, "verbatim")
	if err != nil {
		return 0, err
	}
	return len(testenv.DiffAccount(server, local)), nil
}

// again returns a fresh instance of the tool (its own Maildir and state
// under dir) that reaches the server on port.
func (t *tool) again(dir, repo string, srv *corpus.Server, port int) (*tool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if t.name == "mbsync" {
		return newMbsync(dir, srv, port)
	}
	nt, _, err := newMailmirror(dir, repo, srv, port)
	return nt, err
}
