package syncer

import (
	"fmt"
	"sort"
	"strings"

	"github.com/mailmirror/mailmirror/state"
)

// Defaults of the mass-delete guard (config keys delete_guard_count and
// delete_guard_percent).
const (
	defaultGuardCount   = 50
	defaultGuardPercent = 25
)

// guardLimits returns the account's mass-delete threshold: a pass refuses
// to delete more than count messages that are also more than percent of a
// folder.
func (s *Syncer) guardLimits() (count, percent int) {
	count, percent = s.acct.DeleteGuardCount, s.acct.DeleteGuardPercent
	if count == 0 && percent == 0 {
		return defaultGuardCount, defaultGuardPercent
	}
	return count, percent
}

// tooMany reports whether deleting n of a folder's size messages trips the
// guard.
func (s *Syncer) tooMany(n, size int) bool {
	count, percent := s.guardLimits()
	return n > count && n*100 > percent*max(size, 1)
}

// allowed reports whether --allow-deletes lets mass deletes through in the
// local folder ln.
func (s *Syncer) allowed(ln string) bool {
	for _, a := range s.opts.AllowDeletes {
		if a == "" || a == "*" || strings.EqualFold(a, ln) {
			return true
		}
	}
	return false
}

// guardDeletes stops the folders where the pass would delete too many
// messages on either side (an emptied or unmounted local folder, a server
// answering an empty folder): nothing is done to such a folder this pass
// (it is made quiet, so apply skips it and its state stays as it was), one
// warning names the account and folder, and a note keeps it for status.
func (s *Syncer) guardDeletes(jobs []*job) {
	for _, j := range jobs {
		if j.quiet || s.allowed(j.local) {
			continue
		}
		up, down := len(j.serverDeletes), len(j.localDeletes)
		if up <= 0 && down <= 0 {
			continue
		}
		n := max(up, down)
		count, _ := s.guardLimits()
		if n <= count {
			continue
		}
		size := len(j.pairs)
		if c, err := s.db.PairCount(j.st.ID); err == nil {
			size = max(size, c)
		}
		var what string
		switch {
		case s.tooMany(up, size):
			what = fmt.Sprintf("would delete %d of its %d messages on the server (their local files are gone)", up, size)
		case s.tooMany(down, size):
			what = fmt.Sprintf("would delete %d of its %d local messages (the server no longer lists them)", down, size)
		default:
			continue
		}
		msg := fmt.Sprintf("account %q, folder %q: not synced: this pass %s; if that is what you want, run: mailmirror sync --allow-deletes %s/%s", s.acct.Name, j.local, what, s.acct.Name, j.local)
		j.quiet = true
		j.refused = msg
		s.note(j.local, noteDeleteGuard, msg)
	}
}

// guardTrips reports whether guardDeletes would stop one of the jobs (the
// targeted passes then leave the decision to a full pass).
func (s *Syncer) guardTrips(jobs []*job) bool {
	count, _ := s.guardLimits()
	for _, j := range jobs {
		n := max(len(j.serverDeletes), len(j.localDeletes))
		if j.quiet || n <= count || s.allowed(j.local) {
			continue
		}
		size, err := s.db.PairCount(j.st.ID)
		if err != nil || s.tooMany(n, size) {
			return true
		}
	}
	return false
}

// noteKey names a folder note.
type noteKey struct{ folder, kind string }

// note raises a folder note for this pass (see settleNotes).
func (s *Syncer) note(folder, kind, text string) {
	if s.opts.DryRun {
		if kind != noteDeleteGuard {
			s.planFolder(folder).Notes = append(s.planFolder(folder).Notes, text)
		}
		return
	}
	s.mu.Lock()
	if s.notes == nil {
		s.notes = map[noteKey]string{}
	}
	s.notes[noteKey{folder, kind}] = text
	s.mu.Unlock()
}

// settleNotes records the notes this full pass raised and forgets those it
// did not raise again (the condition cleared). A note is a warning once,
// when it first appears; a refused mass delete is a warning every pass.
func (s *Syncer) settleNotes() error {
	if s.opts.DryRun {
		return nil
	}
	stored, err := s.db.Notes(s.acct.Name)
	if err != nil {
		return err
	}
	have := map[noteKey]string{}
	for _, n := range stored {
		have[noteKey{n.Folder, n.Kind}] = n.Text
	}
	keys := make([]noteKey, 0, len(s.notes))
	for k := range s.notes {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(a, b int) bool { return keys[a].folder+keys[a].kind < keys[b].folder+keys[b].kind })
	for _, k := range keys {
		if text := s.notes[k]; have[k] != text || k.kind == noteDeleteGuard {
			s.warn("%s", text)
		}
	}
	stale := 0
	for k := range have {
		if _, ok := s.notes[k]; !ok {
			stale++
		}
	}
	fresh := 0
	for _, k := range keys {
		if have[k] != s.notes[k] {
			fresh++
		}
	}
	if stale+fresh == 0 {
		return nil // nothing to write: no transaction
	}
	return s.db.Update(func(tx *state.Tx) error {
		for _, k := range keys {
			if text := s.notes[k]; have[k] != text {
				if err := tx.PutNote(state.Note{Account: s.acct.Name, Folder: k.folder, Kind: k.kind, Text: text}); err != nil {
					return err
				}
			}
		}
		for k := range have {
			if _, ok := s.notes[k]; !ok {
				if err := tx.DeleteNote(s.acct.Name, k.folder, k.kind); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
