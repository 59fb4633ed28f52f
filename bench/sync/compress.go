//go:build unix

package main

import (
	"bytes"
	"compress/flate"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/mailmirror/mailmirror/bench/corpus"
	"github.com/mailmirror/mailmirror/internal/testenv"
	"github.com/mailmirror/mailmirror/internal/testenv/faultproxy"
)

// -compress: Dovecot runs with imap_zlib (COMPRESS=DEFLATE), and instead of
// the usual runs the bench measures, for mailmirror with compression,
// mailmirror with compress = false and mbsync (which compresses whenever
// the server offers it):
//
//  1. the first full sync on an open link: the bytes on the wire (counted
//     by a pass-through fault proxy) against the IMAP stream Dovecot
//     counts before compressing it;
//  2. on a throttled link (-link, default 10 Mbit/s shared and 20 ms each
//     way, 40 ms round trip): the first full sync and, after one new
//     message arrived, the sync that fetches it, timed, in the same run.

// defaultCompressLink is the throttled link of -compress without -link.
const defaultCompressLink = "rate=10Mbit,latency=20ms"

// newMessageRuns is how many one-new-message syncs each variant makes
// through the throttled link.
const newMessageRuns = 3

// compressTarget is issue 16's: first-sync bytes on the wire at most this
// share of the uncompressed figure.
const compressTarget = 0.45

// compressRun is one variant's figures.
type compressRun struct {
	Tool      string  `json:"tool"`
	WireDown  int64   `json:"wire_down_bytes"`    // first sync, open link: server → tool on the wire
	WireUp    int64   `json:"wire_up_bytes"`      // tool → server
	StreamOut int64   `json:"stream_out_bytes"`   // what Dovecot sent before compressing it
	Seconds   float64 `json:"first_sync_seconds"` // open link
	RSSKB     int64   `json:"first_sync_peak_rss_kb"`
	// On the throttled link.
	LinkFirst   float64 `json:"link_first_sync_seconds"`
	LinkNew     float64 `json:"link_new_message_seconds"`
	LinkNewWire int64   `json:"link_new_message_wire_bytes"`
	Differences int     `json:"differences_from_server"`
}

// compressReport is what -compress writes to the JSON file.
type compressReport struct {
	Link  string         `json:"throttled_link"`
	Floor deflateFloor   `json:"corpus_deflate_floor"`
	Runs  []*compressRun `json:"runs"`
	Ratio float64        `json:"compressed_over_uncompressed_first_sync_bytes"`
}

// serverOptions are the Dovecot options the flags ask for.
func serverOptions(o *options) *testenv.DovecotOptions {
	if !o.compress {
		return nil
	}
	return &testenv.DovecotOptions{Compress: true}
}

// compressVariant is a tool under -compress: a name and how to make a
// fresh instance of it reaching the server on port.
type compressVariant struct {
	name  string
	fresh func(dir string, port int) (*tool, error)
}

func compressVariants(repo string, srv *corpus.Server, withMbsync bool) []compressVariant {
	mm := func(off bool) func(string, int) (*tool, error) {
		return func(dir string, port int) (*tool, error) {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, err
			}
			t, cfg, err := newMailmirror(dir, repo, srv, port)
			if err != nil || !off {
				return t, err
			}
			// The account table is the file's last: one more key.
			f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				return nil, err
			}
			defer f.Close()
			_, err = f.WriteString("compress = false\n")
			return t, err
		}
	}
	vs := []compressVariant{{"mailmirror", mm(false)}, {"mm compress=false", mm(true)}}
	if withMbsync {
		vs = append(vs, compressVariant{"mbsync", func(dir string, port int) (*tool, error) {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, err
			}
			return newMbsync(dir, srv, port)
		}})
	}
	return vs
}

// runCompress measures the variants (see above) and prints the tables.
func runCompress(o *options, work, repo string, srv *corpus.Server, withMbsync bool) (*compressReport, error) {
	spec := o.link
	if spec == "" {
		spec = defaultCompressLink
	}
	l, err := parseLink(spec)
	if err != nil {
		return nil, err
	}
	c, err := corpus.New(corpus.Default(o.messages, o.seed))
	if err != nil {
		return nil, err
	}
	rep := &compressReport{Link: spec, Floor: corpusFloor(c)}
	fmt.Printf("the corpus deflated in one stream per kind (level 6, what a server's deflate reaches; the server compresses, not the client): text messages %.2f, messages with an attachment %.2f, all %.2f (attachments are %.0f%% of the bytes)\n",
		rep.Floor.Text, rep.Floor.Attached, rep.Floor.All, 100*rep.Floor.AttachedShare)
	variants := compressVariants(repo, srv, withMbsync)
	for i, v := range variants {
		r := &compressRun{Tool: v.name}
		rep.Runs = append(rep.Runs, r)
		if err := openLinkFirstSync(v, r, filepath.Join(work, fmt.Sprintf("open-%d", i)), srv); err != nil {
			return nil, err
		}
		fmt.Printf("%-18s first sync, open link: %.2f s, peak RSS %.1f MB, wire %s down %s up, Dovecot's stream %s (%.2f)\n",
			v.name, r.Seconds, float64(r.RSSKB)/1024, human(r.WireDown), human(r.WireUp), human(r.StreamOut), float64(r.WireDown)/float64(max(1, r.StreamOut)))
	}
	// The throttled link: every variant's first sync, then one new
	// message and every variant's sync of it.
	p, err := faultproxy.Start(srv.Dovecot.IMAPAddr())
	if err != nil {
		return nil, err
	}
	defer p.Close()
	p.SetLinkRate(l.Rate)
	p.SetLatency(l.Latency)
	fmt.Printf("\nthrottled link %q: %d bytes/s shared, %v each way\n", spec, l.Rate, l.Latency)
	linked := make([]*tool, len(variants))
	for i, v := range variants {
		if linked[i], err = v.fresh(filepath.Join(work, fmt.Sprintf("link-%d", i)), p.Port()); err != nil {
			return nil, err
		}
		time.Sleep(restGap)
		start := time.Now()
		if _, err := linked[i].sync(); err != nil {
			return nil, fmt.Errorf("%s: first sync through the link: %w", v.name, err)
		}
		rep.Runs[i].LinkFirst = time.Since(start).Seconds()
		fmt.Printf("%-18s first sync through the link: %.1f s\n", v.name, rep.Runs[i].LinkFirst)
	}
	// One new message, newMessageRuns times (the median is kept: one
	// run on a shared machine is noisy).
	samples := make([][]float64, len(variants))
	for k := range newMessageRuns {
		if _, err := srv.Append(c.Message(c.Len() + k)); err != nil {
			return nil, err
		}
		for i, v := range variants {
			time.Sleep(restGap)
			down, up := p.Through(faultproxy.Down), p.Through(faultproxy.Up)
			start := time.Now()
			if _, err := linked[i].sync(); err != nil {
				return nil, fmt.Errorf("%s: new-message sync through the link: %w", v.name, err)
			}
			samples[i] = append(samples[i], time.Since(start).Seconds())
			rep.Runs[i].LinkNewWire = p.Through(faultproxy.Down) - down + p.Through(faultproxy.Up) - up
			fmt.Printf("%-18s one new message through the link (%d/%d): %.2f s, %s on the wire\n",
				v.name, k+1, newMessageRuns, samples[i][k], human(rep.Runs[i].LinkNewWire))
		}
	}
	for i, v := range variants {
		slices.Sort(samples[i])
		rep.Runs[i].LinkNew = samples[i][len(samples[i])/2]
		if rep.Runs[i].Differences, err = differences(srv, linked[i]); err != nil {
			return nil, err
		}
		fmt.Printf("%-18s %d differences from the server\n", v.name, rep.Runs[i].Differences)
	}
	rep.Ratio = float64(rep.Runs[0].WireDown+rep.Runs[0].WireUp) / float64(max(1, rep.Runs[1].WireDown+rep.Runs[1].WireUp))
	printCompress(rep, l)
	return rep, nil
}

// openLinkFirstSync runs a fresh instance's first sync through a
// pass-through proxy that counts the bytes on the wire.
func openLinkFirstSync(v compressVariant, r *compressRun, dir string, srv *corpus.Server) error {
	p, err := faultproxy.Start(srv.Dovecot.IMAPAddr())
	if err != nil {
		return err
	}
	defer p.Close()
	t, err := v.fresh(dir, p.Port())
	if err != nil {
		return err
	}
	res, err := measure(srv, t.sync)
	if err != nil {
		return err
	}
	if res.Error != "" {
		return fmt.Errorf("%s: first sync: %s", v.name, res.Error)
	}
	r.Seconds, r.StreamOut, r.RSSKB = res.Seconds, res.ServerOut, res.RSSKB
	r.WireDown, r.WireUp = p.Through(faultproxy.Down), p.Through(faultproxy.Up)
	n, err := differences(srv, t)
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("%s: %d differences from the server after the first sync", v.name, n)
	}
	return nil
}

func printCompress(rep *compressReport, l link) {
	fmt.Printf("\n| first sync, open link | wire down | wire up | Dovecot's stream | wire / stream | wire / mailmirror uncompressed | time | peak RSS |\n|---|---|---|---|---|---|---|---|\n")
	base := rep.Runs[1]
	for _, r := range rep.Runs {
		fmt.Printf("| %s | %s | %s | %s | %.2f | %.2f | %.2f s | %.1f MB |\n", r.Tool, human(r.WireDown), human(r.WireUp), human(r.StreamOut),
			float64(r.WireDown)/float64(max(1, r.StreamOut)), float64(r.WireDown+r.WireUp)/float64(max(1, base.WireDown+base.WireUp)), r.Seconds, float64(r.RSSKB)/1024)
	}
	fmt.Printf("\n| through %q | first sync | its floor (open-link bytes / rate) | one new message (median of 3) | its bytes on the wire |\n|---|---|---|---|---|\n", rep.Link)
	for _, r := range rep.Runs {
		floor := "-"
		if l.Rate > 0 {
			floor = fmt.Sprintf("%.1f s", float64(r.WireDown+r.WireUp)/float64(l.Rate))
		}
		fmt.Printf("| %s | %.1f s | %s | %.2f s | %s |\n", r.Tool, r.LinkFirst, floor, r.LinkNew, human(r.LinkNewWire))
	}
	verdict := "met"
	if rep.Ratio > compressTarget {
		verdict = "MISSED"
	}
	fmt.Printf("\nfirst-sync bytes compressed / uncompressed: %.3f (target ≤ %.2f: %s; the corpus deflates to %.3f by itself)\n", rep.Ratio, compressTarget, verdict, rep.Floor.All)
	if len(rep.Runs) > 2 {
		fmt.Printf("through the link, mailmirror / mbsync: first sync %.2f, one new message %.2f\n",
			rep.Runs[0].LinkFirst/rep.Runs[2].LinkFirst, rep.Runs[0].LinkNew/rep.Runs[2].LinkNew)
	}
}

// deflateFloor is how far the corpus itself deflates (level 6, each kind
// in one stream, as a server's COMPRESS stream would): what no client can
// beat, since the server does the compressing.
type deflateFloor struct {
	Text          float64 `json:"text_messages"`
	Attached      float64 `json:"messages_with_attachment"`
	All           float64 `json:"all"`
	AttachedShare float64 `json:"attachment_messages_share_of_bytes"`
}

// corpusFloor deflates every message of c.
func corpusFloor(c *corpus.Corpus) deflateFloor {
	var text, att countingDeflater
	text.init()
	att.init()
	for i := range c.Len() {
		m := c.Message(i)
		if bytes.Contains(m.Data, []byte("Content-Transfer-Encoding: base64")) {
			att.write(m.Data)
		} else {
			text.write(m.Data)
		}
	}
	text.close()
	att.close()
	all := float64(text.out.n+att.out.n) / float64(max(1, text.in+att.in))
	return deflateFloor{Text: text.ratio(), Attached: att.ratio(), All: all, AttachedShare: float64(att.in) / float64(max(1, text.in+att.in))}
}

// countingDeflater deflates into a byte counter.
type countingDeflater struct {
	w   *flate.Writer
	out byteCounter
	in  int64
}

func (d *countingDeflater) init()          { d.w, _ = flate.NewWriter(&d.out, 6) }
func (d *countingDeflater) write(p []byte) { d.w.Write(p); d.in += int64(len(p)) }
func (d *countingDeflater) close()         { d.w.Close() }
func (d *countingDeflater) ratio() float64 { return float64(d.out.n) / float64(max(1, d.in)) }

type byteCounter struct{ n int64 }

func (b *byteCounter) Write(p []byte) (int, error) { b.n += int64(len(p)); return len(p), nil }
