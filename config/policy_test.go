package config

import (
	"reflect"
	"testing"
	"time"
)

const policyAccount = `[[account]]
name = "work"
protocol = "imap"
host = "imap.example.com"
username = "u"
password_env = "P"
maildir = "/m/work"
max_age = "100d"
`

// TestFolderPolicyLookup checks that the first matching policy applies,
// that max_age falls back to the account's and that archive folders are
// never synced.
func TestFolderPolicyLookup(t *testing.T) {
	setHome(t)
	c := mustParse(t, policyAccount+`
[[account.folder_policy]]
match = "Lists/*"
max_age = "30d"

[[account.folder_policy]]
match = "inbox"
archive_after = "365d"
archive_to = "Archive/local"

[[account.folder_policy]]
match = "*"
max_age = "0"
`)
	a := c.Accounts[0]
	day := 24 * time.Hour
	for _, tc := range []struct {
		folder  string
		maxAge  time.Duration
		archive time.Duration
	}{
		{"Lists/golang", 30 * day, 0},
		{"INBOX", 100 * day, 365 * day},
		{"Sent", 0, 0},
	} {
		if got := a.MaxAgeFor(tc.folder); got != tc.maxAge {
			t.Errorf("MaxAgeFor(%q) = %v, want %v", tc.folder, got, tc.maxAge)
		}
		var archive time.Duration
		if p := a.Policy(tc.folder); p != nil {
			archive = p.ArchiveAfter
		}
		if archive != tc.archive {
			t.Errorf("archive_after of %q = %v, want %v", tc.folder, archive, tc.archive)
		}
	}
	if !a.IsArchiveFolder("Archive/local") || a.IsArchiveFolder("Archive") {
		t.Error("IsArchiveFolder wrong")
	}
	if a.MatchFolder("Archive/local") || !a.MatchFolder("Archive") || a.IsIdleFolder("Archive/local") {
		t.Error("the archive folder must not be synced, its parent must")
	}
}

func TestFolderPolicyErrors(t *testing.T) {
	setHome(t)
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"missing match", policyAccount + "[[account.folder_policy]]\nmax_age = \"5d\"\n",
			[]string{`config.toml:9: account "work": folder_policy.match: required`}},
		{"unknown key", policyAccount + "[[account.folder_policy]]\nmatch = \"x\"\nmaxage = \"5d\"\n",
			[]string{`config.toml:11: account "work": folder_policy: unknown key "maxage"; did you mean max_age?`}},
		{"bad direction", policyAccount + "[[account.folder_policy]]\nmatch = \"x\"\ndirection = \"up\"\n",
			[]string{`config.toml:11: account "work": folder_policy.direction: must be "both", "pull" or "push", got "up"`}},
		{"archive under pull", policyAccount + "[[account.folder_policy]]\nmatch = \"INBOX\"\ndirection = \"pull\"\narchive_after = \"365d\"\narchive_to = \"Old\"\n",
			[]string{`config.toml:12: account "work": folder_policy.archive_after: deletes messages from the server, which direction = "pull" never changes; leave one of them out`}},
		{"bad duration", policyAccount + "[[account.folder_policy]]\nmatch = \"x\"\nmax_age = \"5 days\"\n",
			[]string{`config.toml:11: account "work": folder_policy.max_age: must be a duration such as "90s", "5m" or "14d", got "5 days"`}},
		{"exclusion", policyAccount + "[[account.folder_policy]]\nmatch = \"!x\"\n",
			[]string{`config.toml:10: account "work": folder_policy.match: is one pattern selecting folders; "!" is not allowed here, got "!x"`}},
		{"archive_to missing", policyAccount + "[[account.folder_policy]]\nmatch = \"INBOX\"\narchive_after = \"365d\"\n",
			[]string{`config.toml:11: account "work": folder_policy.archive_to: required with archive_after (the local folder that receives the archived messages)`}},
		{"archive_to alone", policyAccount + "[[account.folder_policy]]\nmatch = \"INBOX\"\narchive_to = \"Old\"\n",
			[]string{`config.toml:11: account "work": folder_policy.archive_to: only used with archive_after`}},
		{"archive_after zero", policyAccount + "[[account.folder_policy]]\nmatch = \"INBOX\"\narchive_after = \"0\"\narchive_to = \"Old\"\n",
			[]string{`config.toml:11: account "work": folder_policy.archive_after: must be positive (leave it out to never archive), got "0"`}},
		{"archive_to INBOX", policyAccount + "[[account.folder_policy]]\nmatch = \"Lists/*\"\narchive_after = \"1d\"\narchive_to = \"inbox\"\n",
			[]string{`config.toml:12: account "work": folder_policy.archive_to: must not be INBOX: the archive is a local-only folder, never synced`}},
		{"archive_to synced", policyAccount + "folders = [\"INBOX\", \"Old\"]\n[[account.folder_policy]]\nmatch = \"INBOX\"\narchive_after = \"1d\"\narchive_to = \"Old\"\n",
			[]string{`config.toml:13: account "work": folder_policy.archive_to: "Old" is a synced folder (listed in folders): the archive folder is local only; choose another name`}},
		{"archive_to is a match", policyAccount + "[[account.folder_policy]]\nmatch = \"Old\"\nmax_age = \"1d\"\n[[account.folder_policy]]\nmatch = \"INBOX\"\narchive_after = \"1d\"\narchive_to = \"Old\"\n",
			[]string{`config.toml:15: account "work": folder_policy.archive_to: "Old" is the match of the folder_policy at line 9, a synced folder: the archive folder is local only; choose another name`}},
		{"bad archive_to", policyAccount + "[[account.folder_policy]]\nmatch = \"INBOX\"\narchive_after = \"1d\"\narchive_to = \"../x\"\n",
			[]string{`config.toml:12: account "work": folder_policy.archive_to: must be a folder name such as "INBOX" or "Lists/golang" (no empty, "." or ".." parts), got "../x"`}},
		{"pop3", "[[account]]\nname = \"pop\"\nprotocol = \"pop3\"\nhost = \"h\"\nusername = \"u\"\npassword_env = \"P\"\nmaildir = \"/m/pop\"\n[[account.folder_policy]]\nmatch = \"INBOX\"\n",
			[]string{`config.toml:8: account "pop": folder_policy: not valid for protocol "pop3"`}},
		{"not a table", policyAccount + "folder_policy = \"INBOX\"\n",
			[]string{`config.toml:9: account "work": folder_policy: must be an array of tables ([[account.folder_policy]]), got "INBOX"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := parseErrors(t, tc.text)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("errors =\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}
