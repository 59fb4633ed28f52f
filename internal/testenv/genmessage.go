package testenv

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// GenOptions shapes a message made by GenMessage. A nil *GenOptions means
// defaults.
type GenOptions struct {
	// BodySize is the size in bytes of the text body, CRLFs included
	// (default 2000).
	BodySize int
	// AttachmentSize, when positive, adds a base64 attachment of that many
	// random bytes (a multipart/mixed message).
	AttachmentSize int
	// From, To, Subject and MessageID override the generated headers.
	// MessageID includes its angle brackets.
	From, To, Subject, MessageID string
	// Date overrides the generated Date header (a time in 2024).
	Date time.Time
}

var genWords = strings.Fields(`the of and to a in that is was he for it with as his on be at by
	I this had not are but from or have an they which one you were her all she there would their we
	him been has when who will more no if out so said what up its about into than them can only other
	new some could time these two may then do first any my now such like our over man me even most made
	after also did many before must through back years where much your way well down should because
	mailbox folder server message sync offline laptop flag draft archive inbox`)

// GenMessage returns a realistic RFC 5322 message with CRLF line ends:
// Date, From, To, Subject, a Message-ID unique for each message r yields,
// MIME headers, a plain-text body of the requested size whose lines
// sometimes start with "." or "From " (to exercise dot-stuffing and mbox
// quoting), and optionally a base64 attachment. The same r state gives the
// same message.
func GenMessage(r *rand.Rand, opts *GenOptions) []byte {
	if opts == nil {
		opts = &GenOptions{}
	}
	bodySize := opts.BodySize
	if bodySize <= 0 {
		bodySize = 2000
	}
	person := func() string {
		names := []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"}
		n := names[r.IntN(len(names))]
		return fmt.Sprintf("%s%s <%s@example.org>", strings.ToUpper(n[:1]), n[1:], n)
	}
	from, to, subject, id := opts.From, opts.To, opts.Subject, opts.MessageID
	if from == "" {
		from = person()
	}
	if to == "" {
		to = person()
	}
	if subject == "" {
		subject = fmt.Sprintf("%s %s %s", genWords[r.IntN(len(genWords))], genWords[r.IntN(len(genWords))], genWords[r.IntN(len(genWords))])
	}
	if id == "" {
		id = fmt.Sprintf("<%016x.%016x@mailmirror.test>", r.Uint64(), r.Uint64())
	}
	date := opts.Date
	if date.IsZero() {
		base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		date = base.Add(time.Duration(r.Int64N(int64(365 * 24 * time.Hour)))).Truncate(time.Second)
	}

	var b bytes.Buffer
	h := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	h("Date", date.Format(time.RFC1123Z))
	h("From", from)
	h("To", to)
	h("Subject", subject)
	h("Message-ID", id)
	h("MIME-Version", "1.0")
	body := genText(r, bodySize)
	if opts.AttachmentSize <= 0 {
		h("Content-Type", "text/plain; charset=us-ascii")
		h("Content-Transfer-Encoding", "7bit")
		b.WriteString("\r\n")
		b.Write(body)
		return b.Bytes()
	}
	boundary := fmt.Sprintf("=_mm_%016x", r.Uint64())
	h("Content-Type", fmt.Sprintf("multipart/mixed; boundary=%q", boundary))
	b.WriteString("\r\nThis is a multipart message in MIME format.\r\n")
	fmt.Fprintf(&b, "--%s\r\n", boundary)
	b.WriteString("Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n")
	b.Write(body)
	fmt.Fprintf(&b, "--%s\r\n", boundary)
	name := fmt.Sprintf("file-%08x.bin", r.Uint32())
	fmt.Fprintf(&b, "Content-Type: application/octet-stream; name=%q\r\n", name)
	fmt.Fprintf(&b, "Content-Disposition: attachment; filename=%q\r\n", name)
	b.WriteString("Content-Transfer-Encoding: base64\r\n\r\n")
	raw := make([]byte, opts.AttachmentSize)
	for i := range raw {
		raw[i] = byte(r.Uint32())
	}
	enc := base64.StdEncoding.EncodeToString(raw)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n")
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	return b.Bytes()
}

// genText returns exactly size bytes of text in CRLF-terminated lines of at
// most 74 characters (a size below 2 gives no text).
func genText(r *rand.Rand, size int) []byte {
	var b bytes.Buffer
	for size-b.Len() >= 2 {
		rest := size - b.Len() - 2
		n := rest
		if rest > 74 {
			n = 40 + r.IntN(33)
		}
		b.WriteString(genLine(r, n) + "\r\n")
	}
	return b.Bytes()
}

// genLine returns a line of exactly n characters, without a trailing space;
// one in 50 starts with "From ", two in 50 with ".".
func genLine(r *rand.Rand, n int) string {
	var b strings.Builder
	switch k := r.IntN(50); {
	case k == 0 && n >= 6:
		b.WriteString("From ")
	case k < 3 && n >= 1:
		b.WriteString(".")
	}
	for b.Len() < n {
		if b.Len() > 0 && !strings.HasSuffix(b.String(), " ") && b.Len()+1 < n {
			b.WriteByte(' ')
		}
		w := genWords[r.IntN(len(genWords))]
		w = w[:min(len(w), n-b.Len())]
		b.WriteString(w)
	}
	return b.String()
}
