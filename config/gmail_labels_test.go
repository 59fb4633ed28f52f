package config

import (
	"slices"
	"testing"
)

// TestGmailLabelsFolderDefaults: with provider = "gmail" and tags =
// "notmuch" the labels are tags, so All Mail, Trash and Spam are the
// folders mirrored and All Mail is watched; with tags off, today's
// defaults; folders and idle_folders set in the file win.
func TestGmailLabelsFolderDefaults(t *testing.T) {
	setHome(t)
	const head = "[[account]]\nname = \"g\"\nprotocol = \"imap\"\nprovider = \"gmail\"\nusername = \"me@gmail.com\"\ntoken_command = \"x\"\nmaildir = \"/m/g\"\n"
	on := mustParse(t, head+"tags = \"notmuch\"\n").Accounts[0]
	if !slices.Contains(on.Folders, "[Gmail]/All Mail") || !slices.Contains(on.Folders, "[Gmail]/Trash") || slices.Contains(on.Folders, "*") {
		t.Errorf("tags on: folders = %q", on.Folders)
	}
	if !on.MatchFolder("[Gmail]/All Mail") || on.MatchFolder("INBOX") || on.MatchFolder("Work") {
		t.Errorf("tags on: All Mail %v, INBOX %v, Work %v", on.MatchFolder("[Gmail]/All Mail"), on.MatchFolder("INBOX"), on.MatchFolder("Work"))
	}
	if !on.IsIdleFolder("[Gmail]/All Mail") || on.IsIdleFolder("INBOX") {
		t.Errorf("tags on: idle_folders = %q", on.IdleFolders)
	}
	off := mustParse(t, head).Accounts[0]
	if off.MatchFolder("[Gmail]/All Mail") || !off.MatchFolder("INBOX") || !off.MatchFolder("Work") || !off.IsIdleFolder("INBOX") {
		t.Errorf("tags off: folders = %q, idle_folders = %q", off.Folders, off.IdleFolders)
	}
	set := mustParse(t, head+"tags = \"notmuch\"\nfolders = [\"*\"]\nidle_folders = [\"INBOX\"]\n").Accounts[0]
	if !slices.Equal(set.Folders, []string{"*"}) || !slices.Equal(set.IdleFolders, []string{"INBOX"}) {
		t.Errorf("set in the file: folders = %q, idle_folders = %q", set.Folders, set.IdleFolders)
	}
}
