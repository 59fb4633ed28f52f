// Package state keeps mailmirror's sync state in one SQLite database
// (modernc.org/sqlite, pure Go, WAL mode) in the state directory: IMAP
// folders and their server counters, message pairs (UID ↔ Maildir key) with
// the flags both sides last agreed on, pending operations (the write-ahead
// intents of side effects that cannot be undone), the UIDLs a POP3
// account has stored, the server quota an IMAP pass last read and the
// folder notes status shows (a refused mass delete, a folder deleted on
// one side only).
//
// One process at a time may open the state for writing: Open takes an
// exclusive lock on a file beside the database and fails with ErrLocked
// while another holds it. OpenReadOnly works at any time.
//
// The package never logs and never stores secrets.
package state

import (
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

// ErrLocked is returned by Open when another process holds the state.
var ErrLocked = errors.New("the state directory is in use by another mailmirror process")

// ErrCorrupt means the state database is damaged (truncated, overwritten):
// SQLite says "database disk image is malformed" or "file is not a
// database". The error says what to do: move it aside.
var ErrCorrupt = errors.New("the state database is damaged")

// ErrNotWritable means the state directory or database cannot be written.
var ErrNotWritable = errors.New("not writable")

// FileName is the database's file name inside the state directory.
const FileName = "state.db"

const lockName = "state.lock"

// DB is an open state database.
type DB struct {
	sql      *sql.DB
	lock     *os.File
	path     string
	readOnly bool
	// Group commit (see Update): the updates waiting for a commit, and
	// the right to commit them.
	queueMu  sync.Mutex
	queue    []*update
	commitMu sync.Mutex
}

// Open opens (creating when needed, 0700 directory, 0600 file) the state
// database in dir for reading and writing, migrating its schema. It fails
// with an error wrapping ErrLocked while another process has it open.
//
// Errors say what to do: a directory that cannot be written is named
// (ErrNotWritable), a read-only state.db too; a -wal or -shm file left
// read-only (SQLite copies the database's mode into them) is made
// writable again; a damaged database (ErrCorrupt) is to be moved aside.
func Open(dir string) (*DB, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	if err := checkWritableDir(dir); err != nil {
		return nil, err
	}
	lock, err := lockFile(filepath.Join(dir, lockName))
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, FileName)
	if err := checkFiles(path); err != nil {
		unlockFile(lock)
		return nil, err
	}
	// Create the file ourselves so that SQLite (and its -wal and -shm files,
	// which copy the database's mode) never make it readable by others.
	if f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600); err == nil {
		f.Close()
	}
	db, err := openSQL(path, false)
	if err != nil {
		unlockFile(lock)
		return nil, corrupt(path, err)
	}
	d := &DB{sql: db, lock: lock, path: path}
	if err := d.migrate(); err != nil {
		d.Close()
		return nil, corrupt(path, err)
	}
	return d, nil
}

// checkWritableDir fails with ErrNotWritable, naming the directory, when
// no file can be created in dir (SQLite creates its -wal and -shm files
// there, and would blame state.db).
func checkWritableDir(dir string) error {
	f, err := os.CreateTemp(dir, ".write-test-*")
	if err != nil {
		if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) {
			return fmt.Errorf("state: the state directory %s is %w (%v): mailmirror keeps state.db and its journal there; "+
				"make it writable by this user (chmod u+w %s) or set state_dir to another directory", dir, ErrNotWritable, err, dir)
		}
		return fmt.Errorf("state: %w", err)
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// checkFiles refuses a read-only state.db with what to do, and makes its
// -wal and -shm files writable again when an earlier run left them
// read-only (SQLite gives them the database's mode: a state.db that was
// read-only once leaves a 0444 -shm that breaks every later open).
func checkFiles(path string) error {
	if st, err := os.Stat(path); err == nil && st.Mode().Perm()&0o200 == 0 {
		return fmt.Errorf("state: %s is read-only (mode %v), %w: make it writable again (chmod u+w %s)",
			path, st.Mode().Perm(), ErrNotWritable, path)
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		p := path + suffix
		st, err := os.Stat(p)
		if err != nil || st.Mode().Perm()&0o200 != 0 {
			continue
		}
		if err := os.Chmod(p, st.Mode().Perm()|0o600); err != nil {
			return fmt.Errorf("state: %s is read-only (mode %v) and could not be made writable (%v): "+
				"make it writable (chmod u+w %s), or have its owner do it", p, st.Mode().Perm(), err, p)
		}
	}
	return nil
}

// corrupt turns SQLite's word for a damaged database into what to do.
func corrupt(path string, err error) error {
	msg := err.Error()
	if !strings.Contains(msg, "database disk image is malformed") && !strings.Contains(msg, "file is not a database") {
		return err
	}
	return fmt.Errorf("state: %s: %w (%v): %s", path, ErrCorrupt, err, CorruptAdvice(path))
}

// CorruptAdvice says what to do with a damaged state database at path.
func CorruptAdvice(path string) string {
	return fmt.Sprintf("move it aside (mv %s %s.damaged) and sync again: IMAP accounts pair the messages already "+
		"in the Maildir again without downloading them; POP3 accounts download the messages still on the server again", path, path)
}

// OpenReadOnly opens the state database in dir for reading only; it works
// while a daemon has it open for writing.
func OpenReadOnly(dir string) (*DB, error) {
	path := filepath.Join(dir, FileName)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	db, err := openSQL(path, true)
	if err != nil {
		return nil, corrupt(path, err)
	}
	return &DB{sql: db, path: path, readOnly: true}, nil
}

func openSQL(path string, readOnly bool) (*sql.DB, error) {
	dsn := "file:" + filepath.ToSlash(path) +
		"?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)"
	if readOnly {
		dsn += "&_pragma=query_only(1)"
	} else {
		// FULL: a committed record survives power loss, which the
		// no-duplicate invariant relies on.
		dsn += "&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)"
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("state: open %s: %w", path, err)
	}
	if !readOnly {
		// SQLite has one writer; one connection makes Go queue the
		// goroutines instead of SQLite returning SQLITE_BUSY.
		db.SetMaxOpenConns(1)
	}
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("state: open %s: %w", path, err)
	}
	return db, nil
}

// Path is the database file.
func (d *DB) Path() string { return d.path }

// Close closes the database and releases the lock.
func (d *DB) Close() error {
	err := d.sql.Close()
	if d.lock != nil {
		unlockFile(d.lock)
		d.lock = nil
	}
	return err
}

var migrations = []string{
	// 1: initial schema.
	`CREATE TABLE folders (
		id INTEGER PRIMARY KEY,
		account TEXT NOT NULL,
		name TEXT NOT NULL,
		remote TEXT NOT NULL DEFAULT '',
		uidvalidity INTEGER NOT NULL DEFAULT 0,
		uidnext INTEGER NOT NULL DEFAULT 0,
		messages INTEGER NOT NULL DEFAULT 0,
		highestmodseq INTEGER NOT NULL DEFAULT 0,
		UNIQUE (account, name)
	);
	CREATE TABLE pairs (
		folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
		uid INTEGER NOT NULL,
		key TEXT NOT NULL,
		flags TEXT NOT NULL DEFAULT '',
		size INTEGER NOT NULL DEFAULT 0,
		msgid TEXT NOT NULL DEFAULT '',
		PRIMARY KEY (folder_id, uid)
	);
	CREATE INDEX pairs_key ON pairs(key);
	CREATE TABLE ops (
		id INTEGER PRIMARY KEY AUTOINCREMENT,
		account TEXT NOT NULL,
		kind TEXT NOT NULL,
		folder TEXT NOT NULL DEFAULT '',
		data BLOB,
		attempts INTEGER NOT NULL DEFAULT 0,
		last_error TEXT NOT NULL DEFAULT '',
		created INTEGER NOT NULL
	);
	CREATE INDEX ops_account ON ops(account, id);
	CREATE TABLE pop3_uidls (
		account TEXT NOT NULL,
		uidl TEXT NOT NULL,
		key TEXT NOT NULL,
		first_seen INTEGER NOT NULL,
		deleted INTEGER NOT NULL DEFAULT 0,
		PRIMARY KEY (account, uidl)
	);`,
	// 2: local change stamp per folder (modification times of new/ and cur/).
	`ALTER TABLE folders ADD COLUMN local_stamp TEXT NOT NULL DEFAULT '';`,
	// 3: the server's quota usage as the last pass read it.
	`CREATE TABLE quota (
		account TEXT NOT NULL,
		root TEXT NOT NULL,
		resource TEXT NOT NULL,
		usage INTEGER NOT NULL,
		quota_limit INTEGER NOT NULL,
		updated INTEGER NOT NULL,
		PRIMARY KEY (account, root, resource)
	);`,
	// 4: placeholders of messages above max_size, and partial downloads
	// of large messages to resume.
	`ALTER TABLE pairs ADD COLUMN placeholder INTEGER NOT NULL DEFAULT 0;
	CREATE TABLE partials (
		folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
		uid INTEGER NOT NULL,
		uidvalidity INTEGER NOT NULL,
		file TEXT NOT NULL,
		offset INTEGER NOT NULL,
		local_size INTEGER NOT NULL,
		size INTEGER NOT NULL,
		PRIMARY KEY (folder_id, uid)
	);`,
	// 5: POP3: a hash of each stored message's header (to tell apart
	// messages that share a UIDL), the messages whose download keeps
	// failing, and the problems the last poll reported.
	`ALTER TABLE pop3_uidls ADD COLUMN header_hash TEXT NOT NULL DEFAULT '';
	CREATE TABLE pop3_failures (
		account TEXT NOT NULL,
		uidl TEXT NOT NULL,
		failures INTEGER NOT NULL,
		last_error TEXT NOT NULL,
		last_failed INTEGER NOT NULL,
		next_try INTEGER NOT NULL,
		PRIMARY KEY (account, uidl)
	);
	CREATE TABLE pop3_problems (
		account TEXT NOT NULL,
		seq INTEGER NOT NULL,
		text TEXT NOT NULL,
		updated INTEGER NOT NULL,
		PRIMARY KEY (account, seq)
	);`,
	// 6: conditions of a folder a pass reported once and status shows
	// until they clear (a refused mass delete, a folder deleted on one
	// side that still holds mail on the other, a rename conflict).
	`CREATE TABLE folder_notes (
		account TEXT NOT NULL,
		folder TEXT NOT NULL,
		kind TEXT NOT NULL,
		text TEXT NOT NULL,
		since INTEGER NOT NULL,
		PRIMARY KEY (account, folder, kind)
	);`,
	// 7: notmuch tags (see tags.go): the tags both sides agreed on per
	// message, the keyword modseq per folder, the notmuch revision per
	// account. A pair's tag base goes with the pair.
	`CREATE TABLE tag_bases (
		folder_id INTEGER NOT NULL REFERENCES folders(id) ON DELETE CASCADE,
		uid INTEGER NOT NULL,
		merged INTEGER NOT NULL DEFAULT 0,
		tags TEXT NOT NULL DEFAULT '[]',
		remote TEXT NOT NULL DEFAULT '[]',
		nmid TEXT NOT NULL DEFAULT '',
		PRIMARY KEY (folder_id, uid)
	);
	CREATE TRIGGER pairs_tag_base_gone AFTER DELETE ON pairs BEGIN
		DELETE FROM tag_bases WHERE folder_id = old.folder_id AND uid = old.uid;
	END;
	CREATE TABLE tag_folders (
		folder_id INTEGER PRIMARY KEY REFERENCES folders(id) ON DELETE CASCADE,
		uidvalidity INTEGER NOT NULL,
		modseq INTEGER NOT NULL
	);
	CREATE TABLE tag_revisions (
		account TEXT PRIMARY KEY,
		uuid TEXT NOT NULL,
		revision INTEGER NOT NULL,
		stamp TEXT NOT NULL DEFAULT ''
	);`,
	// 8: server messages max_age leaves out, per folder.
	`ALTER TABLE folders ADD COLUMN old_messages INTEGER NOT NULL DEFAULT 0;`,
	// 9 (localChangesSchema): the daemon's informational local-change
	// records leave the ops (write-ahead intents) for a table of their own
	// (localchanges.go).
	migrateLocalChanges,
	// 10: Gmail labels as tags (see gmail.go): each label folder's
	// counters as last read, and its members (UID in the label folder ↔
	// UID of the same message in All Mail).
	`CREATE TABLE gmail_labels (
		account TEXT NOT NULL,
		name TEXT NOT NULL,
		uidvalidity INTEGER NOT NULL,
		uidnext INTEGER NOT NULL,
		messages INTEGER NOT NULL,
		modseq INTEGER NOT NULL,
		allmail_uv INTEGER NOT NULL,
		allmail_next INTEGER NOT NULL,
		unresolved INTEGER NOT NULL,
		PRIMARY KEY (account, name)
	);
	CREATE TABLE gmail_members (
		account TEXT NOT NULL,
		label TEXT NOT NULL,
		uid INTEGER NOT NULL,
		allmail_uid INTEGER NOT NULL,
		PRIMARY KEY (account, label, uid)
	);
	CREATE INDEX gmail_members_allmail ON gmail_members (account, allmail_uid);`,
}

// SchemaVersion is the schema version this build writes.
var SchemaVersion = len(migrations)

func (d *DB) migrate() error {
	var v int
	if err := d.sql.QueryRow(`PRAGMA user_version`).Scan(&v); err != nil {
		return fmt.Errorf("state: read schema version: %w", err)
	}
	if v > len(migrations) {
		return fmt.Errorf("state: %s has schema version %d, newer than this mailmirror (%d): upgrade mailmirror", d.path, v, len(migrations))
	}
	for i := v; i < len(migrations); i++ {
		tx, err := d.sql.Begin()
		if err != nil {
			return fmt.Errorf("state: migrate: %w", err)
		}
		if _, err := tx.Exec(migrations[i]); err != nil {
			tx.Rollback()
			return fmt.Errorf("state: migrate to %d: %w", i+1, err)
		}
		if _, err := tx.Exec(fmt.Sprintf(`PRAGMA user_version = %d`, i+1)); err != nil {
			tx.Rollback()
			return fmt.Errorf("state: migrate to %d: %w", i+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("state: migrate to %d: %w", i+1, err)
		}
	}
	return nil
}

// Tx is a write transaction; see DB.Update.
type Tx struct {
	tx *sql.Tx
}

// Update runs fn in one transaction, committed when fn returns nil and
// rolled back otherwise; it returns once the commit is durable.
//
// Updates from several goroutines at once share commits (group commit):
// whoever commits next takes every update waiting by then, runs each in a
// savepoint of its own (a failing one is rolled back alone) and commits
// them in one transaction, one fsync instead of one each. The folders of a
// pass finish together; each commit costs a sync of the file system.
func (d *DB) Update(fn func(tx *Tx) error) error {
	if d.readOnly {
		return errors.New("state: database is open read-only")
	}
	u := &update{fn: fn, done: make(chan error, 1)}
	d.queueMu.Lock()
	d.queue = append(d.queue, u)
	d.queueMu.Unlock()
	d.commitMu.Lock()
	d.queueMu.Lock()
	batch := d.queue
	d.queue = nil
	d.queueMu.Unlock()
	if len(batch) > 0 { // else an earlier committer took u
		d.commit(batch)
	}
	d.commitMu.Unlock()
	return <-u.done
}

// update is one Update waiting for its commit.
type update struct {
	fn   func(tx *Tx) error
	done chan error // its outcome, once committed or rolled back
}

// commit runs the batch in one transaction and tells each update its
// outcome.
func (d *DB) commit(batch []*update) {
	tx, err := d.sql.Begin()
	if err != nil {
		for _, u := range batch {
			u.done <- fmt.Errorf("state: begin: %w", err)
		}
		return
	}
	if len(batch) == 1 {
		u := batch[0]
		if err := u.fn(&Tx{tx: tx}); err != nil {
			tx.Rollback()
			u.done <- err
			return
		}
		if err := tx.Commit(); err != nil {
			err = fmt.Errorf("state: commit: %w", err)
		}
		u.done <- err
		return
	}
	var ok []*update
	for i, u := range batch {
		broken, err := savepoint(tx, i, u.fn)
		if broken {
			// Nothing of this transaction may be committed: the
			// failed update's writes might be in it.
			tx.Rollback()
			// The updates that failed earlier have their outcome
			// already (done holds one); the others share this one.
			for _, v := range append(ok, batch[i:]...) {
				v.done <- err
			}
			return
		}
		if err != nil {
			u.done <- err
			continue
		}
		ok = append(ok, u)
	}
	err = tx.Commit()
	if err != nil {
		err = fmt.Errorf("state: commit: %w", err)
	}
	for _, u := range ok {
		u.done <- err
	}
}

// savepoint runs fn inside savepoint i of tx, rolled back to it when fn
// fails. broken: the savepoint could not be set, rolled back or released,
// and the whole transaction must be rolled back.
func savepoint(tx *sql.Tx, i int, fn func(tx *Tx) error) (broken bool, err error) {
	name := fmt.Sprintf("u%d", i)
	if _, err := tx.Exec("SAVEPOINT " + name); err != nil {
		return true, fmt.Errorf("state: savepoint: %w", err)
	}
	if err := fn(&Tx{tx: tx}); err != nil {
		if _, rerr := tx.Exec("ROLLBACK TO " + name); rerr != nil {
			return true, errors.Join(err, fmt.Errorf("state: rollback to savepoint: %w", rerr))
		}
		if _, rerr := tx.Exec("RELEASE " + name); rerr != nil {
			return true, errors.Join(err, fmt.Errorf("state: release savepoint: %w", rerr))
		}
		return false, err
	}
	if _, err := tx.Exec("RELEASE " + name); err != nil {
		return true, fmt.Errorf("state: release savepoint: %w", err)
	}
	return false, nil
}

func unixTime(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func fromUnix(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.Unix(v, 0)
}
