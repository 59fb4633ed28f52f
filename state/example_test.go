package state_test

import (
	"fmt"
	"log"
	"os"

	"github.com/mailmirror/mailmirror/state"
)

// Open the state, record a folder and a pair (server UID ↔ Maildir key,
// with the flags both sides agreed on) in one transaction, and read them
// back.
func Example() {
	dir, err := os.MkdirTemp("", "state-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	db, err := state.Open(dir) // creates state.db, takes the lock, migrates
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	f, err := db.EnsureFolder("work", "INBOX", "INBOX")
	if err != nil {
		log.Fatal(err)
	}
	err = db.Update(func(tx *state.Tx) error {
		if err := tx.PutPair(state.Pair{FolderID: f.ID, UID: 7, Key: "1733043600.M1P2.host", Flags: "S", Size: 1234}); err != nil {
			return err
		}
		f.UIDValidity, f.UIDNext, f.Messages = 42, 8, 1
		return tx.UpdateFolder(f)
	})
	if err != nil {
		log.Fatal(err)
	}

	p, pf, ok, err := db.PairByKey("work", "1733043600.M1P2.host")
	if err != nil || !ok {
		log.Fatal("no pair: ", err)
	}
	fmt.Printf("folder %s (UIDVALIDITY %d): UID %d ↔ %s, flags %q, %d bytes\n", pf.Name, pf.UIDValidity, p.UID, p.Key, p.Flags, p.Size)
	n, _ := db.OpCount("work")
	fmt.Println("pending intents:", n)
	// Output:
	// folder INBOX (UIDVALIDITY 42): UID 7 ↔ 1733043600.M1P2.host, flags "S", 1234 bytes
	// pending intents: 0
}

// Write-ahead intents are ops: recorded before the side effect, removed in
// the transaction that records its result.
func ExampleDB_AddOp() {
	dir, err := os.MkdirTemp("", "state-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := state.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	id, err := db.AddOp(state.Op{Account: "work", Kind: "imap-append", Folder: "Sent", Data: []byte(`{"key":"k1"}`)})
	if err != nil {
		log.Fatal(err)
	}
	// A local change seen while offline is information, not an intent.
	if err := db.MarkLocalChange("work", "Drafts"); err != nil {
		log.Fatal(err)
	}
	n, _ := db.OpCount("work")
	changes, _ := db.LocalChanges("work")
	fmt.Println("intents:", n, "folders changed offline:", len(changes))

	// ... the APPEND is sent; its result and the intent's removal are one
	// transaction.
	if err := db.Update(func(tx *state.Tx) error { return tx.DeleteOp(id) }); err != nil {
		log.Fatal(err)
	}
	n, _ = db.OpCount("work")
	fmt.Println("intents:", n)
	// Output:
	// intents: 1 folders changed offline: 1
	// intents: 0
}
