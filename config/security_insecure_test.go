package config_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mailmirror/mailmirror/config"
)

// No password in clear text to a host that is not loopback unless the
// user said allow_insecure = true; names that merely look like loopback
// do not count.
func TestSecurityPlaintextAuthNeedsLoopbackOrAllowInsecure(t *testing.T) {
	remote := []string{
		"mail.example.org", "localhost.example.org", "127.0.0.1.nip.io", "0.0.0.0", "::",
		"10.0.0.1", "192.168.1.1", "::ffff:10.0.0.1", "fe80::1", "LOCALHOST.evil", "localhost..",
	}
	// A trailing dot (the absolute form of a name) is accepted on purpose.
	loopback := []string{"127.0.0.1", "127.1.2.3", "::1", "localhost", "LocalHost", "::ffff:127.0.0.1", "localhost."}
	for _, proto := range []string{"imap", "pop3"} {
		for _, host := range append(remote, loopback...) {
			isLoopback := false
			for _, l := range loopback {
				isLoopback = isLoopback || l == host
			}
			for _, allow := range []bool{false, true} {
				text := fmt.Sprintf("[[account]]\nname = \"a\"\nprotocol = %q\nhost = %q\ntls = \"none\"\nallow_insecure = %v\nusername = \"u\"\npassword_env = \"PW\"\nmaildir = \"/m\"\n", proto, host, allow)
				_, err := config.Parse([]byte(text), "insecure.toml")
				switch {
				case !isLoopback && !allow && err == nil:
					t.Errorf("%s %q: tls = \"none\" without allow_insecure was accepted", proto, host)
				case !isLoopback && !allow:
					if msg := err.Error(); !strings.Contains(msg, "insecure.toml:5:") || !strings.Contains(msg, "tls") || !strings.Contains(msg, "allow_insecure") {
						t.Errorf("%s %q: the error does not name the line, the key and the way out: %v", proto, host, err)
					}
				case err != nil:
					t.Errorf("%s %q (allow_insecure = %v): %v", proto, host, allow, err)
				}
			}
		}
	}
	// STARTTLS and implicit TLS are fine anywhere.
	for _, mode := range []string{"starttls", "implicit"} {
		text := fmt.Sprintf("[[account]]\nname = \"a\"\nprotocol = \"imap\"\nhost = \"mail.example.org\"\ntls = %q\nusername = \"u\"\npassword_env = \"PW\"\nmaildir = \"/m\"\n", mode)
		if _, err := config.Parse([]byte(text), "tls.toml"); err != nil {
			t.Errorf("tls = %q: %v", mode, err)
		}
	}
}
