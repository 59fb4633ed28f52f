package imapconn

import (
	"encoding/base64"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// mutf7 is the base64 alphabet of modified UTF-7 (RFC 3501 5.1.3).
var mutf7 = base64.NewEncoding("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,").WithPadding(base64.NoPadding)

// validMUTF7 reports whether go-imap's decoder accepts s as a mailbox
// name: printable ASCII (and valid UTF-8 above it), "&-", or "&" + modified
// base64 of UTF-16 that needs it + "-", no two shifted runs in a row.
func validMUTF7(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	ascii := true
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch < 0x20 || ch == 0x7f {
			return false
		}
		if ch != '&' {
			ascii = true
			continue
		}
		start := i + 1
		for i++; i < len(s) && s[i] != '-'; i++ {
		}
		if i == len(s) {
			return false
		}
		if i == start {
			ascii = true
			continue
		}
		if !ascii || !validShifted(s[start:i]) {
			return false
		}
		ascii = false
	}
	return true
}

// validShifted reports whether b64 is modified base64 of UTF-16 code units
// that are not printable ASCII, surrogates paired.
func validShifted(b64 string) bool {
	b, err := mutf7.DecodeString(b64)
	if err != nil || len(b) == 0 || len(b)%2 == 1 {
		return false
	}
	for i := 0; i < len(b); i += 2 {
		r := rune(b[i])<<8 | rune(b[i+1])
		switch {
		case utf16.IsSurrogate(r):
			if i += 2; i >= len(b) {
				return false
			}
			r2 := rune(b[i])<<8 | rune(b[i+1])
			if utf16.DecodeRune(r, r2) == utf8.RuneError {
				return false
			}
		case r >= 0x20 && r <= 0x7e:
			return false
		}
	}
	return true
}

// encodeMUTF7 encodes a UTF-8 name in modified UTF-7 (pure printable ASCII).
func encodeMUTF7(s string) string {
	var sb strings.Builder
	var run []rune
	flush := func() {
		if len(run) == 0 {
			return
		}
		u := utf16.Encode(run)
		b := make([]byte, 0, 2*len(u))
		for _, x := range u {
			b = append(b, byte(x>>8), byte(x))
		}
		sb.WriteByte('&')
		sb.WriteString(mutf7.EncodeToString(b))
		sb.WriteByte('-')
		run = run[:0]
	}
	for _, r := range s {
		switch {
		case r >= 0x20 && r <= 0x7e:
			flush()
			if r == '&' {
				sb.WriteString("&-")
			} else {
				sb.WriteRune(r)
			}
		default:
			run = append(run, r)
		}
	}
	flush()
	return sb.String()
}

// safeName turns a raw mailbox name that is not modified UTF-7 into the
// UTF-8 name the engine sees: the bytes themselves when they are UTF-8,
// else each byte that is not part of a UTF-8 sequence read as Latin-1.
func safeName(raw string) string {
	if utf8.ValidString(raw) {
		return raw
	}
	var sb strings.Builder
	for i := 0; i < len(raw); {
		r, n := utf8.DecodeRuneInString(raw[i:])
		if r == utf8.RuneError && n <= 1 {
			sb.WriteRune(rune(raw[i]))
			i++
			continue
		}
		sb.WriteString(raw[i : i+n])
		i += n
	}
	return sb.String()
}
