// Package maildir is mailmirror's local store: Maildir folders on disk, built
// on github.com/emersion/go-maildir for the flag letters and directory set-up,
// and adding what that package lacks: durable delivery (fsync of file and
// directory before a message is published), batched durability for bulk
// downloads, folder layouts (verbatim and Maildir++), and a folder-name
// mapping that can never produce a path outside the store's root.
//
// The package does no logging and no network I/O. A Maildir "key" is the
// unique part of a file name, before the ":2," info part; it never changes
// while a message lives in the store (flag changes and moves keep it).
//
// Files are created 0600 and directories 0700.
package maildir
