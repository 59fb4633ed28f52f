// Package tags is mailmirror's second local store: the tags of a notmuch
// database, which the IMAP engine merges with the server's keywords.
//
// It talks to the real `notmuch` command as the user runs it: the same
// environment (NOTMUCH_CONFIG, NOTMUCH_PROFILE, or notmuch's default
// configuration places), no library binding. What it needs from notmuch:
//
//   - the database revision (`notmuch count --lastmod`), which every change
//     bumps, with the database's UUID (a rebuilt database has a new one);
//   - the messages changed since a revision, with their files and tags, in
//     one `notmuch show --format=json` of the query `lastmod:N..`;
//   - many tag changes in one `notmuch tag --batch`.
//
// The package also holds the mapping between IMAP keywords and tags
// (Mapping) and the three-way merge of tag sets (Merge). It never logs.
package tags

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Notmuch is one notmuch database, reached through the notmuch command.
type Notmuch struct {
	// Bin is the notmuch command; "notmuch" (found in PATH) when empty.
	Bin string
	// Env, when not nil, is the environment of every notmuch run
	// (os.Environ() when nil).
	Env []string
	// Config is the configuration file notmuch reads ("" when notmuch
	// finds it on its own: NOTMUCH_PROFILE, XDG or ~/.notmuch-config).
	Config string
	// Path is where notmuch finds the mail (database.mail_root, else
	// database.path), absolute.
	Path string
	// NewTags are the tags `notmuch new` gives new messages (new.tags).
	NewTags []string
	// SyncFlags is maildir.synchronize_flags: notmuch mirrors the Maildir
	// flags as the tags unread, replied, flagged, passed and draft.
	SyncFlags bool
	// xapian is the database's Xapian directory, when found (see Stamp).
	xapian string
}

// ErrNotFound is returned by Open when the notmuch command is missing.
var ErrNotFound = errors.New("tags: the notmuch command was not found")

// Open finds notmuch's configuration as notmuch itself does and reads the
// settings the sync needs (database.mail_root or database.path, new.tags,
// maildir.synchronize_flags) in one notmuch run. bin is the command ("" for "notmuch" in PATH)
// and env its environment (nil for this process's).
func Open(ctx context.Context, bin string, env []string) (*Notmuch, error) {
	if bin == "" {
		bin = "notmuch"
	}
	if _, err := exec.LookPath(bin); err != nil {
		return nil, fmt.Errorf("%w (%s)", ErrNotFound, bin)
	}
	n := &Notmuch{Bin: bin, Env: env, Config: configFile(env)}
	// One run: `notmuch config list` prints every setting as key=value.
	out, err := n.run(ctx, nil, "config", "list")
	if err != nil {
		return nil, err
	}
	conf := map[string]string{}
	for _, l := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			conf[k] = v
		}
	}
	path := conf["database.mail_root"] // notmuch 0.32+: where the mail is
	if path == "" {
		path = conf["database.path"]
	}
	if path == "" {
		return nil, fmt.Errorf("tags: notmuch has no database.path (run `notmuch setup`)")
	}
	if !filepath.IsAbs(path) {
		home, _ := os.UserHomeDir()
		path = filepath.Join(home, path)
	}
	n.Path = resolve(path)
	for _, t := range strings.Split(conf["new.tags"], ";") {
		if t = strings.TrimSpace(t); t != "" {
			n.NewTags = append(n.NewTags, t)
		}
	}
	n.SyncFlags = conf["maildir.synchronize_flags"] != "false"
	n.xapian = xapianDir(conf["database.path"], env)
	return n, nil
}

// configFile is the configuration file notmuch reads, as far as the
// environment names it: NOTMUCH_CONFIG, else the first of notmuch's
// default places that exists, else "".
func configFile(env []string) string {
	get := envLookup(env)
	if c := get("NOTMUCH_CONFIG"); c != "" {
		return c
	}
	home := get("HOME")
	profile := get("NOTMUCH_PROFILE")
	xdg := get("XDG_CONFIG_HOME")
	if xdg == "" && home != "" {
		xdg = filepath.Join(home, ".config")
	}
	var cands []string
	if profile == "" {
		profile = "default"
	}
	if xdg != "" {
		cands = append(cands, filepath.Join(xdg, "notmuch", profile, "config"))
	}
	if home != "" {
		if profile == "default" {
			cands = append(cands, filepath.Join(home, ".notmuch-config"))
		} else {
			cands = append(cands, filepath.Join(home, ".notmuch-config."+profile))
		}
	}
	for _, c := range cands {
		if _, err := os.Stat(c); err == nil {
			return c
		}
	}
	return ""
}

// envLookup reads variables of env (of this process when nil).
func envLookup(env []string) func(string) string {
	if env == nil {
		return os.Getenv
	}
	return func(k string) string {
		for i := len(env) - 1; i >= 0; i-- {
			if v, ok := strings.CutPrefix(env[i], k+"="); ok {
				return v
			}
		}
		return ""
	}
}

// run runs notmuch with args, stdin as its input, and returns its output.
func (n *Notmuch) run(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, n.Bin, args...)
	if n.Env != nil {
		cmd.Env = n.Env
	}
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 500 {
			msg = msg[:500] + "…"
		}
		if msg != "" {
			return nil, fmt.Errorf("tags: notmuch %s: %w: %s", args[0], err, msg)
		}
		return nil, fmt.Errorf("tags: notmuch %s: %w", args[0], err)
	}
	return out, nil
}

// ConfigGet returns a configuration value (lists one item a line); a key
// that is not set gives "".
func (n *Notmuch) ConfigGet(ctx context.Context, key string) (string, error) {
	out, err := n.run(ctx, nil, "config", "get", key)
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && len(bytes.TrimSpace(ee.Stderr)) == 0 {
			return "", nil // an unset key exits non-zero silently on some versions
		}
		return "", err
	}
	return strings.TrimRight(string(out), "\n"), nil
}

// Revision is a database revision: UUID names the database (a rebuilt
// one gets a new UUID, and its numbers start again), N grows with every
// change.
type Revision struct {
	UUID string
	N    uint64
}

// Revision returns the database's current revision (one notmuch run).
func (n *Notmuch) Revision(ctx context.Context) (Revision, error) {
	_, r, err := n.count(ctx, "*")
	return r, err
}

// count returns how many messages match query, and the revision, in one
// notmuch run.
func (n *Notmuch) count(ctx context.Context, query string) (uint64, Revision, error) {
	out, err := n.run(ctx, nil, "count", "--lastmod", "--exclude=false", "--", query)
	if err != nil {
		return 0, Revision{}, err
	}
	f := strings.Fields(string(out))
	if len(f) != 3 {
		return 0, Revision{}, fmt.Errorf("tags: notmuch count --lastmod: unexpected output %q", strings.TrimSpace(string(out)))
	}
	c, err1 := strconv.ParseUint(f[0], 10, 64)
	v, err2 := strconv.ParseUint(f[2], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, Revision{}, fmt.Errorf("tags: notmuch count --lastmod: unexpected output %q", strings.TrimSpace(string(out)))
	}
	return c, Revision{UUID: f[1], N: v}, nil
}

// Message is one notmuch message: its Message-ID as notmuch knows it, its
// files (absolute paths) and its tags.
type Message struct {
	ID    string
	Files []string
	Tags  []string
}

// ChangedSince returns the messages whose tags or files changed after
// revision since (every message for 0), read in one notmuch run.
func (n *Notmuch) ChangedSince(ctx context.Context, since uint64) ([]Message, error) {
	return n.Show(ctx, fmt.Sprintf("lastmod:%d..", since+1))
}

// ByID returns the messages of the given Message-IDs that notmuch knows,
// in one notmuch run.
func (n *Notmuch) ByID(ctx context.Context, ids []string) ([]Message, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	terms := make([]string, len(ids))
	for i, id := range ids {
		terms[i] = IDQuery(id)
	}
	return n.Show(ctx, strings.Join(terms, " or "))
}

// Show returns the messages matching a notmuch query, with files and tags.
func (n *Notmuch) Show(ctx context.Context, query string) ([]Message, error) {
	out, err := n.run(ctx, nil, "show", "--format=json", "--body=false", "--entire-thread=false",
		"--exclude=false", "--include-html=false", "--", query)
	if err != nil {
		return nil, err
	}
	var tree any
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(&tree); err != nil {
		return nil, fmt.Errorf("tags: notmuch show: %w", err)
	}
	var msgs []Message
	collect(tree, &msgs)
	return msgs, nil
}

// collect walks notmuch show's nested threads for the matching messages.
func collect(v any, out *[]Message) {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			collect(e, out)
		}
	case map[string]any:
		id, _ := x["id"].(string)
		if m, _ := x["match"].(bool); !m || id == "" {
			return
		}
		msg := Message{ID: id}
		switch f := x["filename"].(type) {
		case []any:
			for _, s := range f {
				if s, ok := s.(string); ok {
					msg.Files = append(msg.Files, s)
				}
			}
		case string:
			msg.Files = []string{f}
		}
		if ts, ok := x["tags"].([]any); ok {
			for _, t := range ts {
				if t, ok := t.(string); ok {
					msg.Tags = append(msg.Tags, t)
				}
			}
		}
		*out = append(*out, msg)
	}
}

// Change is a tag change of one message.
type Change struct {
	ID          string // Message-ID as notmuch knows it
	Add, Remove []string
}

// Apply makes every change in one `notmuch tag --batch`. notmuch applies
// each line in its own transaction: after a failure some lines may have
// been applied, which a later merge finds and keeps.
func (n *Notmuch) Apply(ctx context.Context, changes []Change) error {
	var b bytes.Buffer
	for _, c := range changes {
		if len(c.Add)+len(c.Remove) == 0 || c.ID == "" {
			continue
		}
		for _, t := range c.Add {
			b.WriteString("+" + encodeTag(t) + " ")
		}
		for _, t := range c.Remove {
			b.WriteString("-" + encodeTag(t) + " ")
		}
		b.WriteString("-- " + IDQuery(c.ID) + "\n")
	}
	if b.Len() == 0 {
		return nil
	}
	_, err := n.run(ctx, b.Bytes(), "tag", "--batch")
	return err
}

// IDQuery is the notmuch query term of one Message-ID, quoted by Xapian's
// boolean term rules.
func IDQuery(id string) string {
	return `id:"` + strings.ReplaceAll(id, `"`, `""`) + `"`
}

// encodeTag hex-encodes a tag for a batch line: every byte but letters,
// digits and +-_@=.,: becomes %XX.
func encodeTag(t string) string {
	var b strings.Builder
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.IndexByte("+-_@=.,:", c) >= 0:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// Covers reports whether dir (a Maildir root) is inside the database path,
// where `notmuch new` indexes it.
func (n *Notmuch) Covers(dir string) bool {
	rel, err := filepath.Rel(n.Path, resolve(dir))
	if err != nil {
		return false
	}
	return rel == "." || (rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)))
}

// resolve is dir absolute with its symbolic links resolved when it exists.
func resolve(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	if r, err := filepath.EvalSymlinks(dir); err == nil {
		return r
	}
	return dir
}

// Check opens notmuch as Open does and checks that maildir is under its
// database path; the error says what is wrong and where.
func Check(ctx context.Context, maildir string) (*Notmuch, error) {
	n, err := Open(ctx, "", nil)
	if err != nil {
		return nil, err
	}
	if !n.Covers(maildir) {
		where := "notmuch's"
		if n.Config != "" {
			where = n.Config + "'s"
		}
		return n, fmt.Errorf("the maildir %s is not under %s database.path %s: notmuch never indexes it", maildir, where, n.Path)
	}
	return n, nil
}

// xapianDir finds the Xapian directory of the database: in database.path's
// .notmuch (the usual place), else in notmuch's XDG data directory.
func xapianDir(dbPath string, env []string) string {
	var cands []string
	if dbPath != "" {
		cands = append(cands, filepath.Join(dbPath, ".notmuch", "xapian"), filepath.Join(dbPath, "xapian"))
	}
	get := envLookup(env)
	profile := get("NOTMUCH_PROFILE")
	if profile == "" {
		profile = "default"
	}
	data := get("XDG_DATA_HOME")
	if data == "" && get("HOME") != "" {
		data = filepath.Join(get("HOME"), ".local", "share")
	}
	if data != "" {
		cands = append(cands, filepath.Join(data, "notmuch", profile, "xapian"))
	}
	for _, c := range cands {
		if _, err := os.Stat(filepath.Join(c, "iamglass")); err == nil {
			return c
		}
	}
	return ""
}

// Stamp fingerprints the database files without running notmuch: it
// changes whenever notmuch commits a change (Xapian rewrites its version
// file). "" when the database was not found: then ask Revision.
func (n *Notmuch) Stamp() string {
	if n.xapian == "" {
		return ""
	}
	st, err := os.Stat(filepath.Join(n.xapian, "iamglass"))
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%d/%d", st.ModTime().UnixNano(), st.Size())
}

// Scope is the query term of the messages whose files are under dir (a
// Maildir root inside the database path), "" when dir is the whole
// database. Changes uses it to leave other accounts' messages out.
func (n *Notmuch) Scope(dir string) string {
	rel, err := filepath.Rel(n.Path, resolve(dir))
	if err != nil || rel == "." || !n.Covers(dir) {
		return ""
	}
	return `path:"` + strings.ReplaceAll(filepath.ToSlash(rel), `"`, `""`) + `/**"`
}

// View is what Changes read: the revision, the messages changed after the
// asked-for revision, and the Stamp that goes with the revision (""
// when none does).
type View struct {
	Rev      Revision
	Stamp    string
	Messages []Message
	// All: Messages hold every message of the scope (the database's UUID
	// was not the one asked for, or since was 0).
	All bool
}

// Changes returns the database's revision and the messages of scope
// (a query term, "" for all) whose tags or files changed after revision
// since of the database uuid; every message of scope when the database is
// another one (a different UUID) or since is 0. One notmuch run when
// nothing in scope changed (`notmuch count --lastmod` of the changes), two
// otherwise: the messages are read after the revision, so that a change
// made between the two runs is read now and again next time, never missed.
func (n *Notmuch) Changes(ctx context.Context, uuid string, since uint64, scope string) (View, error) {
	query := func(since uint64) string {
		q := fmt.Sprintf("lastmod:%d..", since+1)
		if scope != "" {
			q += " and " + scope
		}
		return q
	}
	if uuid == "" {
		since = 0
	}
	stamp := n.Stamp() // before the revision: nothing it saw is newer
	count, rev, err := n.count(ctx, query(since))
	if err != nil {
		return View{}, err
	}
	v := View{Rev: rev, Stamp: stamp, All: since == 0 || rev.UUID != uuid}
	if v.All {
		since = 0
	} else if count == 0 {
		return v, nil
	}
	v.Messages, err = n.Show(ctx, query(since))
	return v, err
}
