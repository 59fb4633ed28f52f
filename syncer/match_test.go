package syncer

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/maildir"
	"github.com/mailmirror/mailmirror/state"
)

// The identity matcher's table. Each case is one state of an account
// (folders A, B, C) as the last pass left it, what changed since on each
// side, and the decisions of the full pass. The same case is fed through
// each path: the full pass (the real local detect, scanLocal, over real
// files; the server's side as its detect would report it), the targeted
// pass (PullNew: filesAsLeft over the real files) and PushLocal (the real
// localJobs over real files and the state; the server's side as
// localDetect would read it). Each path either makes the full pass's
// decisions, or the table says why it cannot:
//
//   - fullPass: the path hands the case to a full pass (ErrFullPass, before
//     any change); the daemon then runs one, which decides.
//   - notPath: the daemon never takes this path for such a case (PullNew
//     only runs when its watcher saw no local change; PushLocal only for
//     local changes).
//
// Messages are numbered: message n has the Message-ID <mn@test>, and its
// pair (if any) the UID n and the Maildir key "kn". A new file that is a
// copy is still an upload, done as a UID COPY where the server can
// (copyInstead).

type tPair struct {
	folder string
	n      int
	flags  string
}

// tFile is a file in the Maildir now.
type tFile struct {
	folder string
	n      int    // whose message it holds
	key    string // "" : kn, the key of message n's pair
	flags  string
	edited bool // the message with another body (same Message-ID, another size)
	ph     bool // a placeholder of message n
	tuid   bool // with mbsync's X-TUID header (the server has it without)
}

// tNew is a server message no pair knows (UID, message).
type tNew struct {
	folder string
	uid    uint32
	n      int
}

type matchCase struct {
	name     string
	pairs    []tPair
	files    []tFile
	gone     []string          // "A/1": pair 1 of A expunged on the server
	flags    map[string]string // "A/1": the server's flags now, when changed
	news     []tNew
	want     []string // the full pass's decisions (see decisions)
	targeted string   // "" (same decisions), fullPass or notPath
	push     string
}

const (
	fullPass = "full pass"
	notPath  = "not this path"
)

var matchCases = []matchCase{
	{name: "expunged on the server",
		pairs: []tPair{{"A", 1, "S"}}, files: []tFile{{folder: "A", n: 1, flags: "S"}}, gone: []string{"A/1"},
		want: []string{"A local-delete 1"}, push: notPath},
	{name: "expunged on the server, flags changed here",
		pairs: []tPair{{"A", 1, "S"}}, files: []tFile{{folder: "A", n: 1, flags: "FS"}}, gone: []string{"A/1"},
		want: []string{"A drop 1", "A upload k1"}, targeted: notPath, push: fullPass},
	{name: "moved on the server",
		pairs: []tPair{{"A", 1, "S"}}, files: []tFile{{folder: "A", n: 1, flags: "S"}}, gone: []string{"A/1"},
		news: []tNew{{"B", 7, 1}},
		want: []string{"B move-in A:k1 as 7"}, targeted: fullPass, push: notPath},
	{name: "expunged, then new again in the same folder",
		pairs: []tPair{{"A", 1, "S"}}, files: []tFile{{folder: "A", n: 1, flags: "S"}}, gone: []string{"A/1"},
		news: []tNew{{"A", 7, 1}},
		want: []string{"A download 7", "A local-delete 1"}, targeted: fullPass, push: notPath},
	{name: "new on the server",
		news: []tNew{{"A", 7, 7}},
		want: []string{"A download 7"}, push: notPath},
	{name: "flags changed on the server (no identity decision)",
		pairs: []tPair{{"A", 1, "S"}}, files: []tFile{{folder: "A", n: 1, flags: "S"}}, flags: map[string]string{"A/1": "FS"},
		want: nil, push: notPath},
	{name: "deleted here",
		pairs: []tPair{{"A", 1, "S"}},
		want:  []string{"A server-delete 1"}, targeted: notPath},
	{name: "deleted here, changed on the server",
		pairs: []tPair{{"A", 1, "S"}}, flags: map[string]string{"A/1": "FS"},
		want: []string{"A restore 1"}, targeted: notPath, push: fullPass},
	{name: "deleted on both sides",
		pairs: []tPair{{"A", 1, "S"}}, gone: []string{"A/1"},
		want: []string{"A drop 1"}, targeted: notPath},
	{name: "moved here under its name",
		pairs: []tPair{{"A", 1, "S"}}, files: []tFile{{folder: "B", n: 1, flags: "S"}},
		want: []string{"A move-out 1 to B"}, targeted: notPath},
	{name: "moved here as a new file (copy, then delete: mutt)",
		pairs: []tPair{{"A", 1, "S"}}, files: []tFile{{folder: "B", n: 1, key: "x1", flags: "S"}},
		want: []string{"A move-out 1 to B"}, targeted: notPath},
	{name: "moved here under its name, expunged on the server",
		pairs: []tPair{{"A", 1, "S"}}, files: []tFile{{folder: "B", n: 1, flags: "S"}}, gone: []string{"A/1"},
		want: []string{"A drop 1", "B upload k1"}, targeted: notPath, push: fullPass},
	{name: "moved to different folders on both sides",
		pairs: []tPair{{"A", 1, "S"}}, files: []tFile{{folder: "B", n: 1, flags: "S"}}, gone: []string{"A/1"},
		news: []tNew{{"C", 7, 1}},
		want: []string{"C move-in B:k1 as 7"}, targeted: notPath, push: fullPass},
	{name: "new file",
		files: []tFile{{folder: "A", n: 9, key: "x9", flags: "S"}},
		want:  []string{"A upload x9"}, targeted: notPath},
	{name: "new file the server got too (Gmail files sent mail itself)",
		files: []tFile{{folder: "A", n: 9, key: "x9", flags: "S"}}, news: []tNew{{"A", 9, 9}},
		want: []string{"A pair x9 = 9"}, targeted: notPath, push: fullPass},
	{name: "mbsync's file (X-TUID) of a message no pair knows",
		files: []tFile{{folder: "A", n: 9, key: "x9", flags: "S", tuid: true}}, news: []tNew{{"A", 9, 9}},
		want: []string{"A pair x9 = 9"}, targeted: notPath, push: fullPass},
	{name: "rewritten in place (same Message-ID, another size)",
		pairs: []tPair{{"A", 1, "S"}}, files: []tFile{{folder: "A", n: 1, key: "x1", flags: "S", edited: true}},
		want: []string{"A server-delete 1", "A upload x1"}, targeted: notPath, push: fullPass},
	{name: "a copy of a paired message (mutt's save, before the purge)",
		pairs: []tPair{{"A", 1, "S"}}, files: []tFile{{folder: "A", n: 1, flags: "S"}, {folder: "B", n: 1, key: "x1", flags: "S"}},
		want: []string{"B upload x1 (a copy of A/1)"}, targeted: notPath},
	{name: "a placeholder of nothing known",
		files: []tFile{{folder: "A", n: 9, key: "x9", flags: "S", ph: true}},
		want:  nil, targeted: notPath, push: fullPass},
}

func TestMatcherTable(t *testing.T) {
	for _, c := range matchCases {
		t.Run(c.name, func(t *testing.T) {
			for _, path := range []scope{scopeFull, scopeServer, scopeLocal} {
				expect := ""
				switch path {
				case scopeServer:
					expect = c.targeted
				case scopeLocal:
					expect = c.push
				}
				env := newMatchEnv(t, c)
				got, taken, err := env.feed(path)
				t.Logf("%s: %q taken=%v err=%v", path, got, taken, err)
				switch {
				case expect == notPath:
					if taken {
						t.Errorf("%s: the table says the daemon never takes this path, but the case has what it handles", path)
					}
				case !taken:
					t.Errorf("%s: the case has nothing this path handles; the table should say %q", path, notPath)
				case expect == fullPass:
					if !errors.Is(err, ErrFullPass) {
						t.Errorf("%s: got %q, %v; want ErrFullPass (the table: a full pass decides)", path, got, err)
					}
				case err != nil:
					t.Errorf("%s: %v; want the full pass's decisions %q", path, err, c.want)
				case !slices.Equal(got, c.want):
					t.Errorf("%s decided %q, the full pass %q", path, got, c.want)
				}
			}
		})
	}
}

// matchEnv is a case laid out for real: a Maildir with the files, a state
// with the folders and pairs, a Syncer (it never connects).
type matchEnv struct {
	t     *testing.T
	c     matchCase
	s     *Syncer
	store *maildir.Store
	db    *state.DB
	fs    map[string]state.Folder
}

var matchFolders = []string{"A", "B", "C"}

func newMatchEnv(t *testing.T, c matchCase) *matchEnv {
	t.Helper()
	dir := t.TempDir()
	acct, store, db := openTestAccount(t, fmt.Sprintf(`state_dir = %q
[[account]]
name = "test"
protocol = "imap"
host = "127.0.0.1"
port = 1
tls = "none"
username = "u"
password_env = "SYNCER_TEST_PASSWORD"
maildir = %q
`, filepath.Join(dir, "state"), filepath.Join(dir, "Mail")), "test.toml")
	e := &matchEnv{t: t, c: c, store: store, db: db, fs: map[string]state.Folder{}}
	e.s = New(acct, store, db, Options{})
	t.Cleanup(e.s.Close)
	err := db.Update(func(tx *state.Tx) error {
		for _, name := range matchFolders {
			f, err := tx.EnsureFolder(acct.Name, name, name)
			if err != nil {
				return err
			}
			f.UIDValidity, f.UIDNext, f.Messages, f.HighestModSeq = 1, 100, 10, 5
			if err := tx.UpdateFolder(f); err != nil {
				return err
			}
			e.fs[name] = f
		}
		for _, p := range c.pairs {
			ident, size := messageIdentity(p.n, false)
			err := tx.PutPair(state.Pair{FolderID: e.fs[p.folder].ID, UID: uint32(p.n), Key: fmt.Sprintf("k%d", p.n), Flags: p.flags, Size: size, MsgID: ident})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range c.files {
		lf, err := store.Folder(f.folder)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(lf.Path, "cur", f.name()), fileBytes(f), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range matchFolders {
		if _, err := store.Folder(name); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func (f tFile) keyOf() string {
	if f.key != "" {
		return f.key
	}
	return fmt.Sprintf("k%d", f.n)
}

func (f tFile) name() string { return f.keyOf() + ":2," + f.flags }

// messageBytes is message n as the server has it (LF line ends here).
func messageBytes(n int, edited bool) []byte {
	body := fmt.Sprintf("body of message %d\n", n)
	if edited {
		body += "edited\n"
	}
	return fmt.Appendf(nil, "Message-ID: <m%d@test>\nFrom: a@test\nSubject: message %d\n\n%s", n, n, body)
}

func fileBytes(f tFile) []byte {
	raw := messageBytes(f.n, f.edited)
	switch {
	case f.ph:
		_, size := messageIdentity(f.n, false)
		return fmt.Appendf(nil, "Message-ID: <m%d@test>\nFrom: a@test\nSubject: message %d\n%s: %d\n\nplaceholder\n", f.n, f.n, PlaceholderHeader, size)
	case f.tuid:
		return append([]byte("X-TUID: abcdefghijkl\n"), raw...)
	}
	return raw
}

// messageIdentity is the identity and CRLF size of message n.
func messageIdentity(n int, edited bool) (string, int64) {
	raw := messageBytes(n, edited)
	hdr, err := readHeader(bytes.NewReader(raw))
	if err != nil {
		panic(err)
	}
	size, err := crlfSize(bytes.NewReader(raw))
	if err != nil {
		panic(err)
	}
	return identity(hdr), size
}

// job is a job of folder name as every path starts it.
func (e *matchEnv) job(name string, sc scope) *job {
	lf, err := e.store.Folder(name)
	if err != nil {
		e.t.Fatal(err)
	}
	f := e.fs[name]
	return &job{s: e.s, local: name, remote: name, st: f, newSt: f, lf: lf, scope: sc,
		pairs: map[uint32]*state.Pair{}, entries: map[string]maildir.Entry{},
		serverFlags: map[uint32]string{}, serverGone: map[uint32]bool{}}
}

// server is what the server's side says of folder name: UIDs expunged,
// flags changed, new messages.
func (e *matchEnv) server(name string) (gone map[uint32]bool, flags map[uint32]string, news []*serverMsg) {
	gone, flags = map[uint32]bool{}, map[uint32]string{}
	for _, g := range e.c.gone {
		var f string
		var n uint32
		fmt.Sscanf(strings.Replace(g, "/", " ", 1), "%s %d", &f, &n)
		if f == name {
			gone[n] = true
		}
	}
	for g, fl := range e.c.flags {
		var f string
		var n uint32
		fmt.Sscanf(strings.Replace(g, "/", " ", 1), "%s %d", &f, &n)
		if f == name {
			flags[n] = fl
		}
	}
	for _, m := range e.c.news {
		if m.folder == name {
			ident, size := messageIdentity(m.n, false)
			news = append(news, &serverMsg{uid: m.uid, size: size, ident: ident, flags: "S"})
		}
	}
	return gone, flags, news
}

// feed runs the case through one path. taken is false when the case has
// nothing that path handles.
func (e *matchEnv) feed(path scope) (decided []string, taken bool, err error) {
	full := e.fullJobs()
	localChanged := false
	serverChanged := len(e.c.gone) > 0 || len(e.c.flags) > 0 || len(e.c.news) > 0
	for _, j := range full {
		localChanged = localChanged || len(j.localGone) > 0 || len(j.newLocal) > 0 || j.localFlagsChanged()
	}
	switch path {
	case scopeFull:
		e.s.rescan = nil
		e.s.matchAcross(full)
		return decisions(full), true, nil
	case scopeServer:
		if localChanged || !serverChanged {
			return nil, false, nil
		}
		jobs, err := e.targetedJobs()
		if err == nil {
			err = e.s.matchTargeted(jobs)
		}
		return decisions(jobs), true, err
	default:
		if !localChanged {
			return nil, false, nil
		}
		jobs, err := e.pushJobs()
		return decisions(jobs), true, err
	}
}

// fullJobs is the full pass's detect: every pair, the real scan of the
// folder, the server's changes.
func (e *matchEnv) fullJobs() []*job {
	var jobs []*job
	for _, name := range matchFolders {
		j := e.job(name, scopeFull)
		pairs, err := e.db.Pairs(j.st.ID)
		if err != nil {
			e.t.Fatal(err)
		}
		byKey := map[string]*state.Pair{}
		for i := range pairs {
			j.pairs[pairs[i].UID] = &pairs[i]
			byKey[pairs[i].Key] = &pairs[i]
		}
		if err := j.scanLocal(byKey); err != nil {
			e.t.Fatal(err)
		}
		j.serverGone, j.serverFlags, j.newServer = e.server(name)
		jobs = append(jobs, j)
	}
	return jobs
}

// targetedJobs is PullNew's detect of the folders the server changed: the
// pairs of the messages changed or expunged, their files (filesAsLeft).
func (e *matchEnv) targetedJobs() ([]*job, error) {
	var jobs []*job
	for _, name := range matchFolders {
		j := e.job(name, scopeServer)
		gone, flags, news := e.server(name)
		if len(gone)+len(flags)+len(news) == 0 {
			continue
		}
		j.serverGone, j.serverFlags, j.newServer = gone, flags, news
		var uids []uint32
		for u := range gone {
			uids = append(uids, u)
		}
		for u := range flags {
			uids = append(uids, u)
		}
		some, err := e.db.PairsOf(j.st.ID, uids)
		if err != nil {
			e.t.Fatal(err)
		}
		for i := range some {
			j.pairs[some[i].UID] = &some[i]
		}
		if err := j.filesAsLeft(uids, j.st.UIDNext, len(uids) > 0); err != nil {
			return jobs, err
		}
		jobs = append(jobs, j)
	}
	return jobs, nil
}

// pushJobs is PushLocal: the changes a watcher reports (every file that is
// not as a pair records it, every pair's file that is gone), the real
// localJobs, the server's side as localDetect reads it, and matchLocal.
func (e *matchEnv) pushJobs() ([]*job, error) {
	var changes []LocalChange
	for _, f := range e.c.files {
		lf, _ := e.store.Folder(f.folder)
		if !slices.Contains(e.c.pairs, tPair{f.folder, f.n, f.flags}) || f.key != "" {
			changes = append(changes, LocalChange{Folder: f.folder, Path: filepath.Join(lf.Path, "cur", f.name())})
		}
	}
	for _, p := range e.c.pairs {
		if !slices.ContainsFunc(e.c.files, func(f tFile) bool { return f.folder == p.folder && f.n == p.n && f.key == "" && f.flags == p.flags }) {
			lf, _ := e.store.Folder(p.folder)
			changes = append(changes, LocalChange{Folder: p.folder, Path: filepath.Join(lf.Path, "cur", fmt.Sprintf("k%d:2,%s", p.n, p.flags))})
		}
	}
	all, err := e.s.localJobs(changes)
	if err != nil {
		return nil, err
	}
	for _, j := range all {
		gone, flags, news := e.server(j.local)
		if len(j.newLocal) > 0 {
			j.newServer = news
		}
		onServer := map[uint32]bool{}
		for uid, p := range j.pairs {
			if !gone[uid] {
				onServer[uid] = true
				j.serverFlags[uid] = p.Flags
				if f, ok := flags[uid]; ok {
					j.serverFlags[uid] = f
				}
			}
		}
		j.markServerGone(onServer)
	}
	return all, e.s.matchLocal(all)
}

// decisions names the jobs' decisions, sorted.
func decisions(jobs []*job) []string {
	var out []string
	add := func(j *job, format string, args ...any) {
		out = append(out, j.local+" "+fmt.Sprintf(format, args...))
	}
	for _, j := range jobs {
		for _, p := range j.drop {
			add(j, "drop %d", p.UID)
		}
		for _, p := range j.serverDeletes {
			add(j, "server-delete %d", p.UID)
		}
		for _, p := range j.localDeletes {
			add(j, "local-delete %d", p.UID)
		}
		for _, p := range j.restore {
			add(j, "restore %d", p.UID)
		}
		for _, mo := range j.moveOut {
			add(j, "move-out %d to %s", mo.p.UID, mo.dst.local)
		}
		for _, mi := range j.moveIn {
			add(j, "move-in %s:%s as %d", mi.src.local, mi.e.Key, mi.msg.uid)
		}
		for _, pu := range j.pairUp {
			add(j, "pair %s = %d", pu.l.e.Key, pu.m.uid)
		}
		for _, l := range j.newLocal {
			if src, ok := j.copies[l]; ok {
				add(j, "upload %s (a copy of %s/%d)", l.e.Key, src.f.Name, src.p.UID)
				continue
			}
			add(j, "upload %s", l.e.Key)
		}
		for _, m := range j.newServer {
			add(j, "download %d", m.uid)
		}
	}
	slices.Sort(out)
	return out
}

// e2eCase is a case of the matcher's table played against Dovecot: set up
// the account and a first pass, then change it; each path runs once on a
// fresh account, and the outcome (what the pass did, and the Maildir
// against the server message by message) must be the same.
type e2eCase struct {
	name  string
	setup func(f *fixture) (state any)
	// change makes the change and returns what the daemon would hand the
	// targeted path (nil for a path the daemon does not take).
	change   func(f *fixture, state any) (pushed []Pushed, local []LocalChange)
	targeted string // "" (decides like the full pass), fullPass or notPath
	push     string
}

var e2eCases = []e2eCase{
	{name: "moved on the server",
		setup: func(f *fixture) any {
			f.u.CreateFolder(f.t, "Archive")
			raw := f.msg("moved")
			uid := f.u.Append(f.t, "INBOX", raw, imap.FlagSeen)
			f.u.Append(f.t, "INBOX", f.msg("stays"))
			return uid
		},
		change: func(f *fixture, st any) ([]Pushed, []LocalChange) {
			uid := st.(uint32)
			f.u.Move(f.t, "INBOX", uid, "Archive")
			return []Pushed{{Folder: "INBOX", Expunged: []uint32{uid}}, {Folder: "Archive"}}, nil
		},
		targeted: fullPass, push: notPath},
	{name: "moved here as a new file (mutt)",
		setup: func(f *fixture) any {
			f.u.CreateFolder(f.t, "Archive")
			raw := f.msg("moved")
			f.u.Append(f.t, "INBOX", raw, imap.FlagSeen)
			f.u.Append(f.t, "INBOX", f.msg("stays"))
			return msgID(raw)
		},
		change: func(f *fixture, st any) ([]Pushed, []LocalChange) {
			id := st.(string)
			from := f.file("INBOX", id)
			f.copyDeleteLocal("INBOX", "Archive", id)
			return nil, []LocalChange{{"INBOX", from}, {"Archive", f.file("Archive", id)}}
		},
		targeted: notPath},
	{name: "expunged on the server",
		setup: func(f *fixture) any {
			uid := f.u.Append(f.t, "INBOX", f.msg("expunged"), imap.FlagSeen)
			f.u.Append(f.t, "INBOX", f.msg("stays"))
			return uid
		},
		change: func(f *fixture, st any) ([]Pushed, []LocalChange) {
			f.u.Expunge(f.t, "INBOX", st.(uint32))
			return []Pushed{{Folder: "INBOX", Expunged: []uint32{st.(uint32)}}}, nil
		},
		push: notPath},
}

func TestMatcherEndToEnd(t *testing.T) {
	for _, c := range e2eCases {
		t.Run(c.name, func(t *testing.T) {
			var want string
			for _, path := range []scope{scopeFull, scopeServer, scopeLocal} {
				expect := map[scope]string{scopeServer: c.targeted, scopeLocal: c.push}[path]
				if expect == notPath {
					continue
				}
				f := newFixture(t)
				st := c.setup(f)
				f.sync()
				pushed, local := c.change(f, st)
				var got Stats
				var err error
				switch path {
				case scopeFull:
					got = f.sync()
				case scopeServer:
					got, err = f.pullNew(pushed...)
				case scopeLocal:
					got, err = f.pushLocal(local...)
				}
				if expect == fullPass {
					if !errors.Is(err, ErrFullPass) || got.Down != (Counts{}) || got.Up != (Counts{}) {
						t.Fatalf("%s: %s, %v; want ErrFullPass before any change", path, got, err)
					}
					got = f.sync() // the daemon's full pass
				} else if err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				f.compare()
				if again := f.sync(); again.Down != (Counts{}) || again.Up != (Counts{}) {
					t.Fatalf("%s: the pass after found work: %s", path, again)
				}
				outcome := fmt.Sprintf("down %s; up %s; paired %d", got.Down, got.Up, got.Paired)
				t.Logf("%s: %s", path, outcome)
				if path == scopeFull {
					want = outcome
					continue
				}
				if outcome != want {
					t.Errorf("%s: %s; the full pass: %s", path, outcome, want)
				}
			}
		})
	}
}
