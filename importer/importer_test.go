package importer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
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

	"github.com/mailmirror/mailmirror/config"
)

// writeCA writes a self-signed CA certificate to a temporary file, for
// CertificateFile / sslcacertfile lines that config validates.
func writeCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<33, 0), IsCA: true, BasicConstraintsValid: true}
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

// parseOutput checks that the translation is a valid mailmirror config.
func parseOutput(t *testing.T, r *Result) *config.Config {
	t.Helper()
	c, err := config.Parse([]byte(r.TOML), filepath.Join(t.TempDir(), "config.toml"))
	if err != nil {
		t.Fatalf("translated config does not parse:\n%v\n---\n%s", err, r.TOML)
	}
	return c
}

// checkNothingDropped checks that every line of src that is not blank or
// a comment is either translated (its text is in translated) or listed in
// Result.NotTranslated and kept as a "# not translated:" comment, and not
// both. Texts that occur on several lines may be either.
func checkNothingDropped(t *testing.T, src string, r *Result, translated []string) {
	t.Helper()
	isTranslated := map[string]bool{}
	for _, l := range translated {
		isTranslated[l] = true
	}
	commented := map[int]bool{}
	for _, n := range r.NotTranslated {
		var line int
		if _, err := fmt.Sscanf(n, "line %d:", &line); err != nil {
			t.Errorf("NotTranslated entry %q has no line number", n)
			continue
		}
		commented[line] = true
		text, _, _ := strings.Cut(strings.SplitN(n, ": ", 2)[1], "  # ")
		first := strings.SplitN(text, " ", 2)[0]
		if !strings.Contains(r.TOML, "# not translated: "+first) {
			t.Errorf("NotTranslated entry %q is not commented in the output", n)
		}
	}
	for _, n := range r.Refused {
		var line int
		if _, err := fmt.Sscanf(n, "line %d:", &line); err != nil {
			t.Errorf("Refused entry %q has no line number", n)
			continue
		}
		commented[line] = true
	}
	count := map[string]int{}
	lines := strings.Split(src, "\n")
	for _, l := range lines {
		count[strings.TrimSpace(l)]++
	}
	for i, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" || l[0] == '#' || l[0] == ';' || count[l] > 1 && (isTranslated[l] || commented[i+1]) {
			continue
		}
		switch {
		case isTranslated[l] && commented[i+1]:
			t.Errorf("line %d %q is translated but also listed as not translated", i+1, l)
		case !isTranslated[l] && !commented[i+1]:
			t.Errorf("line %d %q was dropped: neither translated nor commented", i+1, l)
		}
	}
	for l := range isTranslated {
		if count[l] == 0 {
			t.Errorf("test lists %q as translated, but it is not in the source", l)
		}
	}
}

// lineOf returns the 1-based line of the first line of src equal to text.
func lineOf(t *testing.T, src, text string) int {
	t.Helper()
	for i, l := range strings.Split(src, "\n") {
		if strings.TrimSpace(l) == text {
			return i + 1
		}
	}
	t.Fatalf("%q not in source", text)
	return 0
}

func assertContains(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q", w)
		}
	}
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
