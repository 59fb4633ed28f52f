package testenv

import (
	"bytes"
	"encoding/base64"
	"io"
	"math/rand/v2"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"
)

func TestGenMessage(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	seen := make(map[string]bool)
	for _, size := range []int{0, 1, 2, 3, 75, 76, 77, 1000, 50000} {
		msg := GenMessage(r, &GenOptions{BodySize: size})
		m, err := mail.ReadMessage(bytes.NewReader(msg))
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		for _, h := range []string{"Date", "From", "To", "Subject", "Message-Id"} {
			if m.Header.Get(h) == "" {
				t.Errorf("size %d: no %s header", size, h)
			}
		}
		if _, err := m.Header.Date(); err != nil {
			t.Errorf("size %d: Date: %v", size, err)
		}
		id := m.Header.Get("Message-Id")
		if seen[id] {
			t.Errorf("Message-ID %s repeated", id)
		}
		seen[id] = true
		body, _ := io.ReadAll(m.Body)
		want := size
		if size <= 0 {
			want = 2000
		}
		if want < 2 {
			want = 0
		}
		if len(body) != want {
			t.Errorf("size %d: body of %d bytes", size, len(body))
		}
		for _, line := range strings.Split(string(msg), "\r\n") {
			if strings.Contains(line, "\n") || len(line) > 998 {
				t.Fatalf("size %d: bad line %q", size, line)
			}
			if strings.HasSuffix(line, " ") {
				t.Errorf("size %d: trailing space in %q", size, line)
			}
		}
		if !bytes.HasSuffix(msg, []byte("\r\n")) {
			t.Errorf("size %d: no final CRLF", size)
		}
	}
	// Same state, same message.
	a := GenMessage(rand.New(rand.NewPCG(1, 1)), nil)
	b := GenMessage(rand.New(rand.NewPCG(1, 1)), nil)
	if !bytes.Equal(a, b) {
		t.Error("same seed gave different messages")
	}
}

func TestGenMessageAttachment(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	msg := GenMessage(r, &GenOptions{BodySize: 500, AttachmentSize: 10000, Subject: "report", MessageID: "<fixed@example.org>"})
	m, err := mail.ReadMessage(bytes.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Get("Subject") != "report" || m.Header.Get("Message-Id") != "<fixed@example.org>" {
		t.Errorf("headers not overridden: %v", m.Header)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" {
		t.Fatalf("Content-Type %q: %v", mt, err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	var sizes []int
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(p)
		if p.Header.Get("Content-Transfer-Encoding") == "base64" {
			data, err = base64.StdEncoding.DecodeString(strings.ReplaceAll(string(data), "\r\n", ""))
			if err != nil {
				t.Fatal(err)
			}
		}
		sizes = append(sizes, len(data))
	}
	// multipart drops the CRLF before each boundary from the part.
	if len(sizes) != 2 || sizes[0] != 498 || sizes[1] != 10000 {
		t.Errorf("part sizes %v, want [498 10000]", sizes)
	}
}

func TestDiffMessages(t *testing.T) {
	server := []Msg{
		{UID: 1, MessageID: "<a@x>", Flags: []string{`\Seen`, `\Recent`, "keyword"}},
		{UID: 2, MessageID: "<b@x>", Flags: []string{`\Flagged`}},
		{UID: 3, MessageID: "<b@x>"},
		{UID: 4, MessageID: "<c@x>"},
	}
	local := []Msg{
		{MessageID: "<a@x>", Flags: []string{`\Seen`}, Path: "/m/INBOX/cur/a:2,S"},
		{MessageID: "<b@x>", Path: "/m/INBOX/new/b1"},
		{MessageID: "<b@x>", Flags: []string{`\Flagged`}, Path: "/m/INBOX/cur/b2:2,F"},
		{MessageID: "<d@x>", Path: "/m/INBOX/new/d"},
		{MessageID: "<d@x>", Path: "/m/INBOX/new/d2"},
	}
	got := DiffMessages(server, local)
	want := []string{
		"<c@x>: on the server (UID 4) [], missing locally",
		"<d@x>: local (new/d) [], missing on the server",
		"<d@x>: local (new/d2) [], missing on the server",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("DiffMessages:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if d := DiffMessages(server[:1], local[:1]); len(d) != 0 {
		t.Errorf("\\Recent and keywords compared: %q", d)
	}
}

func TestReadMaildirFlags(t *testing.T) {
	for name, want := range map[string]string{
		"k":          "",
		"k:2,":       "",
		"k:2,S":      `\Seen`,
		"k:2,DFPRST": `$Forwarded \Answered \Deleted \Draft \Flagged \Seen`,
		"k:2,Sab":    `\Seen`,
	} {
		_, letters, _ := strings.Cut(name, ":2,")
		if got := strings.Join(flagsFromLetters(letters), " "); got != want {
			t.Errorf("%s: flags %q, want %q", name, got, want)
		}
	}
}
