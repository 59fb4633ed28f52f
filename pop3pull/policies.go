package pop3pull

import (
	"fmt"
	"time"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/maildir"
	"github.com/mailmirror/mailmirror/state"
)

// chooseDeletions applies the account's policies to the messages on the
// server that this device has recorded as stored.
func chooseDeletions(acct *config.Account, folder *maildir.Folder, msgs []serverMsg,
	known map[string]state.UIDL, now time.Time, res *Result) ([]serverMsg, error) {
	byAge := acct.DeleteAfter > 0
	if acct.LeaveOnServer && !byAge && !acct.DeleteWhenDeletedLocally {
		return nil, nil
	}
	var local map[string]bool
	if acct.DeleteWhenDeletedLocally {
		ents, err := folder.Scan()
		if err != nil {
			return nil, err
		}
		local = make(map[string]bool, len(ents))
		for _, e := range ents {
			local[e.Key] = true
		}
		// A folder that lost every message this device stored looks like
		// a wiped or moved Maildir, not like a user's deletions: refuse to
		// empty the server because of it.
		recordedHere, missing := 0, 0
		for _, m := range msgs {
			if u, ok := known[m.id]; ok && u.Key != "" {
				recordedHere++
				if !local[u.Key] {
					missing++
				}
			}
		}
		if recordedHere >= wipeGuard && missing == recordedHere {
			res.Errors = append(res.Errors, MessageError{Err: fmt.Errorf(
				"delete_when_deleted_locally: all %d stored messages are missing from %s: not deleting them from the server",
				missing, folder.Path)})
			local = nil
		}
	}
	var out []serverMsg
	for _, m := range msgs {
		u, ok := known[m.id]
		if !ok || m.dup {
			continue
		}
		switch {
		case !acct.LeaveOnServer:
		case byAge && !u.FirstSeen.IsZero() && now.Sub(u.FirstSeen) >= acct.DeleteAfter:
		case local != nil && u.Key != "" && !local[u.Key]:
		default:
			continue
		}
		out = append(out, m)
	}
	return out, nil
}

// wipeGuard is how many stored messages must all be missing locally before
// delete_when_deleted_locally suspects a wiped Maildir.
const wipeGuard = 10
