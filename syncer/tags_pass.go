package syncer

import "context"

// TagPass syncs tags alone (tags = "notmuch"; without it, it does
// nothing): one LIST-STATUS tells which folders' HIGHESTMODSEQ moved, then
// the tag step of a pass runs (see tags.go). The daemon runs it after a
// targeted pass pulled what IDLE pushed (keyword changes arrive as FETCH
// FLAGS), so that keywords need no full pass.
func (s *Syncer) TagPass(ctx context.Context) (Stats, error) {
	return s.counted(func() (Stats, error) {
		s.stats = Stats{}
		if s.acct.Tags == "" {
			return s.stats, nil
		}
		c, err := s.pool.get(ctx)
		if err != nil {
			return s.stats, err
		}
		names, remotes, err := s.listRemote(c)
		if err != nil {
			s.pool.discard(c)
			return s.stats, err
		}
		s.pool.put(c)
		s.names = names
		s.remotes = remotes // the Gmail label step reads the label folders' counters
		folders, err := s.db.Folders(s.acct.Name)
		if err != nil {
			return s.stats, err
		}
		var jobs []*job
		for _, st := range folders {
			r := remotes[st.Remote]
			if st.Remote == "" || r == nil || !s.acct.MatchFolder(st.Name) {
				continue
			}
			jobs = append(jobs, &job{s: s, local: st.Name, remote: st.Remote, status: r.status, st: st})
		}
		err = s.tagStep(ctx, jobs)
		return s.stats, err
	})
}
