//go:build unix

// Command sync benchmarks `mailmirror sync` against a private Dovecot, and
// mbsync (Debian's isync) on the same server in the same run when it is
// installed.
//
//	go run ./bench/sync [-messages 10000] [-seed 1] [-runs 5] [-keep]
//	                    [-load maildir|append] [-no-mbsync] [-profile FILE]
//	                    [-link rate=10Mbit,drop=4MB[,latency=20ms]] [-floor-rounds 3]
//	go run ./bench/sync -tags [-messages N] [-runs N]
//	go run ./bench/sync -compress [-messages N] [-link SPEC]
//
// It generates the corpus of bench/corpus (10,000 messages, 4 folders, about
// 280 MB), writes it straight into a private Dovecot's Maildir, lets
// Dovecot index it, and reads it once through IMAP (so that both tools
// find the same warm server). It then builds mailmirror and runs each tool
// as a child process, each into a fresh Maildir of its own, alternating
// between the tools:
//
//  1. the first full sync;
//  2. a sync with nothing changed, -runs times (the median is reported);
//  3. a sync after another client changed one flag on 1% of the messages;
//  4. a sync after one new message arrived in INBOX.
//
// For each run it records the wall time, the peak RSS of the child
// (getrusage), and the bytes Dovecot sent and received, summed from the
// per-session counters in Dovecot's log (the difference before and after
// the run, once every session has ended). At the end both Maildirs are
// compared with the server message by message (Message-ID and flags).
// It prints a table with mailmirror / mbsync ratios against the targets of
// issues 3 and 10 and writes the results to bench/out/sync.json.
//
// -link SPEC replaces the runs above by each tool's first sync through the
// fault proxy (internal/testenv/faultproxy) shaped as SPEC: a rate shared by
// all connections, each connection dropped after so many bytes, a latency.
// A tool is run again until a run succeeds with its Maildir equal to the
// server (at most 30 runs); the time of all runs, their number, the bytes
// Dovecot sent and how many of them it had sent before (against the tool's
// own first sync without the link) are printed side by side.
//
// -profile FILE runs mailmirror's first sync in this process instead
// (syncer.SyncAccount with the same config) with a CPU profile written to
// FILE: `go tool pprof -top FILE`. Its RSS is then not measured.
//
// -compress measures COMPRESS=DEFLATE instead (see compress.go): Dovecot
// with imap_zlib; the first sync's bytes on the wire with and without
// compression and mbsync's, then first sync and one new message through a
// throttled link (-link, default 10 Mbit/s and 20 ms each way).
//
// -tags measures tags = "notmuch" instead (see runTags): no-change passes
// and a pass after 1% of the messages changed tags on each side, with and
// without tags, in this process.
package main

import (
	"flag"
	"fmt"
	"os"
)

// floorRounds is how many times measureFloor measures the floor
// (-floor-rounds; Linux only, see floor.go).
var floorRounds = 3

func main() {
	var o options
	flag.IntVar(&o.messages, "messages", 10000, "messages in the corpus")
	flag.Uint64Var(&o.seed, "seed", 1, "corpus seed")
	flag.IntVar(&o.runs, "runs", 5, "no-change syncs per tool (the median is reported)")
	flag.BoolVar(&o.keep, "keep", false, "keep the Dovecot directory and the Maildirs")
	flag.StringVar(&o.load, "load", "maildir", `how the corpus is loaded: "maildir" (files into Dovecot's Maildir) or "append" (IMAP APPEND, 4 connections)`)
	flag.BoolVar(&o.noMbsync, "no-mbsync", false, "do not run mbsync")
	flag.StringVar(&o.profile, "profile", "", "run mailmirror's first sync in-process with a CPU profile written to this file")
	flag.StringVar(&o.out, "out", "bench/out/sync.json", "results file (a relative path is taken from the module root)")
	flag.StringVar(&o.link, "link", "", `instead of the usual runs, each tool's first sync through a bad link, e.g. "rate=10Mbit,drop=4MB,latency=20ms": syncs until complete, time, bytes sent twice`)
	flag.BoolVar(&o.compress, "compress", false, `measure COMPRESS=DEFLATE instead: first-sync bytes on the wire with and without it and mbsync's, then times through a throttled link (-link, default "`+defaultCompressLink+`")`)
	flag.IntVar(&floorRounds, "floor-rounds", floorRounds, "rounds of the raw first-sync floor, each after the first with another first sync of mailmirror (the median ratio is reported)")
	flag.BoolVar(&o.tags, "tags", false, `measure tags = "notmuch" instead: no-change and 1%-changed passes with and without tags (needs notmuch)`)
	flag.Parse()
	if flag.NArg() > 0 || o.messages < 100 || o.runs < 1 || (o.load != "maildir" && o.load != "append") {
		flag.Usage()
		os.Exit(2)
	}
	runFn := run
	if o.tags {
		runFn = runTags
	}
	if err := runFn(&o); err != nil {
		fmt.Fprintf(os.Stderr, "bench/sync: %v\n", err)
		os.Exit(1)
	}
}

// options are the command-line flags.
type options struct {
	messages int
	seed     uint64
	runs     int
	keep     bool
	load     string
	noMbsync bool
	profile  string
	out      string
	link     string
	tags     bool
	compress bool
}
