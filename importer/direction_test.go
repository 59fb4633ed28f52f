package importer

import (
	"os"
	"strings"
	"testing"
	"time"
)

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// A pull-only mbsync Channel stays pull-only: direction = "pull", not a
// comment that leaves the account two-way. The output lists the defaults
// in effect.
func TestMBSyncPullOnlyChannel(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	r, err := MBSync(readTestdata(t, "pullonly.mbsyncrc"), "pullonly.mbsyncrc")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Refused) != 0 {
		t.Fatalf("refused %q", r.Refused)
	}
	c := parseOutput(t, r)
	if d := c.Account("work").Direction; d != "pull" {
		t.Errorf("work: direction %q, want pull\n%s", d, r.TOML)
	}
	if d := c.Account("home").Direction; d != "both" {
		t.Errorf("home: direction %q, want both", d)
	}
	assertContains(t, r.TOML,
		"# applied to every Channel below: Create Near\n",
		"# defaults now in effect (uncomment and change to override):\n",
		"# delete_mode = \"expunge\"",
		"# idle_folders = [\"INBOX\"]",
		"# poll_interval = \"2m\"",
	)
	// home's own section tells its defaults, direction among them; work's
	// does not list direction, which it sets.
	home := r.TOML[strings.Index(r.TOML, "# from IMAPAccount home"):]
	work := r.TOML[strings.Index(r.TOML, "# from IMAPAccount work"):strings.Index(r.TOML, "# from IMAPAccount home")]
	if !strings.Contains(home, "# direction = \"both\"") || strings.Contains(work, "# direction = ") {
		t.Errorf("defaults listed in the wrong section:\n%s", r.TOML)
	}
	// The user's comments stay, each under its own account (or at the top).
	if !strings.Contains(home, "# Personal mail: two-way, as mbsync did.\n") || strings.Contains(work, "Personal mail") ||
		!strings.HasPrefix(r.TOML[strings.Index(r.TOML, "# A read-only backup"):], "# A read-only backup of a work mailbox") ||
		strings.Index(r.TOML, "# A read-only backup") > strings.Index(r.TOML, "[[account]]") {
		t.Errorf("comments not kept under their sections:\n%s", r.TOML)
	}
	for _, l := range r.NotTranslated {
		if strings.Contains(l, ": Sync ") {
			t.Errorf("Sync line left as a comment: %s", l)
		}
	}
}

// Sync lines that keep deletions, Sync None, Expunge None, MaxMessages and
// channels of one account in different directions are refused, each naming
// its line.
func TestMBSyncRefusesWhatChangesBehaviour(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	// Sync Pull Flags: only flags, no deletions, pulled.
	r, err := MBSync(readTestdata(t, "pullonly-flags.mbsyncrc"), "x")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Refused) != 1 || !strings.HasPrefix(r.Refused[0], "line 18: Sync Pull Flags: mbsync kept messages that were deleted") {
		t.Errorf("refused %q", r.Refused)
	}
	head := "IMAPStore s\nHost h\nUser u\nPassCmd p\nMaildirStore m\nPath ~/M/\nChannel c\nFar :s:\nNear :m:\n"
	for _, tc := range []struct{ extra, want string }{
		{"Sync None\n", "line 10: Sync None: Sync None syncs nothing"},
		{"Expunge None\n", "line 10: Expunge None: mbsync kept deleted messages"},
		{"Sync Pull\nExpunge Far\n", "line 11: Expunge Far: mbsync kept here"},
		{"MaxMessages 500\n", "line 10: MaxMessages 500: mbsync kept only the newest"},
		{"Sync PullNew PullFlags Push\n", "line 10: Sync PullNew PullFlags Push: deletions were not synced server → local"},
		{"Sync Bogus\n", `line 10: Sync Bogus: unknown Sync operation "Bogus"`},
		{"Channel d\nFar :s:Archive\nNear :m:Archive\nSync Push\n", "line 7: Channel c: the Channels of this account sync in different directions"},
	} {
		r, err := MBSync([]byte(head+tc.extra), "x")
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Refused) != 1 || !strings.HasPrefix(r.Refused[0], tc.want) {
			t.Errorf("%q: refused %q, want %q", tc.extra, r.Refused, tc.want)
		}
	}
	for _, ok := range []string{"Sync All\n", "Sync Pull\nExpunge Near\n", "MaxMessages 0\n", "Sync Full\nExpunge Both\n", "Sync Pull Push\n"} {
		r, _ := MBSync([]byte(head+ok), "x")
		if len(r.Refused) != 0 {
			t.Errorf("%q refused: %q", ok, r.Refused)
		}
	}
	if r, _ := MBSync([]byte(head+"Sync Push\nExpunge Far\n"), "x"); len(r.Refused) != 0 || !strings.Contains(r.TOML, "direction = \"push\"\n") {
		t.Errorf("Sync Push: refused %q\n%s", r.Refused, r.TOML)
	}
}

// OfflineIMAP: readonly on the remote repository is direction = "pull",
// maxage is max_age, sync_deletes = no is refused.
func TestOfflineIMAPPullOnly(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	src := readTestdata(t, "pullonly.offlineimaprc")
	r, err := OfflineIMAP(src, "pullonly.offlineimaprc")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Refused) != 1 || !strings.HasPrefix(r.Refused[0], "line 39: sync_deletes = no: OfflineIMAP kept messages deleted") {
		t.Errorf("refused %q", r.Refused)
	}
	fixed := strings.Replace(string(src), "sync_deletes = no\n", "", 1)
	r, err = OfflineIMAP([]byte(fixed), "pullonly.offlineimaprc")
	if err != nil || len(r.Refused) != 0 {
		t.Fatalf("refused %q, %v", r.Refused, err)
	}
	c := parseOutput(t, r)
	backup := r.TOML[strings.Index(r.TOML, "# from [Account backup]"):strings.Index(r.TOML, "# from [Account personal]")]
	personal := r.TOML[strings.Index(r.TOML, "# from [Account personal]"):]
	if !strings.Contains(backup, "# The work backup never changes the server.\n") ||
		strings.Contains(backup, "personal mail") || !strings.Contains(personal, "# personal mail\n") {
		t.Errorf("comments not kept under their sections:\n%s", r.TOML)
	}
	b := c.Account("backup")
	if b.Direction != "pull" || b.MaxAge != 365*24*time.Hour {
		t.Errorf("backup: direction %q, max_age %v\n%s", b.Direction, b.MaxAge, r.TOML)
	}
	if d := c.Account("personal").Direction; d != "both" {
		t.Errorf("personal: direction %q", d)
	}
	both := "[Repository a-local]\ntype = Maildir\nlocalfolders = ~/M\nreadonly = yes\n[Repository a-remote]\ntype = IMAP\nremotehost = h\nremoteuser = u\nremotepass = p\nreadonly = yes\n"
	r, _ = OfflineIMAP([]byte("[general]\naccounts = a\n[Account a]\nlocalrepository = a-local\nremoterepository = a-remote\n"+both), "x")
	if len(r.Refused) != 1 || !strings.Contains(r.Refused[0], "both repositories are read-only") {
		t.Errorf("both read-only: refused %q", r.Refused)
	}
}
