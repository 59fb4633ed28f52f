package state

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// oldDB writes a state database at schema version v (the first v
// migrations), lets fill add rows to it, and returns its directory.
func oldDB(t *testing.T, v int, fill func(exec func(q string, args ...any))) string {
	t.Helper()
	dir := t.TempDir()
	db, err := openSQL(filepath.Join(dir, FileName), false)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for _, m := range migrations[:v] {
		exec(m)
	}
	exec(fmt.Sprintf(`PRAGMA user_version = %d`, v))
	fill(exec)
	return dir
}

// TestMigrateLocalChangeOpsOutOfTheIntents: a database of schema 8 holds
// the daemon's informational local-change records among the write-ahead
// intents. After the upgrade they are local changes, the real intents are
// untouched, and OpCount counts only those.
func TestMigrateLocalChangeOpsOutOfTheIntents(t *testing.T) {
	if len(migrations) < localChangesSchema || migrations[localChangesSchema-1] != migrateLocalChanges {
		t.Fatalf("migration %d is not migrateLocalChanges: set localChangesSchema to its place in the list", localChangesSchema)
	}
	t1 := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	dir := oldDB(t, localChangesSchema-1, func(exec func(string, ...any)) {
		add := func(acct, kind, folder string, created time.Time) {
			exec(`INSERT INTO ops (account, kind, folder, data, created) VALUES (?, ?, ?, ?, ?)`,
				acct, kind, folder, []byte("{}"), created.UnixNano())
		}
		add("a", "local-change", "INBOX", t1)
		add("a", "imap-append", "Sent", t1)
		add("a", "local-change", "Sent", t1.Add(time.Minute))
		add("a", "local-change", "INBOX", t1.Add(2*time.Minute)) // a second record of the same folder
		add("b", "local-change", "INBOX", t1)
	})
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if n, err := db.OpCount("a"); err != nil || n != 1 {
		t.Fatalf(`OpCount("a") = %d, %v; want 1 (the append intent only)`, n, err)
	}
	if n, err := db.OpCount("b"); err != nil || n != 0 {
		t.Fatalf(`OpCount("b") = %d, %v; want 0`, n, err)
	}
	ops, err := db.Ops("a")
	if err != nil || len(ops) != 1 || ops[0].Kind != "imap-append" || ops[0].Folder != "Sent" || string(ops[0].Data) != "{}" {
		t.Fatalf(`Ops("a") after the upgrade: %+v, %v`, ops, err)
	}
	rows, err := db.sql.Query(`SELECT account, folder, since FROM local_changes ORDER BY account, folder`)
	if err != nil {
		t.Fatalf("local_changes after the upgrade: %v", err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var acct, folder string
		var since int64
		if err := rows.Scan(&acct, &folder, &since); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s/%s@%s", acct, folder, time.Unix(0, since).UTC().Format(time.TimeOnly)))
	}
	want := fmt.Sprint([]string{"a/INBOX@08:00:00", "a/Sent@08:01:00", "b/INBOX@08:00:00"})
	if fmt.Sprint(got) != want {
		t.Fatalf("local changes after the upgrade: %v, want %v", got, want)
	}
}

// TestLocalChanges: marks are per account and folder, keep their first
// time, are cleared by folder, and are never ops.
func TestLocalChanges(t *testing.T) {
	db, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, m := range []struct{ acct, folder string }{{"a", "INBOX"}, {"a", "Sent"}, {"b", "INBOX"}} {
		if err := db.MarkLocalChange(m.acct, m.folder); err != nil {
			t.Fatal(err)
		}
	}
	first, err := db.LocalChanges("a")
	if err != nil || len(first) != 2 || first["INBOX"].IsZero() || first["Sent"].IsZero() {
		t.Fatalf(`LocalChanges("a") = %v, %v`, first, err)
	}
	if err := db.MarkLocalChange("a", "INBOX"); err != nil {
		t.Fatal(err)
	}
	again, _ := db.LocalChanges("a")
	if !again["INBOX"].Equal(first["INBOX"]) {
		t.Fatalf("a second mark moved the time: %v, was %v", again["INBOX"], first["INBOX"])
	}
	if n, err := db.OpCount("a"); err != nil || n != 0 {
		t.Fatalf(`OpCount("a") = %d, %v; want 0`, n, err)
	}
	if n, err := db.LocalChangeCount("a"); err != nil || n != 2 {
		t.Fatalf(`LocalChangeCount("a") = %d, %v; want 2`, n, err)
	}
	if err := db.ClearLocalChanges("a", "INBOX", "Drafts"); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.LocalChanges("a"); len(got) != 1 || got["Sent"].IsZero() {
		t.Fatalf(`LocalChanges("a") after clearing INBOX: %v`, got)
	}
	if got, _ := db.LocalChanges("b"); len(got) != 1 || got["INBOX"].IsZero() {
		t.Fatalf(`LocalChanges("b") after clearing a's INBOX: %v`, got)
	}
}

// TestLocalChangesOfAnOlderSchemaReadOnly: `status` opens the state
// read-only, without migrating, while an older daemon may run: a schema
// without local_changes has none (its records are still ops), not an
// error.
func TestLocalChangesOfAnOlderSchemaReadOnly(t *testing.T) {
	dir := oldDB(t, localChangesSchema-1, func(exec func(string, ...any)) {
		exec(`INSERT INTO ops (account, kind, folder, created) VALUES ('a', 'local-change', 'INBOX', 1)`)
	})
	db, err := OpenReadOnly(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if n, err := db.LocalChangeCount("a"); err != nil || n != 0 {
		t.Fatalf("LocalChangeCount = %d, %v; want 0, nil", n, err)
	}
	if got, err := db.LocalChanges("a"); err != nil || len(got) != 0 {
		t.Fatalf("LocalChanges = %v, %v; want none", got, err)
	}
	if n, err := db.OpCount("a"); err != nil || n != 1 {
		t.Fatalf("OpCount = %d, %v; want 1 (the old record)", n, err)
	}
}
