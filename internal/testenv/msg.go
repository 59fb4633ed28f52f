package testenv

import (
	"bufio"
	"bytes"
	"io"
	"net/textproto"
	"slices"
	"strings"
	"time"
)

// Msg is one message as a test sees it, on the server (User.Messages) or in
// a Maildir (ReadMaildir).
type Msg struct {
	UID       uint32    // server UID; 0 for a Maildir file
	MessageID string    // Message-ID header with its angle brackets, trimmed; "" when absent
	Flags     []string  // sorted, IMAP form ("$Forwarded", "\\Seen")
	Size      int64     // RFC822.SIZE on the server; file size in a Maildir
	Date      time.Time // INTERNALDATE on the server; file modification time in a Maildir
	Path      string    // file path in a Maildir; "" on the server
}

// maildirFlags maps Maildir info letters to IMAP flags; these are the flags
// CompareAccount compares.
var maildirFlags = map[byte]string{
	'D': `\Draft`,
	'F': `\Flagged`,
	'P': `$Forwarded`,
	'R': `\Answered`,
	'S': `\Seen`,
	'T': `\Deleted`,
}

// flagsFromLetters turns the letters after ":2," into sorted IMAP flags.
// Lower case letters (keywords, named in a file of the Maildir's owner) and
// unknown letters are ignored.
func flagsFromLetters(letters string) []string {
	var flags []string
	for i := 0; i < len(letters); i++ {
		if f, ok := maildirFlags[letters[i]]; ok && !slices.Contains(flags, f) {
			flags = append(flags, f)
		}
	}
	slices.Sort(flags)
	return flags
}

// maildirFlag returns the IMAP flag f in the spelling of maildirFlags, and
// whether a Maildir letter stands for it.
func maildirFlag(f string) (string, bool) {
	for _, m := range maildirFlags {
		if strings.EqualFold(m, f) {
			return m, true
		}
	}
	return "", false
}

// MessageIDOf returns the Message-ID of a raw message, trimmed, with its
// angle brackets ("" when it has none).
func MessageIDOf(raw []byte) string { return messageID(raw) }

// messageID reads the Message-ID out of a message's header section.
func messageID(header []byte) string {
	h, _ := readHeader(bytes.NewReader(header))
	return strings.TrimSpace(h.Get("Message-Id"))
}

// readHeader parses a message's header section; a damaged header yields
// what could be read.
func readHeader(r io.Reader) (textproto.MIMEHeader, error) {
	return textproto.NewReader(bufio.NewReader(r)).ReadMIMEHeader()
}
