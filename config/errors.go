package config

import (
	"fmt"
	"strings"
)

// Error is one problem found in a config file. Its message has the form
//
//	config.toml:12: account "work": poll_interval: must be positive, got "-5s"
//
// where the line, the account and the key are left out when they do not
// apply.
type Error struct {
	File    string // base name of the config file
	Line    int    // 1-based line, 0 when unknown
	Account string // account name, "#N" for an account without a usable name, "" for top-level keys
	Key     string // the key the problem is about, "" for problems not tied to one key
	Msg     string // what is wrong, including the bad value where there is one
}

// Error implements the error interface.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Account != "" {
		if strings.HasPrefix(e.Account, "#") {
			fmt.Fprintf(&b, "account %s: ", e.Account)
		} else {
			fmt.Fprintf(&b, "account %q: ", e.Account)
		}
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList holds every problem found in a config file, in line order. Its
// Error method puts one problem per line. Load and Parse return an ErrorList
// when the file was read but is not valid.
type ErrorList []*Error

// Error implements the error interface: one problem per line.
func (l ErrorList) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Unwrap gives the individual problems to errors.Is and errors.As.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}
