// Package pop3pull is the POP3 client and poller of mailmirror.
//
// The client (Client, Dial, DialAccount) is written on the standard
// library (net, crypto/tls, bufio) and go-sasl: it speaks implicit TLS, STLS or plain TCP, CAPA, USER/PASS and AUTH PLAIN,
// STAT, LIST, UIDL, TOP, RETR, DELE and QUIT, and pipelines RETR, TOP and
// DELE (RFC 2449 PIPELINING) when the server advertises it. Every read and
// write on the connection has a deadline. Message bodies are streamed: RETR
// never holds a whole message in memory.
//
// Message bodies are dot-unstuffed the way net/textproto's DotReader does
// it, every CRLF turned into LF, but by a line-at-a-time reader of this
// package (textproto's keeps the dot-stuffing of a line that follows an
// empty line ending in a bare LF, and reads one byte at a time). Maildir
// files therefore hold LF line endings (the Maildir convention, and what
// mutt, notmuch and Dovecot expect); bare LF, bare CR, NUL bytes and lines
// of any length are kept as they came.
//
// The poller (Poll, SyncAccount) delivers the messages this device has not
// stored yet into the account's Maildir folder, durably, before the state DB
// records their UIDLs, and only then sends any DELE chosen by the account's
// policies (leave_on_server, delete_after, delete_when_deleted_locally). A
// crash at any point loses nothing and stores nothing twice: see poll.go.
//
// The package never logs; it returns wrapped errors. ErrInUse and
// ErrLoginDelay mark a server that asks the caller to come back later;
// Temporary tells transient failures from permanent ones.
package pop3pull
