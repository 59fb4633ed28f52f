package maildir_test

import (
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/mailmirror/mailmirror/maildir"
)

// Open a store, deliver a message durably, list the folder and read the
// message back.
func Example() {
	root, err := os.MkdirTemp("", "maildir-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(root)

	store, err := maildir.Open(root, maildir.LayoutVerbatim)
	if err != nil {
		log.Fatal(err)
	}
	inbox, err := store.Folder(maildir.Inbox) // created when missing
	if err != nil {
		log.Fatal(err)
	}
	w, err := inbox.NewMessage() // a file in tmp/
	if err != nil {
		log.Fatal(err)
	}
	if _, err := io.WriteString(w, "Subject: hello\n\nHi there.\n"); err != nil {
		w.Abort()
		log.Fatal(err)
	}
	// Seen (S) and flagged (F): the message goes to cur/, fsynced first.
	e, err := w.Commit("SF", time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("delivered to", e.Sub, "with flags", e.Flags)

	ents, err := inbox.Scan()
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range ents {
		f, err := inbox.Open(e)
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(f)
		f.Close()
		fmt.Printf("%s/%s %q\n", e.Sub, e.Flags, body)
	}
	// Output:
	// delivered to cur with flags FS
	// cur/FS "Subject: hello\n\nHi there.\n"
}

// Folder names map to directories by layout; a server-supplied name never
// leaves the root (unsafe characters are escaped).
func ExampleStore_FolderPath() {
	for _, layout := range []string{maildir.LayoutVerbatim, maildir.LayoutMaildirPP} {
		store := &maildir.Store{Root: "/mail", Layout: layout}
		for _, name := range []string{"INBOX", "Lists/golang", "../etc"} {
			p, err := store.FolderPath(name)
			if err != nil {
				fmt.Println(layout, name, "error:", err)
				continue
			}
			rel, _ := filepath.Rel(store.Root, p)
			fmt.Printf("%-9s %-12s -> %s\n", layout, name, filepath.ToSlash(rel))
		}
	}
	// Output:
	// verbatim  INBOX        -> INBOX
	// verbatim  Lists/golang -> Lists/golang
	// verbatim  ../etc       -> %2E%2E/etc
	// maildir++ INBOX        -> .
	// maildir++ Lists/golang -> .Lists.golang
	// maildir++ ../etc       -> .%2E%2E.etc
}
