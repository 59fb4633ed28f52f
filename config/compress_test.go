package config

import (
	"reflect"
	"testing"
)

// compress is an IMAP account key, on unless set to false.
func TestCompressKey(t *testing.T) {
	setHome(t)
	acct := func(extra string) string {
		return "[[account]]\nname = \"work\"\nprotocol = \"imap\"\nhost = \"imap.example.com\"\nusername = \"u\"\npassword_env = \"P\"\nmaildir = \"/m/work\"\n" + extra
	}
	for _, tc := range []struct {
		extra string
		off   bool
	}{{"", false}, {"compress = true\n", false}, {"compress = false\n", true}} {
		c := mustParse(t, acct(tc.extra))
		if got := c.Accounts[0].NoCompress; got != tc.off {
			t.Errorf("%q: NoCompress = %v, want %v", tc.extra, got, tc.off)
		}
	}
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"string", acct("compress = \"no\"\n"),
			[]string{`config.toml:8: account "work": compress: must be true or false, got "no"`}},
		{"pop3", "[[account]]\nname = \"pop\"\nprotocol = \"pop3\"\nhost = \"pop.example.com\"\nusername = \"u\"\npassword_env = \"P\"\nmaildir = \"/m/pop\"\ncompress = false\n",
			[]string{`config.toml:8: account "pop": compress: not valid for protocol "pop3"`}},
	} {
		if got := parseErrors(t, tc.text); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: errors\n%q\nwant\n%q", tc.name, got, tc.want)
		}
	}
}
