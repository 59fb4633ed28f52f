package maildir

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrBadFolderName is returned (wrapped) for a folder name that cannot be
// mapped to a path inside the root: empty components, or components too long
// for a file system.
var ErrBadFolderName = errors.New("invalid folder name")

// maxComponent is the longest encoded path component allowed (most file
// systems stop at 255 bytes).
const maxComponent = 255

// windowsReserved are device names Windows refuses as file names, with or
// without an extension. They are escaped on every OS so that a Maildir stays
// portable.
var windowsReserved = map[string]bool{
	"CON": true, "PRN": true, "AUX": true, "NUL": true,
	"COM1": true, "COM2": true, "COM3": true, "COM4": true, "COM5": true,
	"COM6": true, "COM7": true, "COM8": true, "COM9": true,
	"LPT1": true, "LPT2": true, "LPT3": true, "LPT4": true, "LPT5": true,
	"LPT6": true, "LPT7": true, "LPT8": true, "LPT9": true,
}

// SplitName splits a local folder name ("Lists/golang") into its components.
func SplitName(name string) []string {
	return strings.Split(name, "/")
}

// EncodeComponent maps one folder-name component to a file name that is safe
// on every OS and cannot leave its parent directory. The mapping is
// reversible (DecodeComponent) and injective: two different components never
// give the same file name. Bytes that are unsafe are written as %XX: "/",
// "\", "%", NUL and control characters, characters Windows forbids
// (<>:"|?*), invalid UTF-8, a leading "." (so ".." and hidden names cannot
// occur), a trailing "." or space, and "." anywhere when dotSep is set (the
// Maildir++ separator). The first letter of a Windows device name (CON, NUL,
// ...) and of the Maildir subdirectory names cur, new and tmp (when
// verbatim, so a folder can never be mistaken for a message directory) is
// escaped too.
func EncodeComponent(c string, dotSep bool) (string, error) {
	if c == "" {
		return "", fmt.Errorf("%w: empty component", ErrBadFolderName)
	}
	var b strings.Builder
	for i := 0; i < len(c); {
		r, size := utf8.DecodeRuneInString(c[i:])
		esc := false
		switch {
		case r == utf8.RuneError && size <= 1:
			esc = true
		case r < 0x20 || r == 0x7f:
			esc = true
		case strings.ContainsRune(`/\%<>:"|?*`, r):
			esc = true
		case r == '.' && (dotSep || i == 0 || i+size == len(c)):
			esc = true
		case r == ' ' && i+size == len(c):
			esc = true
		}
		if esc {
			for j := 0; j < size; j++ {
				fmt.Fprintf(&b, "%%%02X", c[i+j])
			}
		} else {
			b.WriteString(c[i : i+size])
		}
		i += size
	}
	out := b.String()
	base := strings.ToUpper(out)
	if dot := strings.IndexByte(base, '.'); dot >= 0 {
		base = base[:dot]
	}
	if windowsReserved[base] || (!dotSep && (out == "cur" || out == "new" || out == "tmp")) {
		out = fmt.Sprintf("%%%02X", out[0]) + out[1:]
	}
	if len(out) > maxComponent {
		return "", fmt.Errorf("%w: component %.40q... is %d bytes long once encoded (at most %d)", ErrBadFolderName, c, len(out), maxComponent)
	}
	return out, nil
}

// DecodeComponent reverses EncodeComponent.
func DecodeComponent(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", fmt.Errorf("%w: truncated escape in %q", ErrBadFolderName, s)
		}
		v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
		if err != nil {
			return "", fmt.Errorf("%w: bad escape in %q", ErrBadFolderName, s)
		}
		b.WriteByte(byte(v))
		i += 2
	}
	return b.String(), nil
}
