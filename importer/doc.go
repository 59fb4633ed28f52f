// Package importer translates the configuration of other mail
// synchronizers, mbsync (isync) and OfflineIMAP, into a mailmirror TOML
// config.
//
// The translation is conservative: what maps onto a mailmirror key is
// translated; every other line of the source is kept in the output as a
// "# not translated: <original line>  # <reason>" comment, never silently
// dropped. Caveats about lines that were translated are "# note:" comments.
// The functions do no I/O.
package importer
