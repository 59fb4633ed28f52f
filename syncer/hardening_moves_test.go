package syncer

import (
	"testing"
)

// Found by the crash chaos test (internal/cli, seed 2): a message moved
// locally to one folder while it was moved on the server to another (by
// another device, or by this device's own UID MOVE whose result a crash
// kept from the state, followed by another client's move) ends up twice
// on both sides: the local file is uploaded into its folder and the
// server's copy downloaded into the other, because identity matching
// pairs an unknown file and an unpaired message only within one folder.
// Fix, in syncer/match.go matchAcross: pair an unknown local file with an
// unpaired server message of the same identity and size in another folder
// as a move (one side's destination wins, the other side follows), before
// uploading or downloading either.
func TestConflict_MovedToDifferentFoldersOnBothSides_NotDuplicated(t *testing.T) {
	f := newFixture(t)
	f.u.CreateFolder(t, "Archive")
	f.u.CreateFolder(t, "Lists/golang")
	raw := f.msg("moved twice")
	uid := f.u.Append(t, "INBOX", raw)
	f.u.Append(t, "INBOX", f.msg("stays"))
	f.sync()
	f.renameLocal("INBOX", "Archive", msgID(raw))
	f.u.Move(t, "INBOX", uid, "Lists/golang")
	f.sync()
	f.sync()
	f.compare()
	n := 0
	for _, msgs := range f.localAll() {
		for _, m := range msgs {
			if m.MessageID == msgID(raw) {
				n++
			}
		}
	}
	if n != 1 {
		t.Errorf("the message is %d times in the Maildir, want once", n)
	}
	f.noDuplicates()
}

// The crash case itself: this device's UID MOVE reached the server, the
// pass was killed before it recorded the new pair, and another client
// moved the message on before the next pass.
func TestCrashAfterMoveThenAnotherClientMoves_NotDuplicated(t *testing.T) {
	f := newFixture(t)
	f.u.CreateFolder(t, "Archive")
	f.u.CreateFolder(t, "Lists/golang")
	raw := f.msg("moved by us, then by them")
	uid := f.u.Append(t, "INBOX", raw)
	f.sync()
	// Our move: the file renamed, and the server MOVE done, but the
	// state not told (as if killed right after the MOVE answer).
	f.renameLocal("INBOX", "Archive", msgID(raw))
	newUID := f.u.Move(t, "INBOX", uid, "Archive")
	// Another client moves it on.
	f.u.Move(t, "Archive", newUID, "Lists/golang")
	f.sync()
	f.sync()
	f.compare()
	n := 0
	for _, msgs := range f.localAll() {
		for _, m := range msgs {
			if m.MessageID == msgID(raw) {
				n++
			}
		}
	}
	if n != 1 {
		t.Errorf("the message is %d times in the Maildir, want once", n)
	}
	f.noDuplicates()
}
