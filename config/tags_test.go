package config

import "testing"

func TestTagKeysErrors(t *testing.T) {
	setHome(t)
	base := "[[account]]\nname = \"work\"\nprotocol = \"imap\"\nhost = \"imap.example.com\"\nusername = \"u\"\npassword_env = \"P\"\nmaildir = \"/m/work\"\n"
	for _, tc := range []struct{ extra, want string }{
		{"tags = \"mu\"\n", `config.toml:8: account "work": tags: must be "notmuch" or "" (off), got "mu"`},
		{"tag_map = \"x\"\n", `config.toml:8: account "work": tag_map: must be a table of keyword = "tag" ({ "$label1" = "important" }), got "x"`},
		{"tag_map = { \"a b\" = \"x\" }\n", `config.toml:8: account "work": tag_map: "a b" is not an IMAP keyword (printable ASCII without spaces or ( ) { % * " \ ], not starting with \)`},
		{"tag_map = { \"$label1\" = 3 }\n", `config.toml:8: account "work": tag_map: "$label1": the tag must be a string, got 3`},
		{"tags_deny = [\"a b\"]\n", `config.toml:8: account "work": tags_deny: tag patterns must be non-empty and without spaces, got "a b"`},
	} {
		got := parseErrors(t, base+tc.extra)
		if len(got) != 1 || got[0] != tc.want {
			t.Errorf("%q: errors %q, want %q", tc.extra, got, tc.want)
		}
	}
	c := mustParse(t, base+"tags = \"notmuch\"\n[account.tag_map]\n\"$Label1\" = \"important\"\n")
	if a := c.Accounts[0]; a.Tags != "notmuch" || a.TagMap["$Label1"] != "important" {
		t.Errorf("Tags, TagMap = %q, %v", a.Tags, a.TagMap)
	}
}
