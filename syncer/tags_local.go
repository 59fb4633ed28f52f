package syncer

import (
	"context"

	"github.com/mailmirror/mailmirror/state"
	"github.com/mailmirror/mailmirror/tags"
)

// The notmuch side of a tag step costs whole notmuch runs, each tens of
// milliseconds (the process, its libraries, opening the database), more
// than a quiet pass. So the runs are kept few and off the pass's way:
//
//   - the local read starts with the pass (tagBegin) and runs while the
//     pass works on the server; the tag step waits for it (tagWait). While
//     the database's files are as the last step left them (Stamp), it runs
//     nothing; else one revision and one query of the changes, side by
//     side (tags.Notmuch.Changes);
//   - after a step that wrote tags, what changed since the revision it read
//     is read again after the pass (checkOwnWrites), in the background:
//     when that is only the step's own writes, the new revision is
//     recorded, and the next pass runs nothing; until then, or when
//     somebody else wrote meanwhile, the next pass reads the changes since
//     the revision before our writes.

// tagLocal is the local read of a tag step.
type tagLocal struct {
	stored state.TagRevision // as recorded by the last step
	view   tags.View         // the revision now, and what changed since stored
	read   bool              // notmuch was asked (its files had changed)
	err    error
}

// tagBegin starts the pass's local read. It does nothing without tags, or
// when a read is running already.
func (s *Syncer) tagBegin(ctx context.Context) {
	if s.acct.Tags == "" || s.opts.DryRun || s.gmailLabels() {
		return // (Gmail labels: gmail_step.go reads notmuch itself)
	}
	if s.tags == nil {
		s.tags = &tagSync{}
	}
	if s.tags.local != nil {
		return
	}
	ch := make(chan tagLocal, 1)
	s.tags.local = ch
	after := s.tags.after
	go func() {
		if after != nil {
			<-after
		}
		ch <- s.readTagLocal(ctx)
	}()
}

// tagWait returns the pass's local read, starting it when tagBegin did not.
func (s *Syncer) tagWait(ctx context.Context) tagLocal {
	s.tagBegin(ctx)
	if s.tags == nil || s.tags.local == nil {
		return s.readTagLocal(ctx) // a dry run's
	}
	lr := <-s.tags.local
	s.tags.local = nil
	return lr
}

// tagEnd waits for a local read the pass started and did not use (it
// ended early), so that no notmuch run outlives it.
func (s *Syncer) tagEnd() {
	if s.tags != nil && s.tags.local != nil {
		<-s.tags.local
		s.tags.local = nil
	}
}

// readTagLocal reads what changed in notmuch since the last tag step.
func (s *Syncer) readTagLocal(ctx context.Context) tagLocal {
	ts, err := s.openTags(ctx)
	if err != nil {
		return tagLocal{err: err}
	}
	stored, err := s.db.TagRevision(s.acct.Name)
	if err != nil {
		return tagLocal{err: err}
	}
	lr := tagLocal{stored: stored, view: tags.View{Rev: tags.Revision{UUID: stored.UUID, N: stored.Revision}, Stamp: stored.Stamp}}
	if st := ts.nm.Stamp(); st != "" && st == stored.Stamp && stored.UUID != "" {
		return lr // the database files are as the last step left them
	}
	lr.read = true
	lr.view, lr.err = ts.nm.Changes(ctx, stored.UUID, stored.Revision, ts.scope)
	return lr
}

// checkOwnWrites reads, after the pass and in the background, what
// changed in notmuch since rec (the revision the step read): when that is
// only the messages the step wrote, with the synced tags it gave them
// (written, by notmuch id), the new revision is recorded with the
// database's stamp, and the next pass runs nothing. Otherwise (somebody
// else changed something meanwhile) the record stays, and the next pass
// reads it all. The next tag step waits for it; so does Close.
func (s *Syncer) checkOwnWrites(rec state.TagRevision, written map[string][]string) {
	ts := s.tags
	done := make(chan struct{})
	ts.after = done
	go func() {
		defer close(done)
		v, err := ts.nm.Changes(context.Background(), rec.UUID, rec.Revision, ts.scope)
		if err != nil || v.All || v.Stamp == "" {
			return
		}
		for _, m := range v.Messages {
			if w, ok := written[m.ID]; !ok || !tags.Equal(ts.m.Local(m.Tags), w) {
				return
			}
		}
		// No other step records meanwhile: the next one waits for this.
		next := state.TagRevision{UUID: v.Rev.UUID, Revision: v.Rev.N, Stamp: v.Stamp}
		_ = s.db.Update(func(tx *state.Tx) error { return tx.SetTagRevision(s.acct.Name, next) })
	}()
}

// tagClose waits for a revision check still running (Close).
func (s *Syncer) tagClose() {
	s.tagEnd()
	if s.tags != nil && s.tags.after != nil {
		<-s.tags.after
	}
}
