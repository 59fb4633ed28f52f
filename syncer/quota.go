package syncer

import (
	"sort"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/state"
)

// quotaInterval is how often a long-lived Syncer (the daemon's) asks for
// the quota: it changes slowly, and a daemon passes every poll_interval.
const quotaInterval = 15 * time.Minute

// readQuota reads the quota of INBOX's quota roots (one GETQUOTAROOT per
// pass, at most every quotaInterval, on servers with QUOTA) and records it
// in the state for `mailmirror status`. A server that refuses the command
// is not an error: quota is informational; a broken connection is.
func (s *Syncer) readQuota(c *Conn) error {
	if !c.Caps().Has(imap.CapQuota) || (!s.quotaRead.IsZero() && time.Since(s.quotaRead) < quotaInterval) {
		return nil
	}
	s.quotaRead = time.Now()
	data, err := c.GetQuotaRoot("INBOX").Wait()
	if err != nil {
		if isConnError(err) {
			return err
		}
		return nil
	}
	now := time.Now()
	var qs []state.Quota
	for _, d := range data {
		for res, r := range d.Resources {
			qs = append(qs, state.Quota{Root: d.Root, Resource: string(res), Usage: r.Usage, Limit: r.Limit, Updated: now})
		}
	}
	sort.Slice(qs, func(a, b int) bool {
		if qs[a].Root != qs[b].Root {
			return qs[a].Root < qs[b].Root
		}
		return qs[a].Resource < qs[b].Resource
	})
	s.stats.Quota = qs
	if sameQuota(qs, s.lastQuota) {
		return nil // a daemon's passes: no write when nothing changed
	}
	if err := s.db.SetQuota(s.acct.Name, qs); err != nil {
		return err
	}
	s.lastQuota = qs
	return nil
}

func sameQuota(a, b []state.Quota) bool {
	if len(a) != len(b) || a == nil {
		return false
	}
	for i := range a {
		if a[i].Root != b[i].Root || a[i].Resource != b[i].Resource || a[i].Usage != b[i].Usage || a[i].Limit != b[i].Limit {
			return false
		}
	}
	return true
}
