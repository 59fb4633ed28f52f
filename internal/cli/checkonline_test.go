package cli

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mailmirror/mailmirror/internal/testenv"
)

// check signs in: a good account passes; a closed port, the POP3 port
// given as IMAP, a plain-text port with TLS expected and a wrong password
// fail, each with a hint, and the account is named once.
func TestCheckSignsIn(t *testing.T) {
	d := testenv.NewDovecot(t, &testenv.DovecotOptions{TLS: true})
	u := d.NewUser(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	account := func(name, protocol string, port int, tls, password string) string {
		return fmt.Sprintf("[[account]]\nname = %q\nprotocol = %q\nhost = \"127.0.0.1\"\nport = %d\ntls = %q\ntls_ca_file = %q\nusername = %q\npassword = %q\nmaildir = %q\n",
			name, protocol, port, tls, d.CAFile, u.Name, password, filepath.Join(dir, name))
	}
	for _, tc := range []struct {
		name, account string
		errWant       []string // in stderr, in order
	}{
		{"good imap", account("alice", "imap", d.IMAPPort, "none", u.Password), nil},
		{"good imaps", account("alice", "imap", d.IMAPSPort, "implicit", u.Password), nil},
		{"good pop3s", account("alice", "pop3", d.POP3SPort, "implicit", u.Password), nil},
		{"closed port", account("alice", "imap", closed, "none", u.Password),
			[]string{`account "alice": connect to 127.0.0.1:`, fmt.Sprintf("hint: nothing accepts connections on 127.0.0.1:%d", closed)}},
		{"pop3 port", account("alice", "imap", d.POP3Port, "none", u.Password),
			[]string{`account "alice": `, fmt.Sprintf("hint: port %d answers with a POP3 greeting", d.POP3Port), "that is a POP3 port"}},
		{"imap port as pop3", account("alice", "pop3", d.IMAPPort, "none", u.Password),
			[]string{`account "alice": `, "that is an IMAP port"}},
		{"plain text where TLS expected", account("alice", "imap", d.IMAPPort, "implicit", u.Password),
			[]string{`account "alice": TLS handshake`, fmt.Sprintf(`hint: port %d speaks plain text`, d.IMAPPort), `use tls = "starttls" or port 993`}},
		{"TLS where plain text expected", account("alice", "imap", d.IMAPSPort, "starttls", u.Password),
			[]string{`account "alice": `, `expects TLS from the first byte: use tls = "implicit"`}},
		{"wrong password", account("alice", "pop3", d.POP3Port, "none", "not-"+u.Password),
			[]string{`account "alice": `, "hint: the server refused the username or password"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := writeConfig(t, tc.account)
			code, out, errOut := runMain(t, "check", "--config", name)
			if tc.errWant == nil {
				if code != ExitOK || !strings.HasSuffix(out, " sign-in=ok\n") || errOut != "" {
					t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
				}
				return
			}
			if code != ExitFailure || !strings.HasSuffix(out, " sign-in=failed\n") {
				t.Errorf("exit %d, stdout %q", code, out)
			}
			rest := errOut
			for _, w := range tc.errWant {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Errorf("stderr lacks %q (in order):\n%s", w, errOut)
					break
				}
				rest = rest[i+len(w):]
			}
			if strings.Count(errOut, "alice") != 1 || strings.Contains(errOut, u.Password) {
				t.Errorf("the account must be named once, the password never:\n%s", errOut)
			}
			// --offline keeps the static check: it passes.
			if code, _, _ := runMain(t, "check", "--offline", "--config", name); code != ExitOK {
				t.Errorf("--offline: exit %d", code)
			}
		})
	}
}
