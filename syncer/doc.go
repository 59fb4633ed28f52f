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
// The transport (dial, TLS, login, capabilities, deadlines, the pool) is
// package imapconn; this package is the engine alone. Beside the full
// pass, PullNew and PushLocal are the daemon's targeted passes (one push
// from IDLE, one batch of watcher events); they hand anything they cannot
// decide from their partial view to a full pass (ErrFullPass) before
// changing anything.
//
// One matcher (match.go) decides identity for every pass: which local
// file is which server message, a move, a copy, or new. A job's scope
// (full pass, targeted pass, PushLocal) says what it knows, so code that
// needs every pair of a folder asks the scope instead of assuming it. Apply
// commits each step at once: its side effect, then (after the fsync of
// new/ and cur/ where files moved) its own transaction; the folder's
// counters are recorded last.
//
// # Invariants
//
// Every change to this package keeps these, and the tests named after
// them prove each (DESIGN.md has the full text):
//
//  1. No loss: a message is deleted on one side only to mirror a delete
//     the user made on the other, and never when the evidence is partial
//     (a targeted pass, a folder past the mass-delete guard, a server that
//     described fewer messages than it counts).
//  2. No duplicates: a crash at any instant never makes a second file of
//     one server message nor a second APPEND of one file. Downloads are
//     written to tmp/, fsynced, renamed into place, and only then paired.
//  3. Durable before acknowledged: a file and its directory are synced
//     before the state records its pair.
//  4. Write-ahead intent: before APPEND, MOVE, EXPUNGE, a folder rename or
//     delete, its intent is in the ops table; the next pass settles every
//     pending intent (completed or rolled back, never blindly repeated)
//     before it looks at anything else.
//  5. Confined to the Maildir root: server names become local paths only
//     through the name mapping (names.go), which escapes or rejects
//     anything that could leave the root.
//  6. Secrets stay secret: nothing here logs; errors never carry a
//     password or token.
//
// # The stale-counter rule
//
// The counters a folder row keeps (UIDNEXT, MESSAGES, HIGHESTMODSEQ and
// the local stamp, the modification times of new/ and cur/) are the
// values read when the pass looked, before it acted, never the values
// after its own changes. An APPEND, STORE or MOVE of this pass raises the
// server's counters above the recorded ones, and a rename into cur/ moves
// the local stamp, so the next pass sees a difference and looks once more
// (finding nothing but its own work). That costs one cheap look; recording
// the later values instead would hide any change another client made
// between the look and the write. Where a pass could not finish a folder
// (a message the server did not deliver, a count that does not add up)
// it records MESSAGES as 0, which no server reports for a folder with
// mail, so that the next pass reads the folder again. The counters are
// therefore a lower bound of what the state knows, and "unchanged" is
// decided only by exact equality with what the server says now. A folder
// whose files another folder's job still has to pair (the destination of
// a local move) records no local stamp at all: its counters may be
// committed before that move is.
//
// The package never logs: it returns errors and reports progress through a
// callback. It never enables QRESYNC (go-imap v2 cannot parse VANISHED).
package syncer
