package demo

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// msgInfo is one message as the watcher shows it.
type msgInfo struct {
	subject string
	flags   []string
}

// snapshot is every message by folder and Message-ID.
type snapshot map[string]map[string]msgInfo

// serverSnapshot reads every folder of the demo IMAP server.
func serverSnapshot(c *imapclient.Client) (snapshot, error) {
	snap := snapshot{}
	for _, f := range Folders {
		sel, err := c.Select(f, &imap.SelectOptions{ReadOnly: true}).Wait()
		if err != nil {
			return nil, err
		}
		snap[f] = map[string]msgInfo{}
		if sel.NumMessages == 0 {
			continue
		}
		bufs, err := c.Fetch(imap.UIDSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Flags: true, Envelope: true}).Collect()
		if err != nil {
			return nil, err
		}
		for _, m := range bufs {
			if m.Envelope == nil {
				continue
			}
			var flags []string
			for _, fl := range m.Flags {
				if !strings.EqualFold(string(fl), `\Recent`) {
					flags = append(flags, string(fl))
				}
			}
			sort.Strings(flags)
			snap[f][strings.Trim(m.Envelope.MessageID, "<>")] = msgInfo{subject: m.Envelope.Subject, flags: flags}
		}
	}
	return snap, nil
}

// localSnapshot reads the demo's Maildirs (folder names prefixed with
// the account for the POP3 one).
func localSnapshot(root string) snapshot {
	snap := snapshot{}
	filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		sub := filepath.Base(filepath.Dir(p))
		if sub != "cur" && sub != "new" {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(filepath.Dir(p)))
		folder := filepath.ToSlash(rel)
		if rest, ok := strings.CutPrefix(folder, "demo/"); ok {
			folder = rest
		} else if rest, ok := strings.CutPrefix(folder, "demo-pop/"); ok {
			folder = "POP3 " + rest
		}
		id, subj := headerOf(p)
		if snap[folder] == nil {
			snap[folder] = map[string]msgInfo{}
		}
		snap[folder][strings.Trim(id, "<>")] = msgInfo{subject: subj}
		return nil
	})
	return snap
}

// headerOf reads a file's Message-ID and Subject.
func headerOf(path string) (id, subject string) {
	f, err := os.Open(path)
	if err != nil {
		return "", ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimRight(sc.Text(), "\r")
		if l == "" {
			break
		}
		if v, ok := strings.CutPrefix(l, "Subject: "); ok {
			subject = v
		}
		if v, ok := strings.CutPrefix(l, "Message-ID: "); ok {
			id = v
		}
	}
	return id, subject
}

// describe writes, in words, what changed from old to cur on one side
// ("server" or "Maildir"). Many arrivals in one folder at once (the first
// sync) are one line.
func describe(out io.Writer, side string, old, cur snapshot) {
	folders := map[string]bool{}
	for f := range old {
		folders[f] = true
	}
	for f := range cur {
		folders[f] = true
	}
	names := make([]string, 0, len(folders))
	for f := range folders {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		var arrived []string
		for id, m := range cur[f] {
			o, had := old[f][id]
			switch {
			case !had:
				if from := elsewhere(old, cur, id, f); from != "" {
					fmt.Fprintf(out, "%s: %q moved from %s to %s\n", side, m.subject, from, f)
				} else {
					arrived = append(arrived, m.subject)
				}
			case !slices.Equal(o.flags, m.flags):
				for _, fl := range m.flags {
					if !slices.Contains(o.flags, fl) {
						fmt.Fprintf(out, "%s: %s set on %q\n", side, fl, m.subject)
					}
				}
				for _, fl := range o.flags {
					if !slices.Contains(m.flags, fl) {
						fmt.Fprintf(out, "%s: %s removed from %q\n", side, fl, m.subject)
					}
				}
			}
		}
		switch {
		case len(arrived) > 3:
			fmt.Fprintf(out, "%s: %d messages arrived in %s\n", side, len(arrived), f)
		default:
			sort.Strings(arrived)
			for _, s := range arrived {
				fmt.Fprintf(out, "%s: %q arrived in %s\n", side, s, f)
			}
		}
		for id, m := range old[f] {
			if _, still := cur[f][id]; !still && elsewhere(cur, old, id, f) == "" {
				fmt.Fprintf(out, "%s: %q deleted from %s\n", side, m.subject, f)
			}
		}
	}
}

// elsewhere returns the folder other than f that held id in from and
// no longer does in to (a move), or "".
func elsewhere(from, to snapshot, id, f string) string {
	for g, msgs := range from {
		if g == f {
			continue
		}
		if _, ok := msgs[id]; ok {
			if _, still := to[g][id]; !still {
				return g
			}
		}
	}
	return ""
}

// watch prints what changes on the demo server and in the Maildir, every
// half second, until ctx ends.
func watch(ctx context.Context, out io.Writer, s *Servers, mailRoot string) {
	c, err := imapclient.DialInsecure(s.IMAPAddr, nil)
	if err != nil {
		fmt.Fprintf(out, "demo: cannot watch the server: %v\n", err)
		return
	}
	defer c.Close()
	if err := c.Login(User, Password).Wait(); err != nil {
		fmt.Fprintf(out, "demo: cannot watch the server: %v\n", err)
		return
	}
	srv, err := serverSnapshot(c)
	if err != nil {
		fmt.Fprintf(out, "demo: cannot watch the server: %v\n", err)
		return
	}
	local := localSnapshot(mailRoot)
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if cur, err := serverSnapshot(c); err == nil {
			describe(out, "server", srv, cur)
			srv = cur
		}
		cur := localSnapshot(mailRoot)
		describe(out, "Maildir", local, cur)
		local = cur
	}
}
