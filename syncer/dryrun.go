package syncer

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/mailmirror/mailmirror/maildir"
)

// Plan is what a dry run (Options.DryRun) found a pass would do, folder by
// folder. Nothing was changed to find it.
type Plan struct {
	// Pending counts the interrupted operations (intents) a real pass
	// would settle first; the plan is made as if they were not there.
	Pending int
	Folders []*FolderPlan
}

// FolderPlan is one folder's part of a Plan.
type FolderPlan struct {
	Folder string
	// Actions are folder-level changes: creates, renames, deletes.
	Actions []string
	// Refused says what a guard would refuse here (the folder would be
	// left alone); Notes are conditions a pass would report.
	Refused string
	Notes   []string

	Downloads     int   // messages downloaded (server → Maildir)
	DownloadBytes int64 // their sizes on the server
	Uploads       int   // local messages appended (Maildir → server)
	UploadBytes   int64
	FlagsUp       int // messages whose flags change on the server
	FlagsDown     int // messages whose flags change locally
	DeletesUp     int // messages deleted on the server
	DeletesDown   int // local files removed
	MovesUp       int // messages moved on the server (UID MOVE)
	MovesDown     int // files moved locally
	Paired        int // local files bound to server messages, no transfer
}

func (f *FolderPlan) empty() bool {
	return len(f.Actions) == 0 && f.Refused == "" && len(f.Notes) == 0 && f.counts() == ""
}

func (f *FolderPlan) counts() string {
	var parts []string
	add := func(n int, text string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf(text, n))
		}
	}
	if f.Downloads > 0 {
		parts = append(parts, fmt.Sprintf("download %d (%s)", f.Downloads, byteText(f.DownloadBytes)))
	}
	if f.Uploads > 0 {
		parts = append(parts, fmt.Sprintf("upload %d (%s)", f.Uploads, byteText(f.UploadBytes)))
	}
	add(f.FlagsDown, "flags here %d")
	add(f.FlagsUp, "flags on the server %d")
	add(f.DeletesDown, "delete here %d")
	add(f.DeletesUp, "delete on the server %d")
	add(f.MovesDown, "move here %d")
	add(f.MovesUp, "move on the server %d")
	add(f.Paired, "pair without transfer %d")
	return strings.Join(parts, ", ")
}

func byteText(n int64) string {
	switch {
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}

// Write prints the plan, one line per change, each prefixed with
// "account/folder: ". A folder with nothing to do is not shown; a plan
// with nothing at all says so.
func (p *Plan) Write(w io.Writer, account string) {
	if p.Pending > 0 {
		fmt.Fprintf(w, "%s: %d interrupted operation(s) would be settled first\n", account, p.Pending)
	}
	n := 0
	for _, f := range p.Folders {
		if f.empty() {
			continue
		}
		n++
		pre := account + "/" + f.Folder + ": "
		for _, a := range f.Actions {
			fmt.Fprintf(w, "%s%s\n", pre, a)
		}
		if c := f.counts(); c != "" {
			fmt.Fprintf(w, "%s%s\n", pre, c)
		}
		if f.Refused != "" {
			fmt.Fprintf(w, "%swould be refused: %s\n", pre, f.Refused)
		}
		for _, note := range f.Notes {
			fmt.Fprintf(w, "%snote: %s\n", pre, note)
		}
	}
	if n == 0 {
		fmt.Fprintf(w, "%s: nothing to do\n", account)
	}
}

// planFolder returns the plan of a folder, adding it when new.
func (s *Syncer) planFolder(name string) *FolderPlan {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stats.Plan == nil {
		s.stats.Plan = &Plan{}
	}
	for _, f := range s.stats.Plan.Folders {
		if f.Folder == name {
			return f
		}
	}
	f := &FolderPlan{Folder: name}
	s.stats.Plan.Folders = append(s.stats.Plan.Folders, f)
	return f
}

// describe fills the plan with what apply would do in each folder (the
// dry run's apply step: it reads the decisions of detect and matchAcross
// and changes nothing).
func (s *Syncer) describe(jobs []*job) {
	for _, j := range jobs {
		f := s.planFolder(j.local)
		if j.refused != "" {
			f.Refused = j.refused
			continue
		}
		if j.quiet {
			continue
		}
		for _, m := range j.newServer {
			f.Downloads++
			f.DownloadBytes += m.size
		}
		f.Downloads += len(j.restore)
		for _, p := range j.restore {
			f.DownloadBytes += p.Size
		}
		for _, l := range j.newLocal {
			f.Uploads++
			f.UploadBytes += l.size
		}
		f.FlagsUp, f.FlagsDown = j.flagChanges()
		f.DeletesUp += len(j.serverDeletes)
		f.DeletesDown += len(j.localDeletes)
		f.MovesUp += len(j.moveOut)
		f.MovesDown += len(j.moveIn)
		f.Paired += len(j.pairUp)
	}
	sort.Slice(s.stats.Plan.Folders, func(a, b int) bool { return s.stats.Plan.Folders[a].Folder < s.stats.Plan.Folders[b].Folder })
}

// flagChanges counts the messages whose flags the three-way merge would
// change on the server and locally (as applyFlags decides).
func (j *job) flagChanges() (up, down int) {
	for uid, p := range j.pairs {
		if p.Key == "" || j.serverGone[uid] || j.moved[uid] {
			continue
		}
		e, ok := j.entries[p.Key]
		if !ok {
			continue
		}
		l := maildir.KnownOnly(e.Flags)
		r, changed := j.serverFlags[uid]
		if !changed {
			r = p.Flags
		}
		m := merge3(p.Flags, l, r)
		if m != r {
			up++
		}
		if m != l {
			down++
		}
	}
	return up, down
}
