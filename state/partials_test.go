package state

import (
	"reflect"
	"testing"
)

func TestPlaceholderPairsAndPartials(t *testing.T) {
	db, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	f, err := db.EnsureFolder("a", "INBOX", "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	p := Pair{FolderID: f.ID, UID: 7, Key: "k7", Flags: "S", Size: 12 << 20, MsgID: "m1", Placeholder: true}
	if err := db.Update(func(tx *Tx) error { return tx.PutPair(p) }); err != nil {
		t.Fatal(err)
	}
	got, err := db.Pairs(f.ID)
	if err != nil || len(got) != 1 || !reflect.DeepEqual(got[0], p) {
		t.Fatalf("Pairs = %+v, %v; want %+v", got, err, p)
	}
	byKey, _, ok, err := db.PairByKey("a", "k7")
	if err != nil || !ok || !byKey.Placeholder {
		t.Fatalf("PairByKey = %+v %v %v", byKey, ok, err)
	}
	part := Partial{FolderID: f.ID, UID: 9, UIDValidity: 3, File: "tmpkey", Offset: 3 << 20, LocalSize: 3<<20 - 100, Size: 5 << 20}
	if err := db.PutPartial(part); err != nil {
		t.Fatal(err)
	}
	parts, err := db.Partials(f.ID)
	if err != nil || len(parts) != 1 || parts[0] != part {
		t.Fatalf("Partials = %+v, %v", parts, err)
	}
	if err := db.DeletePartial(f.ID, 9); err != nil {
		t.Fatal(err)
	}
	if parts, _ := db.Partials(f.ID); len(parts) != 0 {
		t.Fatalf("Partials after delete = %+v", parts)
	}
}
