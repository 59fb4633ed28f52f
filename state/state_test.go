package state

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLockAndReadOnly(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := Open(dir); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	f, err := db.EnsureFolder("acct", "INBOX", "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	ro, err := OpenReadOnly(dir)
	if err != nil {
		t.Fatalf("OpenReadOnly while locked: %v", err)
	}
	defer ro.Close()
	got, ok, err := ro.Folder("acct", "INBOX")
	if err != nil || !ok || got.ID != f.ID {
		t.Fatalf("read-only Folder: %+v %v %v", got, ok, err)
	}
	if err := ro.Update(func(*Tx) error { return nil }); err == nil {
		t.Fatal("Update on read-only DB succeeded")
	}
	for _, name := range []string{FileName, lockName} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", name, st.Mode().Perm())
		}
	}
	db.Close()
	db2, err := Open(dir)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	db2.Close()
}

func TestFoldersPairsOps(t *testing.T) {
	db, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	f, _ := db.EnsureFolder("a", "Lists/golang", "Lists.golang")
	f.UIDValidity, f.UIDNext, f.Messages, f.HighestModSeq = 7, 100, 3, 1<<40
	err = db.Update(func(tx *Tx) error {
		if err := tx.UpdateFolder(f); err != nil {
			return err
		}
		for uid := uint32(1); uid <= 3; uid++ {
			if err := tx.PutPair(Pair{FolderID: f.ID, UID: uid, Key: "k" + string(rune('0'+uid)), Flags: "S", Size: 10, MsgID: "m"}); err != nil {
				return err
			}
		}
		return tx.SetPairFlags(f.ID, 2, "FS")
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _, _ := db.Folder("a", "Lists/golang")
	if got != f {
		t.Errorf("folder %+v, want %+v", got, f)
	}
	pairs, _ := db.Pairs(f.ID)
	if len(pairs) != 3 || pairs[1].Flags != "FS" {
		t.Fatalf("pairs %+v", pairs)
	}
	p, pf, ok, err := db.PairByKey("a", "k3")
	if err != nil || !ok || p.UID != 3 || pf.Name != "Lists/golang" {
		t.Fatalf("PairByKey: %+v %+v %v %v", p, pf, ok, err)
	}
	// A failing transaction changes nothing.
	boom := errors.New("boom")
	if err := db.Update(func(tx *Tx) error {
		tx.DeletePair(f.ID, 1)
		return boom
	}); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if n, _ := db.PairCount(f.ID); n != 3 {
		t.Errorf("rolled-back delete took effect: %d pairs", n)
	}
	for i := 0; i < 3; i++ {
		if _, err := db.AddOp(Op{Account: "a", Kind: "append", Folder: "Sent", Data: []byte{byte(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	ops, _ := db.Ops("a")
	if len(ops) != 3 || ops[0].Data[0] != 0 || ops[2].Data[0] != 2 {
		t.Fatalf("ops %+v", ops)
	}
	db.FailOp(ops[0].ID, "server down")
	db.DeleteOp(ops[1].ID)
	ops, _ = db.Ops("a")
	if len(ops) != 2 || ops[0].Attempts != 1 || ops[0].LastError != "server down" {
		t.Fatalf("ops after fail/delete %+v", ops)
	}
	db.Update(func(tx *Tx) error { return tx.DeleteFolder(f.ID) })
	if n, _ := db.PairCount(f.ID); n != 0 {
		t.Errorf("pairs survive folder delete")
	}
}

func TestPOP3UIDLs(t *testing.T) {
	db, _ := Open(t.TempDir())
	defer db.Close()
	now := time.Unix(time.Now().Unix(), 0)
	if err := db.AddPOP3UIDLs("p", []UIDL{{UIDL: "u1", Key: "k1", FirstSeen: now}, {UIDL: "u2", Key: "k2", FirstSeen: now}}); err != nil {
		t.Fatal(err)
	}
	db.MarkPOP3Deleted("p", []string{"u2"})
	m, _ := db.POP3UIDLs("p")
	if len(m) != 2 || !m["u2"].Deleted || m["u1"].Deleted || !m["u1"].FirstSeen.Equal(now) {
		t.Fatalf("%+v", m)
	}
	db.ForgetPOP3UIDLs("p", []string{"u1"})
	m, _ = db.POP3UIDLs("p")
	if len(m) != 1 {
		t.Fatalf("%+v", m)
	}
	if other, _ := db.POP3UIDLs("q"); len(other) != 0 {
		t.Fatalf("other account sees %v", other)
	}
}
