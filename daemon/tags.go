package daemon

import (
	"context"
	"time"

	"github.com/mailmirror/mailmirror/tags"
)

// tagPoll is how often the daemon looks at notmuch's database for tag
// changes (tags = "notmuch"): a file's modification time, without running
// notmuch, unless it moved.
const tagPoll = 500 * time.Millisecond

// tagRecheck is how often notmuch's revision is asked even when the
// database files look unchanged (a database the stamp cannot see).
const tagRecheck = 30 * time.Second

// watchTags asks for a pass when notmuch's revision moved past the one the
// last pass read, so that a tag changed in notmuch reaches the server
// within about a second. It looks at the database files (Stamp) every
// tagPoll and runs notmuch only when they changed since it last looked and
// are not as the last tag step recorded them (the sync's own writes, once
// checked, are not changes to push). It kicks once per revision seen, so
// that a pass that cannot record its tags does not start pass after pass.
func (a *account) watchTags(ctx context.Context) {
	nm, err := tags.Open(ctx, "", nil)
	if err != nil {
		a.log.Warn("tags: notmuch not usable; tags sync at each pass only", "err", err)
		return
	}
	t := time.NewTicker(tagPoll)
	defer t.Stop()
	var stamp string
	var kicked tags.Revision
	lastAsk := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st := nm.Stamp()
		if st != "" && st == stamp && time.Since(lastAsk) < tagRecheck {
			continue
		}
		seen, err := a.d.db.TagRevision(a.cfg.Name)
		if err != nil {
			continue
		}
		if st != "" && st == seen.Stamp && time.Since(lastAsk) < tagRecheck {
			stamp = st // as the last tag step left it
			continue
		}
		stamp, lastAsk = st, time.Now()
		rev, err := nm.Revision(ctx)
		if err != nil || (seen.UUID == rev.UUID && seen.Revision >= rev.N) || rev == kicked {
			continue
		}
		kicked = rev
		a.log.Debug("tags changed in notmuch", "revision", rev.N)
		a.kick()
	}
}
