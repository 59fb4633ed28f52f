package config

import (
	"fmt"
	"io"
	"strings"
)

// Format implements fmt.Formatter so that every verb, not only %v and %s,
// prints "***" (or nothing for an empty Secret): %d or %x of a Secret
// would otherwise show the bytes.
func (s Secret) Format(f fmt.State, verb rune) {
	_, _ = io.WriteString(f, s.String())
}

// Format implements fmt.Formatter. It prints the Config as %v (or %+v,
// %#v) would, whatever the verb: with %s, %q or %x fmt prints nested
// *Account values through its bad-verb path, which skips Secret's methods
// and would show the passwords.
func (c Config) Format(f fmt.State, verb rune) {
	type plain Config // same fields, no methods
	if verb == 'v' && f.Flag('#') {
		s := fmt.Sprintf("%#v", plain(c))
		_, _ = io.WriteString(f, strings.Replace(s, "config.plain{", "config.Config{", 1))
		return
	}
	format := "%v"
	if f.Flag('+') {
		format = "%+v"
	}
	fmt.Fprintf(f, format, plain(c))
}
