package config_test

import (
	"errors"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mailmirror/mailmirror/config"
)

var fuzzSeeds = []string{
	"",
	"state_dir = \"/tmp/s\"\n[[account]]\nname = \"work\"\nprotocol = \"imap\"\nhost = \"imap.example.com\"\nusername = \"u\"\npassword_env = \"PW\"\nmaildir = \"~/Mail/work\"\n",
	"[[account]]\nname = \"isp\"\nprotocol = \"pop3\"\nhost = \"::1\"\ntls = \"none\"\nusername = \"me\"\npassword = \"plain\"\nmaildir = \"/srv/mail\"\nlayout = \"maildir++\"\ndelete_after = \"14d\"\n",
	"[[account]]\nname = \"x\"\nprotocol = \"imap\"\nhost = \"mail.example.org\"\ntls = \"none\"\nusername = \"u\"\npassword = \"pw\"\nmaildir = \"m\"\n",
	"[account]\nname = 1\n",
	"account = [{name = \"inline\", protocol = \"imap\"}]\n",
	"[[account]]\nname = \"a\"\npoll_interval = \"-5s\"\nmax_connections = 0\nfolders = [\"*\", \"!Spam\"]\nidle_folders = 3\nunknown_key = true\n[[account]]\nname = \"a\"\n",
	"x = \"\"\"\nmulti\nline\n\"\"\"\n[[account]]\nname = \"after\"\nport = 99999\n",
	"password = \"top-level\"\n[[account]]\npassword = \"unterminated\n",
	"[[account]]\n\"name\" = \"q\"\n'protocol' = 'imap'\nhost = \"h\"\n[account.sub]\n",
	"\xff\xfe[[account]]\x00\n",
}

// FuzzParse parses arbitrary bytes as a config file: never a panic; a
// failure is an ErrorList whose every problem names the file and a line
// within it (a problem about a key always has its line); a success is a
// config whose accounts have names, known protocols and TLS modes, valid
// ports and absolute Maildir paths.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := config.Parse(data, filepath.Join(dir, "fuzz.toml"))
		lines := strings.Count(string(data), "\n") + 1
		if err != nil {
			var list config.ErrorList
			if !errors.As(err, &list) || len(list) == 0 {
				t.Fatalf("error %v (%T) is not an ErrorList", err, err)
			}
			for _, e := range list {
				if e.File != "fuzz.toml" {
					t.Fatalf("error names file %q: %v", e.File, e)
				}
				if e.Line < 0 || e.Line > lines {
					t.Fatalf("error line %d of %d: %v", e.Line, lines, e)
				}
				if e.Key != "" && e.Line == 0 {
					t.Fatalf("error about key %q without a line: %v", e.Key, e)
				}
				if e.Error() == "" {
					t.Fatal("empty error")
				}
			}
			return
		}
		names := map[string]bool{}
		for _, a := range cfg.Accounts {
			if a.Name == "" || names[a.Name] {
				t.Fatalf("account name %q empty or repeated", a.Name)
			}
			names[a.Name] = true
			switch a.Protocol {
			case config.ProtocolIMAP, config.ProtocolPOP3:
			default:
				t.Fatalf("account %q: protocol %q", a.Name, a.Protocol)
			}
			switch a.TLS {
			case config.TLSImplicit, config.TLSStartTLS, config.TLSNone:
			default:
				t.Fatalf("account %q: tls %q", a.Name, a.TLS)
			}
			if a.Port < 1 || a.Port > 65535 {
				t.Fatalf("account %q: port %d", a.Name, a.Port)
			}
			if !filepath.IsAbs(a.Maildir) {
				t.Fatalf("account %q: maildir %q is not absolute", a.Name, a.Maildir)
			}
			a.Address()
			a.MatchFolder("INBOX")
			a.MatchFolder("Lists/golang")
			a.IsIdleFolder("INBOX")
		}
	})
}

var secretRE = regexp.MustCompile(`^[A-Za-z0-9]{10,40}$`)

// FuzzParseHidesPassword: a plaintext password somewhere in a file,
// broken or not, never appears in the errors.
func FuzzParseHidesPassword(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s, "Sup3rS3cretPassw0rd", "")
		f.Add("", "Sup3rS3cretPassw0rd", s)
	}
	f.Add("[[account]\n", "Sup3rS3cretPassw0rd", "= = =")
	f.Add("", "Sup3rS3cretPassw0rd", "\"\n")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, prefix, secret, suffix string) {
		if !secretRE.MatchString(secret) || strings.Contains(prefix+suffix, secret[:8]) {
			return
		}
		for _, line := range []string{
			"password = \"" + secret + "\"",
			"password = '" + secret + "'",
			"password = \"" + secret,
			"password = " + secret,
			"  \"password\"=\"\"\"" + secret + "\"\"\"",
		} {
			data := prefix + "\n[[account]]\n" + line + "\n" + suffix
			_, err := config.Parse([]byte(data), filepath.Join(dir, "fuzz.toml"))
			if err != nil && strings.Contains(err.Error(), secret[:8]) {
				t.Fatalf("the password shows in the error:\n%v\ninput:\n%s", err, data)
			}
		}
	})
}
