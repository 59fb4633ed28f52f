//go:build unix

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/bench/corpus"
	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/maildir"
	"github.com/mailmirror/mailmirror/state"
	"github.com/mailmirror/mailmirror/syncer"
)

// runTags is -tags: the cost of tags = "notmuch". Two accounts on the same
// server, one without tags and one with (its Maildir indexed by a private
// notmuch database), each a Syncer kept between passes as in the daemon:
// the median of -runs no-change passes of each, then a pass after another
// client set a keyword on 1% of the messages and notmuch tagged another
// 1%, the same server changes being seen by both accounts.
func runTags(o *options) error {
	if _, err := exec.LookPath("notmuch"); err != nil {
		return fmt.Errorf("-tags needs notmuch (Debian: apt-get install notmuch)")
	}
	c, err := corpus.New(corpus.Default(o.messages, o.seed))
	if err != nil {
		return err
	}
	srv, err := corpus.StartServer(nil)
	if err != nil {
		return err
	}
	defer srv.Close()
	if _, err := srv.LoadMaildir(c, runtime.NumCPU()); err != nil {
		return fmt.Errorf("load the corpus: %w", err)
	}
	if err := srv.Warm(c); err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "mailmirror-bench-tags-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Printf("work directory (kept): %s\n", work)
	} else {
		defer os.RemoveAll(work)
	}
	nmc := filepath.Join(work, "notmuch-config")
	tagged := filepath.Join(work, "tags", "Mail")
	if err := os.MkdirAll(tagged, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(nmc, []byte("[database]\npath="+tagged+"\n[new]\ntags=inbox;unread\n"), 0o600); err != nil {
		return err
	}
	os.Setenv("NOTMUCH_CONFIG", nmc)
	if out, err := exec.Command("notmuch", "new", "--quiet").CombinedOutput(); err != nil {
		return fmt.Errorf("notmuch new: %v: %s", err, out)
	}
	plain, err := benchSyncer(work, "plain", srv, "")
	if err != nil {
		return err
	}
	defer plain.close()
	tags, err := benchSyncer(work, "tags", srv, `tags = "notmuch"`)
	if err != nil {
		return err
	}
	defer tags.close()
	fmt.Printf("bench/sync -tags: %d messages, seed %d, %d no-change runs\n", o.messages, o.seed, o.runs)
	for _, a := range []*benchAccount{plain, tags} {
		d, err := a.pass()
		if err != nil {
			return err
		}
		fmt.Printf("%-6s first sync: %.3f s\n", a.name, d.Seconds())
	}
	start := time.Now()
	if out, err := exec.Command("notmuch", "new", "--quiet").CombinedOutput(); err != nil {
		return fmt.Errorf("notmuch new: %v: %s", err, out)
	}
	fmt.Printf("notmuch new (index %d messages): %.3f s\n", o.messages, time.Since(start).Seconds())
	d, err := tags.pass()
	if err != nil {
		return err
	}
	fmt.Printf("tags   first tag pass (every message read from notmuch): %.3f s\n", d.Seconds())
	quiet := map[*benchAccount][]time.Duration{}
	for range o.runs + 1 {
		for _, a := range []*benchAccount{plain, tags} {
			d, err := a.pass()
			if err != nil {
				return err
			}
			quiet[a] = append(quiet[a], d)
		}
	}
	qp, qt := medianDur(quiet[plain][1:]), medianDur(quiet[tags][1:])
	fmt.Printf("no change: without tags %.1f ms, with tags %.1f ms: +%.1f ms (target ≤ +20 ms)\n",
		ms(qp), ms(qt), ms(qt-qp))

	n := max(1, c.Len()/100)
	var dps, dts []time.Duration
	var ratios []float64
	for round := range changedRounds {
		// Each round another keyword and another tag, on the same spread
		// of messages: 1% changed on each side.
		if err := keywordOnEvery(srv, c.Folders(), n, fmt.Sprintf("benchremote%d", round)); err != nil {
			return err
		}
		if err := tagInNotmuch(n, fmt.Sprintf("benchlocal%d", round)); err != nil {
			return err
		}
		dp, err := plain.pass()
		if err != nil {
			return err
		}
		dt, err := tags.pass()
		if err != nil {
			return err
		}
		if tags.last.TagsDown < n || tags.last.TagsUp < n {
			return fmt.Errorf("the tag pass moved %d down, %d up; want at least %d each", tags.last.TagsDown, tags.last.TagsUp, n)
		}
		fmt.Printf("  round %d: without tags %.1f ms, with tags %.1f ms: %.2f×\n", round+1, ms(dp), ms(dt), float64(dt)/float64(dp))
		dps, dts, ratios = append(dps, dp), append(dts, dt), append(ratios, float64(dt)/float64(dp))
		// The check of the revision our writes left runs after the pass
		// (as in the daemon, where the next pass comes later): let it end
		// before the next round changes notmuch.
		time.Sleep(500 * time.Millisecond)
	}
	slices.Sort(ratios)
	fmt.Printf("1%% changed (%d keywords on the server, %d tags in notmuch; median of %d rounds): without tags %.1f ms, with tags %.1f ms: %.2f× (target ≤ 2×)\n",
		n, n, changedRounds, ms(medianDur(dps)), ms(medianDur(dts)), ratios[len(ratios)/2])
	return nil
}

// changedRounds is how many 1%-changed passes runTags measures.
const changedRounds = 3

type benchAccount struct {
	name string
	s    *syncer.Syncer
	db   *state.DB
	last syncer.Stats
}

func benchSyncer(work, name string, srv *corpus.Server, extra string) (*benchAccount, error) {
	dir := filepath.Join(work, name)
	text := fmt.Sprintf(`state_dir = %q
[[account]]
name = %q
protocol = "imap"
host = "127.0.0.1"
port = %d
tls = "none"
username = %q
password_env = "BENCH_UNUSED"
maildir = %q
idle_folders = []
%s
`, filepath.Join(dir, "state"), name, srv.Dovecot.IMAPPort, srv.User.Name, filepath.Join(dir, "Mail"), extra)
	cfg, err := config.Parse([]byte(text), name+".toml")
	if err != nil {
		return nil, err
	}
	acct := cfg.Accounts[0]
	store, err := maildir.Open(acct.Maildir, acct.Layout)
	if err != nil {
		return nil, err
	}
	db, err := state.Open(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	s := syncer.New(acct, store, db, syncer.Options{DialOptions: syncer.DialOptions{Password: config.Secret(srv.User.Password)}})
	return &benchAccount{name: name, s: s, db: db}, nil
}

func (a *benchAccount) pass() (time.Duration, error) {
	start := time.Now()
	st, err := a.s.Sync(context.Background())
	d := time.Since(start)
	a.last = st
	if err == nil && len(st.Warnings) > 0 {
		err = fmt.Errorf("%s: %s", a.name, strings.Join(st.Warnings, "; "))
	}
	return d, err
}

func (a *benchAccount) close() {
	a.s.Close()
	a.db.Close()
}

// keywordOnEvery sets keyword on n messages spread over the folders, as
// another client would: one UID STORE per folder.
func keywordOnEvery(srv *corpus.Server, folders []string, n int, keyword string) error {
	c, err := srv.Dial()
	if err != nil {
		return err
	}
	defer c.Logout()
	per := max(1, n/len(folders))
	left := n
	for i, f := range folders {
		sel, err := c.Select(f, nil).Wait()
		if err != nil {
			return err
		}
		want := per
		if i == len(folders)-1 {
			want = left
		}
		want = min(want, int(sel.NumMessages))
		if want == 0 {
			continue
		}
		var set imap.SeqSet
		step := max(1, int(sel.NumMessages)/want)
		for k := 0; k < want; k++ {
			set.AddNum(uint32(1 + k*step))
		}
		if err := c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.Flag(keyword)}}, nil).Close(); err != nil {
			return err
		}
		left -= want
	}
	return nil
}

// tagInNotmuch adds tag to n messages of the notmuch database, spread over
// it, in one notmuch run.
func tagInNotmuch(n int, tag string) error {
	out, err := exec.Command("notmuch", "search", "--output=messages", "*").Output()
	if err != nil {
		return fmt.Errorf("notmuch search: %w", err)
	}
	ids := strings.Fields(string(out))
	slices.Sort(ids)
	step := max(1, len(ids)/n)
	var b strings.Builder
	for k := 0; k < n && k*step+step/2 < len(ids); k++ {
		fmt.Fprintf(&b, "+%s -- %s\n", tag, ids[k*step+step/2])
	}
	cmd := exec.Command("notmuch", "tag", "--batch")
	cmd.Stdin = strings.NewReader(b.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("notmuch tag: %v: %s", err, out)
	}
	return nil
}

func medianDur(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
