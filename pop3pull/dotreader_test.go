package pop3pull

import (
	"bufio"
	"bytes"
	"io"
	"math/rand"
	"net/textproto"
	"strings"
	"testing"
)

// stuff dot-stuffs msg and adds the terminating line, as a server does
// (line endings as they are, CRLF before the "." line).
func stuff(msg string) string {
	var b strings.Builder
	bol := true
	for i := 0; i < len(msg); i++ {
		if bol && msg[i] == '.' {
			b.WriteByte('.')
		}
		b.WriteByte(msg[i])
		bol = msg[i] == '\n'
	}
	if len(msg) > 0 && !bol {
		b.WriteString("\r\n")
	}
	b.WriteString(".\r\n")
	return b.String()
}

func decode(t *testing.T, wire string, bufSize int, readSize int) (string, string) {
	t.Helper()
	br := bufio.NewReaderSize(strings.NewReader(wire+"+OK next\r\n"), bufSize)
	dr := newDotReader(br)
	var out bytes.Buffer
	buf := make([]byte, readSize)
	for {
		n, err := dr.Read(buf)
		out.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
	}
	rest, _ := io.ReadAll(br)
	return out.String(), string(rest)
}

func TestDotReaderCases(t *testing.T) {
	cases := map[string]string{
		"Subject: a\r\n\r\n.\r\n..\r\n.x\r\n":           "Subject: a\n\n.\n..\n.x\n",
		"Subject: bare\n\n.dot after bare blank line\n": "Subject: bare\n\n.dot after bare blank line\n",
		"a\rb\r\r\nc\r":   "a\rb\r\nc\r\n",
		"nul\x00\r\n\x00": "nul\x00\n\x00\n",
		"":                "",
		".":               ".\n",
		"\r\n.\r\n":       "\n.\n",
	}
	for msg, want := range cases {
		for _, bs := range []int{16, 17, 64 << 10} {
			for _, rs := range []int{1, 3, 4096} {
				got, rest := decode(t, stuff(msg), bs, rs)
				if got != want || rest != "+OK next\r\n" {
					t.Errorf("%q (buffer %d, reads of %d): got %q, rest %q; want %q", msg, bs, rs, got, rest, want)
				}
			}
		}
	}
}

// TestDotReaderMatchesTextproto checks that, on CRLF input (where
// textproto's DotReader is right), both decoders agree.
func TestDotReaderMatchesTextproto(t *testing.T) {
	r := rand.New(rand.NewSource(7))
	alphabet := []string{".", "..", "\r\n", "\r", "\x00", "a", "bc", strings.Repeat("L", 40)}
	for i := 0; i < 2000; i++ {
		var b strings.Builder
		for j := r.Intn(30); j > 0; j-- {
			b.WriteString(alphabet[r.Intn(len(alphabet))])
		}
		msg := strings.ReplaceAll(b.String(), "\n", "") // no bare LF
		msg = strings.ReplaceAll(msg, "\r", "\r\n")     // CRLF only
		wire := stuff(msg)
		want, err := io.ReadAll(textproto.NewReader(bufio.NewReader(strings.NewReader(wire))).DotReader())
		if err != nil {
			t.Fatal(err)
		}
		got, _ := decode(t, wire, 16, 7)
		if got != string(want) {
			t.Fatalf("%q: got %q, textproto %q", wire, got, want)
		}
	}
}

func TestDotReaderUnexpectedEOF(t *testing.T) {
	dr := newDotReader(bufio.NewReader(strings.NewReader("Subject: cut\r\n\r\npart")))
	_, err := io.ReadAll(dr)
	if err != io.ErrUnexpectedEOF {
		t.Fatalf("ReadAll of a cut message: %v", err)
	}
}
