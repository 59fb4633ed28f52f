package state

import (
	"fmt"
	"time"
)

// Quota is one resource of a server quota root (RFC 9208) as a pass read
// it: Usage and Limit in the resource's units (STORAGE counts KiB, MESSAGE
// messages).
type Quota struct {
	Root     string
	Resource string // "STORAGE", "MESSAGE", ...
	Usage    int64
	Limit    int64
	Updated  time.Time
}

// Percent is Usage as a percentage of Limit, rounded down; 0 when there is
// no limit.
func (q Quota) Percent() int {
	if q.Limit <= 0 {
		return 0
	}
	return int(q.Usage * 100 / q.Limit)
}

// SetQuota replaces what is known of an account's server quota.
func (d *DB) SetQuota(account string, qs []Quota) error {
	return d.Update(func(tx *Tx) error {
		if _, err := tx.tx.Exec(`DELETE FROM quota WHERE account = ?`, account); err != nil {
			return fmt.Errorf("state: set quota: %w", err)
		}
		for _, q := range qs {
			_, err := tx.tx.Exec(`INSERT OR REPLACE INTO quota (account, root, resource, usage, quota_limit, updated) VALUES (?, ?, ?, ?, ?, ?)`,
				account, q.Root, q.Resource, q.Usage, q.Limit, unixTime(q.Updated))
			if err != nil {
				return fmt.Errorf("state: set quota: %w", err)
			}
		}
		return nil
	})
}

// Quota returns an account's server quota as last recorded, by root and
// resource; none when the server has no QUOTA or no pass ran yet.
func (d *DB) Quota(account string) ([]Quota, error) {
	rows, err := d.sql.Query(`SELECT root, resource, usage, quota_limit, updated FROM quota WHERE account = ? ORDER BY root, resource`, account)
	if err != nil {
		return nil, fmt.Errorf("state: quota: %w", err)
	}
	defer rows.Close()
	var out []Quota
	for rows.Next() {
		var q Quota
		var updated int64
		if err := rows.Scan(&q.Root, &q.Resource, &q.Usage, &q.Limit, &updated); err != nil {
			return nil, fmt.Errorf("state: quota: %w", err)
		}
		q.Updated = fromUnix(updated)
		out = append(out, q)
	}
	return out, rows.Err()
}
