package state

import "testing"

func TestNotesAndRenameFolder(t *testing.T) {
	db, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	f, err := db.EnsureFolder("a", "Sent", "Sent")
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *Tx) error {
		if err := tx.PutPair(Pair{FolderID: f.ID, UID: 7, Key: "k7"}); err != nil {
			return err
		}
		if err := tx.RenameFolder(f.ID, "Old/Sent", "Old.Sent"); err != nil {
			return err
		}
		if err := tx.PutNote(Note{Account: "a", Folder: "INBOX", Kind: "guard", Text: "one"}); err != nil {
			return err
		}
		return tx.PutNote(Note{Account: "a", Folder: "INBOX", Kind: "guard", Text: "two"})
	})
	if err != nil {
		t.Fatal(err)
	}
	got, ok, err := db.Folder("a", "Old/Sent")
	if err != nil || !ok || got.ID != f.ID || got.Remote != "Old.Sent" {
		t.Fatalf("renamed folder: %+v %v %v", got, ok, err)
	}
	if n, _ := db.PairCount(f.ID); n != 1 {
		t.Errorf("pairs after rename: %d, want 1", n)
	}
	notes, err := db.Notes("a")
	if err != nil || len(notes) != 1 || notes[0].Text != "two" || notes[0].Since.IsZero() {
		t.Fatalf("notes: %+v %v", notes, err)
	}
	if err := db.Update(func(tx *Tx) error { return tx.DeleteNote("a", "INBOX", "guard") }); err != nil {
		t.Fatal(err)
	}
	if notes, _ := db.Notes("a"); len(notes) != 0 {
		t.Errorf("notes after delete: %+v", notes)
	}
}
