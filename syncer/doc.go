// Package syncer is mailmirror's IMAP two-way sync engine. Sync runs one
// complete pass for an account: it mirrors every folder matching the
// account's patterns between the server and the local Maildir, in both
// directions, following the sync model of DESIGN.md:
//
//   - change detection on the server by one LIST-STATUS (or STATUS per
//     folder), CONDSTORE CHANGEDSINCE for flags, new UIDs from the stored
//     UIDNEXT, and a UID set comparison only when counts disagree;
//   - change detection locally by a scan of new/ and cur/ compared with the
//     flags both sides agreed on last time (the base), skipped when the
//     directories' modification times show nothing happened;
//   - three-way flag merge, deletes, moves (both ways, without
//     re-transfer), new messages (both ways), UIDVALIDITY changes re-paired
//     by Message-ID and size;
//   - write-ahead intents in the state DB for every side effect that cannot
//     be undone, resolved before anything else on the next pass.
//
// The package never logs: it returns errors and reports progress through a
// callback. It never enables QRESYNC (go-imap v2 cannot parse VANISHED).
package syncer
