package pop3pull

import (
	"fmt"
	"sort"
	"time"

	"github.com/mailmirror/mailmirror/state"
)

// A message whose download fails (RETR refused, or the connection breaks
// while the server sends it) must not block the others: its failure is
// recorded in the state DB (state.POP3Failure), the other messages are
// fetched first (after a reconnection when the connection broke), and the
// failing one is tried again only after a back-off, and last. After
// StuckAfter failures in a row it is reported as stuck (`mailmirror
// status`); it is still tried, at most every maxBackoff.

// StuckAfter is how many failed downloads in a row make a message stuck.
const StuckAfter = 3

// Back-off between attempts at a failing message: firstBackoff after the
// first failure, doubling up to maxBackoff.
const (
	firstBackoff = time.Minute
	maxBackoff   = 6 * time.Hour
)

// backoff is the wait after the n-th failure in a row.
func backoff(n int) time.Duration {
	d := firstBackoff
	for i := 1; i < n && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

// orderFresh puts the messages to download in order: those that never
// failed in the server's order, then the failing ones whose back-off is
// over, fewest failures first. Failing ones still waiting are returned in
// wait.
func orderFresh(fresh []serverMsg, failing map[string]state.POP3Failure, now time.Time) (todo, wait []serverMsg) {
	var retry []serverMsg
	for _, m := range fresh {
		f, ok := failing[m.id]
		switch {
		case !ok:
			todo = append(todo, m)
		case now.Before(f.NextTry):
			wait = append(wait, m)
		default:
			retry = append(retry, m)
		}
	}
	sort.SliceStable(retry, func(i, j int) bool { return failing[retry[i].id].Failures < failing[retry[j].id].Failures })
	return append(todo, retry...), wait
}

// recordFailure counts a failed download of m and returns the problem to
// report.
func (p *poller) recordFailure(m serverMsg, cause error) error {
	now := p.now()
	f := p.failing[m.id]
	f.UIDL = m.id
	f.Failures++
	f.LastError = cause.Error()
	f.LastFailed = now
	f.NextTry = now.Add(backoff(f.Failures))
	p.failing[m.id] = f
	p.res.Errors = append(p.res.Errors, MessageError{Num: m.num, UIDL: m.id, Err: failureText(f, cause.Error())})
	return p.db.SetPOP3Failure(p.acct.Name, f)
}

// failureText says what happened to a failing message and what comes
// next.
func failureText(f state.POP3Failure, cause string) error {
	stuck := ""
	if f.Failures >= StuckAfter {
		stuck = "stuck: "
	}
	times := "once"
	if f.Failures > 1 {
		times = fmt.Sprintf("%d times in a row", f.Failures)
	}
	return fmt.Errorf("%snot fetched: %s (failed %s; next try after %s)", stuck, cause, times, f.NextTry.Format("2006-01-02 15:04:05"))
}

// reportWaiting reports the failing messages left for a later poll.
func (p *poller) reportWaiting(wait []serverMsg) {
	for _, m := range wait {
		f := p.failing[m.id]
		p.res.Errors = append(p.res.Errors, MessageError{Num: m.num, UIDL: m.id, Err: failureText(f, f.LastError)})
	}
}

// forgetGoneFailures drops the failure records of messages no longer on
// the server (only from a complete listing).
func (p *poller) forgetGoneFailures(onServer map[string]bool) error {
	var gone []string
	for id := range p.failing {
		if !onServer[id] {
			gone = append(gone, id)
			delete(p.failing, id)
		}
	}
	if len(gone) == 0 {
		return nil
	}
	return p.db.ForgetPOP3Failures(p.acct.Name, gone)
}
