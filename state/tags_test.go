package state

import (
	"slices"
	"testing"
)

// TestTagBases: bases round-trip, go away with their pair (not with a
// pair rewritten in place), and folder modseqs and revisions are kept.
func TestTagBases(t *testing.T) {
	db, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	f, _ := db.EnsureFolder("a", "INBOX", "INBOX")
	err = db.Update(func(tx *Tx) error {
		for uid := uint32(1); uid <= 3; uid++ {
			if err := tx.PutPair(Pair{FolderID: f.ID, UID: uid, Key: "k" + string(rune('0'+uid))}); err != nil {
				return err
			}
			b := TagBase{FolderID: f.ID, UID: uid, Merged: uid != 3, Tags: []string{"work", "a b"}, NotmuchID: "m@x"}
			if uid == 3 {
				b.Tags, b.Remote = nil, []string{"todo"}
			}
			if err := tx.PutTagBase(b); err != nil {
				return err
			}
		}
		if err := tx.SetTagFolder(f.ID, 7, 42); err != nil {
			return err
		}
		return tx.SetTagRevision("a", TagRevision{UUID: "uuid-1", Revision: 99, Stamp: "s"})
	})
	if err != nil {
		t.Fatal(err)
	}
	bs, err := db.TagBases(f.ID, []uint32{1, 2, 3, 4})
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 3 || !bs[1].Merged || !slices.Equal(bs[1].Tags, []string{"work", "a b"}) || bs[1].NotmuchID != "m@x" ||
		bs[3].Merged || len(bs[3].Tags) != 0 || !slices.Equal(bs[3].Remote, []string{"todo"}) {
		t.Fatalf("bases %+v", bs)
	}
	err = db.Update(func(tx *Tx) error {
		if err := tx.DeletePair(f.ID, 1); err != nil {
			return err
		}
		return tx.PutPair(Pair{FolderID: f.ID, UID: 2, Key: "k2", Flags: "S"}) // rewritten, not gone
	})
	if err != nil {
		t.Fatal(err)
	}
	bs, _ = db.TagBases(f.ID, []uint32{1, 2, 3})
	if _, ok := bs[1]; ok || len(bs) != 2 {
		t.Errorf("after deleting pair 1: bases %+v", bs)
	}
	if uv, ms, _ := db.TagFolder(f.ID); uv != 7 || ms != 42 {
		t.Errorf("TagFolder = %d, %d", uv, ms)
	}
	if r, _ := db.TagRevision("a"); r != (TagRevision{UUID: "uuid-1", Revision: 99, Stamp: "s"}) {
		t.Errorf("TagRevision = %+v", r)
	}
	if r, err := db.TagRevision("b"); r != (TagRevision{}) || err != nil {
		t.Errorf("TagRevision of an unknown account = %+v, %v", r, err)
	}
}
