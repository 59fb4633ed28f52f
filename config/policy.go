package config

import (
	"fmt"
	"strings"
	"time"
)

// FolderPolicy is one [[account.folder_policy]] table: settings for the
// IMAP folders its Match pattern selects. The first policy of an account
// that matches a folder applies to it; keys it does not set keep the
// account's value (MaxAge) or their default (no archiving).
type FolderPolicy struct {
	// Match is one folder pattern, in the syntax of folders (no "!").
	Match string
	// MaxAge overrides the account's max_age when HasMaxAge is set.
	MaxAge    time.Duration
	HasMaxAge bool
	// Direction overrides the account's direction when not "".
	Direction string
	// ArchiveAfter, when positive, moves messages whose server date is
	// older than this into the local folder ArchiveTo and removes them from
	// the server. 0 means never.
	ArchiveAfter time.Duration
	// ArchiveTo is a local-only folder ("" when ArchiveAfter is 0): never
	// created on the server, never synced.
	ArchiveTo string
	// Line is the line of the table's header (or of folder_policy when
	// written inline), for messages.
	Line int
}

// policyKey is the account key holding the folder policies.
const policyKey = "folder_policy"

// Policy returns the first folder policy whose pattern matches the folder
// called name, or nil. It does no I/O.
func (a *Account) Policy(name string) *FolderPolicy {
	for i := range a.FolderPolicies {
		if globMatch(normInbox(a.FolderPolicies[i].Match), normInbox(name)) {
			return &a.FolderPolicies[i]
		}
	}
	return nil
}

// MaxAgeFor returns the max_age that applies to the folder called name:
// its policy's when that sets one, else the account's.
func (a *Account) MaxAgeFor(name string) time.Duration {
	if p := a.Policy(name); p != nil && p.HasMaxAge {
		return p.MaxAge
	}
	return a.MaxAge
}

// DirectionFor returns the direction that applies to the folder called
// name: its policy's when that sets one, else the account's (DirectionBoth
// when neither says).
func (a *Account) DirectionFor(name string) string {
	if p := a.Policy(name); p != nil && p.Direction != "" {
		return p.Direction
	}
	if a.Direction == "" {
		return DirectionBoth
	}
	return a.Direction
}

// IsArchiveFolder reports whether the folder called name is the archive_to
// folder of one of the account's policies: such a folder is local only and
// never synced, whatever the folders patterns say.
func (a *Account) IsArchiveFolder(name string) bool {
	n := normInbox(name)
	for _, p := range a.FolderPolicies {
		if p.ArchiveTo != "" && normInbox(p.ArchiveTo) == n {
			return true
		}
	}
	return false
}

// policyTables returns the folder_policy tables of an account, or reports
// that the key is not an array of tables.
func (s *section) policyTables() []map[string]any {
	v, ok := s.vals[policyKey]
	if !ok {
		return nil
	}
	switch t := v.(type) {
	case []map[string]any:
		return t
	case []any:
		out := make([]map[string]any, 0, len(t))
		for _, e := range t {
			m, ok := e.(map[string]any)
			if !ok {
				s.typeError(policyKey, "an array of tables ([[account.folder_policy]])")
				return nil
			}
			out = append(out, m)
		}
		return out
	}
	s.typeError(policyKey, "an array of tables ([[account.folder_policy]])")
	return nil
}

// decodePolicies decodes and validates the account's folder_policy tables.
// Keys are reported as "folder_policy.KEY" with the line of the key in its
// table.
func (s *section) decodePolicies(a *Account) {
	for n, m := range s.policyTables() {
		ps := &section{p: s.p, index: s.index, label: s.label, vals: map[string]any{}}
		ps.line = func(k string) int { return s.p.lines.subKey(s.index, policyKey, n, k) }
		ps.prefix = policyKey + "."
		for _, k := range sortedKeys(m, ps.line) {
			if keyDoc(TableFolderPolicy, k) != nil {
				ps.vals[k] = m[k]
			} else {
				ps.errorAt(ps.line(k), "%s: unknown key %q%s", policyKey, k, didYouMean(TableFolderPolicy, k))
			}
		}
		p := FolderPolicy{Line: s.p.lines.subKey(s.index, policyKey, n, "")}
		p.Match, _ = ps.str("match")
		p.MaxAge, p.HasMaxAge = ps.duration("max_age")
		p.ArchiveAfter, _ = ps.duration("archive_after")
		p.ArchiveTo, _ = ps.str("archive_to")
		p.Direction, _ = ps.str("direction")
		ps.validatePolicy(a, &p)
		a.FolderPolicies = append(a.FolderPolicies, p)
	}
}

// validatePolicy checks one policy against its account.
func (ps *section) validatePolicy(a *Account, p *FolderPolicy) {
	switch {
	case !ps.has("match"):
		ps.errorAt(p.Line, "%smatch: required", ps.prefix)
	case ps.bad["match"]:
	case strings.HasPrefix(p.Match, "!"):
		ps.errorf("match", "is one pattern selecting folders; \"!\" is not allowed here, got %s", ps.got("match"))
	default:
		if err := checkPattern(p.Match); err != nil {
			ps.errorf("match", "%v, got %s", err, ps.got("match"))
		}
	}
	if ps.ok("max_age") && p.MaxAge < 0 {
		ps.errorf("max_age", "must not be negative, got %s", ps.got("max_age"))
	}
	if ps.ok("direction") {
		ps.oneOf("direction", p.Direction, DirectionBoth, DirectionPull, DirectionPush)
	}
	if ps.ok("archive_after") && (p.Direction == DirectionPull || p.Direction == "" && a.Direction == DirectionPull) {
		ps.errorf("archive_after", "deletes messages from the server, which direction = \"pull\" never changes; leave one of them out")
	}
	if ps.ok("archive_after") && p.ArchiveAfter <= 0 {
		ps.errorf("archive_after", "must be positive (leave it out to never archive), got %s", ps.got("archive_after"))
	}
	switch {
	case ps.ok("archive_after") && !ps.has("archive_to"):
		ps.errorAt(ps.line("archive_after"), "%sarchive_to: required with archive_after (the local folder that receives the archived messages)", ps.prefix)
	case ps.has("archive_to") && !ps.has("archive_after"):
		ps.errorf("archive_to", "only used with archive_after")
	case ps.ok("archive_to"):
		ps.checkArchiveTo(a, p)
	}
}

// checkArchiveTo rejects an archive_to that is not a folder name or that
// names a folder the account syncs.
func (ps *section) checkArchiveTo(a *Account, p *FolderPolicy) {
	if err := checkFolderName(p.ArchiveTo); err != nil {
		ps.errorf("archive_to", "%v, got %s", err, ps.got("archive_to"))
		return
	}
	to := normInbox(p.ArchiveTo)
	if to == "INBOX" {
		ps.errorf("archive_to", "must not be INBOX: the archive is a local-only folder, never synced")
		return
	}
	for _, pat := range a.Folders {
		if !strings.HasPrefix(pat, "!") && !strings.ContainsAny(pat, "*%") && normInbox(pat) == to {
			ps.errorf("archive_to", "%q is a synced folder (listed in folders): the archive folder is local only; choose another name", p.ArchiveTo)
			return
		}
	}
	for _, q := range append(a.FolderPolicies, *p) {
		if !strings.ContainsAny(q.Match, "*%") && normInbox(q.Match) == to {
			ps.errorf("archive_to", "%q is the match of the folder_policy at line %d, a synced folder: the archive folder is local only; choose another name", p.ArchiveTo, q.Line)
			return
		}
	}
}

// String describes a policy for messages ("Lists/*: archive after 365d
// to Archive").
func (p *FolderPolicy) String() string {
	var parts []string
	if p.HasMaxAge {
		parts = append(parts, "max_age "+formatDuration(p.MaxAge))
	}
	if p.ArchiveAfter > 0 {
		parts = append(parts, fmt.Sprintf("archive after %s to %s", formatDuration(p.ArchiveAfter), p.ArchiveTo))
	}
	if p.Direction != "" {
		parts = append(parts, "direction "+p.Direction)
	}
	if len(parts) == 0 {
		parts = append(parts, "account defaults")
	}
	return p.Match + ": " + strings.Join(parts, ", ")
}
