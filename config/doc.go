// Package config reads mailmirror's TOML configuration file.
//
// Load and Parse decode the file, fill in defaults and then validate the
// result in a separate pass. Every problem is reported, not just the first,
// and each message names the file, the line, the account, the key and the
// bad value, for example:
//
//	config.toml:12: account "work": poll_interval: must be positive, got "-5s"
//
// The accepted keys, their defaults and their meaning are listed once, in
// KeyDocs; docs/config-reference.md is checked against that table by a test.
//
// The package does no logging. Passwords are held in a Secret, which never
// prints its value.
package config
