package syncer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/internal/testenv"
)

// killAtTagStep makes the crash tests' child SIGKILL itself when the tag
// step named in spec is reached.
func killAtTagStep(step string) {
	if step == "" {
		return
	}
	tagHook = func(s string) {
		if s == step {
			self, _ := os.FindProcess(os.Getpid())
			self.Kill() // SIGKILL on Unix
			select {}
		}
	}
}

// TestTagsCrashDuringTagPassLosesNothing kills a pass after it wrote the
// server's keywords, and after it wrote notmuch's tags, before it recorded
// either, and after it recorded them but before it checked the revision
// its writes left: the next pass must end with every change of both sides
// (server → notmuch and notmuch → server).
func TestTagsCrashDuringTagPassLosesNothing(t *testing.T) {
	testenv.RequireDovecot(t)
	for _, step := range []string{"stored", "applied", "recorded"} {
		t.Run(step, func(t *testing.T) {
			u := testenv.Shared(t).NewUser(t)
			d := newTagDevice(t, u)
			d.withConfig("tags = \"notmuch\"\ntag_map = { \"$label1\" = \"important\" }\n")
			raw := d.msg("crash")
			uid := u.Append(t, "INBOX", raw, imap.Flag("x"), imap.Flag("y"))
			d.pass()
			d.pass()
			id := strings.Trim(msgID(raw), "<>")
			d.notmuch("tag", "+l1", "-x", "--", "id:"+id)
			u.SetFlags(t, "INBOX", uid, true, imap.Flag("r1"))
			u.SetFlags(t, "INBOX", uid, false, imap.Flag("y"))
			if !d.childPass("SYNCER_CHILD_TAGS_KILL="+step, "NOTMUCH_CONFIG="+filepath.Join(d.dir, "notmuch-config")) {
				t.Fatal("the child pass was not killed")
			}
			d.pass()
			d.pass()
			want, gone := []string{"l1", "r1"}, []string{"x", "y"}
			wantTags(t, "local", d.tags(msgID(raw)), want, gone)
			wantTags(t, "server", keywords(t, u, "INBOX", msgID(raw)), want, gone)
		})
	}
}

// TestTagsQuietPassOneNotmuchRun: with tags on, a pass that finds nothing
// changed runs notmuch at most once (the revision) and not at all while the
// database files did not change; a daemon's Syncer reads notmuch's
// settings once.
func TestTagsQuietPassOneNotmuchRun(t *testing.T) {
	testenv.RequireDovecot(t)
	u := testenv.Shared(t).NewUser(t)
	d := newTagDevice(t, u)
	logged := loggedNotmuch(t, d)
	u.Append(t, "INBOX", d.msg("quiet"), imap.Flag("k"))
	d.pass()
	d.pass()
	s := New(d.acct, d.store, d.db, Options{DialOptions: DialOptions{Password: config.Secret(d.u.Password)}, NotmuchEnv: d.env, NotmuchBin: d.bin})
	defer s.Close()
	for i := 0; i < 3; i++ {
		logged()
		st, err := s.Sync(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		runs := logged()
		// The first pass of a Syncer reads notmuch's settings and may
		// ask the revision (notmuch new ran since the last pass); later
		// quiet passes only look at the database's files.
		ok := runs == ""
		if i == 0 {
			ok = runs == "config" || runs == "config count"
		}
		if !ok || st.TagsDown+st.TagsUp != 0 {
			t.Errorf("quiet pass %d ran notmuch %q, tags %d down %d up", i, runs, st.TagsDown, st.TagsUp)
		}
	}
}
