package config

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeCA writes a self-signed CA certificate in PEM to a temporary file
// and returns its path.
func writeCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mailmirror test CA"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<33, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(name, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

func TestTLSConfig(t *testing.T) {
	setHome(t)
	c := mustParse(t, minimalIMAP)
	tc, err := c.Accounts[0].TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	if tc.ServerName != "imap.example.com" || tc.InsecureSkipVerify || tc.RootCAs != nil || tc.MinVersion != tls.VersionTLS12 {
		t.Errorf("TLSConfig = ServerName %q InsecureSkipVerify %v RootCAs %v MinVersion %x",
			tc.ServerName, tc.InsecureSkipVerify, tc.RootCAs, tc.MinVersion)
	}
	ca := writeCA(t)
	c = mustParse(t, minimalIMAP+"tls_ca_file = \""+ca+"\"\n")
	tc, err = c.Accounts[0].TLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	if tc.RootCAs == nil || tc.InsecureSkipVerify {
		t.Fatalf("RootCAs nil or verification off with tls_ca_file")
	}
	// The CA must be in the pool: a certificate it signed verifies.
	block, _ := pem.Decode(readFile(t, ca))
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: tc.RootCAs}); err != nil {
		t.Errorf("CA from tls_ca_file not trusted: %v", err)
	}

	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("hello\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got := parseErrors(t, minimalIMAP+"tls_ca_file = \""+notPEM+"\"\n")
	if want := fmt.Sprintf(`config.toml:8: account "work": tls_ca_file: no PEM certificate found in %q`, notPEM); len(got) != 1 || got[0] != want {
		t.Errorf("errors %q, want %q", got, want)
	}
}

func TestMatchFolder(t *testing.T) {
	for _, tc := range []struct {
		patterns []string
		name     string
		want     bool
	}{
		{[]string{"*"}, "INBOX", true},
		{[]string{"*"}, "Lists/golang/announce", true},
		{[]string{"Lists/*"}, "Lists/golang", true},
		{[]string{"Lists/*"}, "Lists/golang/announce", true},
		{[]string{"Lists/*"}, "Lists", false},
		{[]string{"Lists/%"}, "Lists/golang", true},
		{[]string{"Lists/%"}, "Lists/golang/announce", false},
		{[]string{"%"}, "Archive", true},
		{[]string{"%"}, "Archive/2024", false},
		{[]string{"*", "!Spam"}, "Spam", false},
		{[]string{"*", "!Spam"}, "Spam/old", true},
		{[]string{"*", "!Spam*"}, "Spam/old", false},
		{[]string{"!Spam", "*"}, "Spam", false}, // exclusions win whatever their order
		{[]string{"!Spam"}, "Archive", true},    // only exclusions: everything else
		{[]string{"!Spam"}, "Spam", false},
		{[]string{"INBOX", "Sent"}, "inbox", true},
		{[]string{"inbox"}, "INBOX", true},
		{[]string{"INBOX/*"}, "Inbox/sub", true},
		{[]string{"INBOX", "Sent"}, "sent", false}, // only INBOX ignores case
		{[]string{"INBOX", "Sent"}, "Drafts", false},
		{[]string{"*", "!Lists/*", "Lists/golang"}, "Lists/golang", false},
		{[]string{"a*b*c*d*e*f*g"}, strings.Repeat("ab", 50), false},
		{[]string{"*.old"}, "Archive/2020.old", true},
		{[]string{"Sent Items"}, "Sent Items", true},
		{nil, "INBOX", false},
		{[]string{}, "INBOX", false},
	} {
		a := &Account{Protocol: ProtocolIMAP, Folders: tc.patterns}
		if got := a.MatchFolder(tc.name); got != tc.want {
			t.Errorf("folders %q, MatchFolder(%q) = %v, want %v", tc.patterns, tc.name, got, tc.want)
		}
	}
	pop := &Account{Protocol: ProtocolPOP3, Folder: "INBOX"}
	if !pop.MatchFolder("inbox") || pop.MatchFolder("Sent") || pop.IsIdleFolder("INBOX") {
		t.Errorf("POP3 MatchFolder/IsIdleFolder wrong")
	}
}

func TestIsIdleFolder(t *testing.T) {
	a := &Account{Protocol: ProtocolIMAP, Folders: []string{"*", "!Spam"}, IdleFolders: []string{"INBOX", "Lists/*", "Spam"}}
	for name, want := range map[string]bool{
		"INBOX": true, "inbox": true, "Lists/golang": true, "Sent": false,
		"Spam": false, // idle but not synced
	} {
		if got := a.IsIdleFolder(name); got != want {
			t.Errorf("IsIdleFolder(%q) = %v, want %v", name, got, want)
		}
	}
	a.IdleFolders = []string{}
	if a.IsIdleFolder("INBOX") {
		t.Errorf("idle_folders = [] still idles INBOX")
	}
}

func TestResolvePassword(t *testing.T) {
	ctx := context.Background()
	a := &Account{Name: "work", Password: "plain"}
	if s, err := a.ResolvePassword(ctx); err != nil || s.Reveal() != "plain" {
		t.Errorf("password: %q, %v", s.Reveal(), err)
	}

	t.Setenv("MM_TEST_PW", "from-env")
	a = &Account{Name: "work", PasswordEnv: "MM_TEST_PW"}
	if s, err := a.ResolvePassword(ctx); err != nil || s.Reveal() != "from-env" {
		t.Errorf("password_env: %q, %v", s.Reveal(), err)
	}
	t.Setenv("MM_TEST_PW", "")
	if _, err := a.ResolvePassword(ctx); err == nil || err.Error() != `account "work": password_env: environment variable MM_TEST_PW is empty` {
		t.Errorf("empty env: %v", err)
	}
	os.Unsetenv("MM_TEST_PW")
	if _, err := a.ResolvePassword(ctx); err == nil || err.Error() != `account "work": password_env: environment variable MM_TEST_PW is not set` {
		t.Errorf("unset env: %v", err)
	}

	a = &Account{Name: "work", PasswordCommand: `printf 'first line pw\r\nsecond line\n'`}
	if s, err := a.ResolvePassword(ctx); err != nil || s.Reveal() != "first line pw" {
		t.Errorf("password_command: %q, %v", s.Reveal(), err)
	}
	a = &Account{Name: "work", PasswordCommand: `printf 'no-newline'`}
	if s, err := a.ResolvePassword(ctx); err != nil || s.Reveal() != "no-newline" {
		t.Errorf("password_command without newline: %q, %v", s.Reveal(), err)
	}

	// A failing command: the error has the exit status and stderr but not
	// what the command printed on stdout.
	a = &Account{Name: "work", PasswordCommand: `echo leaked-secret; echo "gpg: decryption failed" >&2; echo "no key" >&2; exit 3`}
	_, err := a.ResolvePassword(ctx)
	if err == nil {
		t.Fatal("failing command: no error")
	}
	if want := `account "work": password_command failed: exit status 3: gpg: decryption failed / no key`; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}

	a = &Account{Name: "work", PasswordCommand: `true`}
	if _, err := a.ResolvePassword(ctx); err == nil || err.Error() != `account "work": password_command printed no password (its first line of output is empty)` {
		t.Errorf("empty output: %v", err)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	a = &Account{Name: "work", PasswordCommand: `echo never`}
	if _, err := a.ResolvePassword(cctx); err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("cancelled context: %v", err)
	}

	if _, err := (&Account{Name: "x"}).ResolvePassword(ctx); err == nil {
		t.Errorf("no source: no error")
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	setHome(t)
	const pw = "hunter2-Zq9"
	c := mustParse(t, strings.Replace(minimalIMAP, `password_command = "pass show work"`, `password = "`+pw+`"`, 1))
	a := c.Accounts[0]
	if a.Password.Reveal() != pw {
		t.Fatalf("password not decoded")
	}
	for _, verb := range []string{"%v", "%s", "%+v", "%#v", "%q", "%x", "%X", "%d", "%10s", "%T"} {
		for _, v := range []any{a, *a, c, *c, a.Password, []any{a.Password}} {
			out := fmt.Sprintf(verb, v)
			if strings.Contains(out, pw) || strings.Contains(out, fmt.Sprintf("%x", pw)) {
				t.Errorf("fmt %s of %T prints the password: %s", verb, v, out)
			}
		}
	}
	if got := fmt.Sprintf("%v|%s|%#v", a.Password, a.Password, a.Password); got != "***|***|***" {
		t.Errorf("Secret prints %q, want ***|***|***", got)
	}
	if got := fmt.Sprint(Secret("")); got != "" {
		t.Errorf("empty Secret prints %q", got)
	}
	// Errors about the password never quote it.
	for _, text := range []string{
		strings.Replace(minimalIMAP, `password_command = "pass show work"`, `password = "`+pw+`"`+"\npassword_env = \"X\"", 1),
		strings.Replace(minimalIMAP, `password_command = "pass show work"`, `password = ["`+pw+`"]`, 1),
	} {
		_, err := Parse([]byte(text), "config.toml")
		if err == nil || strings.Contains(err.Error(), pw) {
			t.Errorf("error %v", err)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"0", 0}, {"90s", 90 * time.Second}, {"5m", 5 * time.Minute}, {"1h30m", 90 * time.Minute},
		{"14d", 14 * 24 * time.Hour}, {"1d12h", 36 * time.Hour}, {"1.5d", 36 * time.Hour},
		{"-5s", -5 * time.Second}, {"-1d", -24 * time.Hour}, {"+2m", 2 * time.Minute},
		{"2d3h4m5s", 2*24*time.Hour + 3*time.Hour + 4*time.Minute + 5*time.Second},
		{"250ms", 250 * time.Millisecond}, {"0d", 0},
	} {
		got, err := ParseDuration(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "5", "d", "5 min", "1x", "-", "1d-2h", "1e3d", "999999999999d", "5m d"} {
		if got, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", in, got)
		} else if !strings.Contains(err.Error(), fmt.Sprintf("%q", in)) {
			t.Errorf("ParseDuration(%q) error %q does not quote the input", in, err)
		}
	}
	for d, want := range map[time.Duration]string{
		0: "0", 2 * time.Minute: "2m", 90 * time.Second: "1m30s", 14 * 24 * time.Hour: "14d",
		36 * time.Hour: "1d12h", 36*time.Hour + 30*time.Minute: "1d12h30m", -5 * time.Second: "-5s", 3 * time.Hour: "3h",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
		if back, err := ParseDuration(formatDuration(d)); err != nil || back != d {
			t.Errorf("ParseDuration(formatDuration(%v)) = %v, %v", d, back, err)
		}
	}
}
