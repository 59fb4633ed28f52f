package maildir

import (
	"runtime"
	"sort"
	"strings"

	"github.com/emersion/go-imap/v2"
	gomaildir "github.com/emersion/go-maildir"
)

// Separator is the character between a key and the info part of a file name:
// ':' everywhere but Windows, where go-maildir and other tools use ';'.
var Separator = func() byte {
	if runtime.GOOS == "windows" {
		return ';'
	}
	return ':'
}()

// Flag letters and the IMAP flags they stand for.
var letterToIMAP = map[byte]imap.Flag{
	byte(gomaildir.FlagPassed):  imap.FlagForwarded,
	byte(gomaildir.FlagReplied): imap.FlagAnswered,
	byte(gomaildir.FlagSeen):    imap.FlagSeen,
	byte(gomaildir.FlagTrashed): imap.FlagDeleted,
	byte(gomaildir.FlagDraft):   imap.FlagDraft,
	byte(gomaildir.FlagFlagged): imap.FlagFlagged,
}

// KnownLetters are the flag letters mapped to IMAP flags, sorted.
const KnownLetters = "DFPRST"

// FlagsToIMAP returns the IMAP flags for the mapped letters in letters.
// Letters without an IMAP equivalent are ignored here (they stay in the
// file name: see MergeLetters).
func FlagsToIMAP(letters string) []imap.Flag {
	var out []imap.Flag
	for i := 0; i < len(letters); i++ {
		if f, ok := letterToIMAP[letters[i]]; ok {
			out = append(out, f)
		}
	}
	return out
}

// FlagsFromIMAP returns the sorted flag letters for the IMAP flags that map
// to one; other flags are ignored.
func FlagsFromIMAP(flags []imap.Flag) string {
	var b []byte
	for _, f := range flags {
		for l, m := range letterToIMAP {
			if strings.EqualFold(string(f), string(m)) {
				b = append(b, l)
			}
		}
	}
	return NormalizeLetters(string(b))
}

// NormalizeLetters sorts flag letters and removes duplicates.
func NormalizeLetters(letters string) string {
	b := []byte(letters)
	sort.Slice(b, func(i, j int) bool { return b[i] < b[j] })
	out := b[:0]
	for i, c := range b {
		if i == 0 || c != b[i-1] {
			out = append(out, c)
		}
	}
	return string(out)
}

// KnownOnly returns the mapped letters of letters (those with an IMAP flag).
func KnownOnly(letters string) string {
	var b []byte
	for i := 0; i < len(letters); i++ {
		if _, ok := letterToIMAP[letters[i]]; ok {
			b = append(b, letters[i])
		}
	}
	return NormalizeLetters(string(b))
}

// MergeLetters returns the letters of old that have no IMAP meaning (kept
// as they are) plus the mapped letters of known.
func MergeLetters(old, known string) string {
	var b []byte
	for i := 0; i < len(old); i++ {
		if _, ok := letterToIMAP[old[i]]; !ok {
			b = append(b, old[i])
		}
	}
	return NormalizeLetters(string(b) + KnownOnly(known))
}

// HasLetter reports whether letters holds l.
func HasLetter(letters string, l byte) bool {
	return strings.IndexByte(letters, l) >= 0
}
