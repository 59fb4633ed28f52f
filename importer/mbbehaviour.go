package importer

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mailmirror/mailmirror/config"
)

// mbBehaviourKeys are the Channel options (also valid globally, as
// defaults for every Channel) that change what a channel does. They are
// translated, or the import is refused: a comment alone would silently
// turn, say, a pull-only channel into a two-way one.
var mbBehaviourKeys = map[string]bool{"sync": true, "expunge": true, "maxmessages": true, "create": true, "remove": true}

// mbOps are the operations mbsync propagates in one direction.
type mbOps struct{ new, delete, flags bool }

func (o mbOps) any() bool { return o.new || o.delete || o.flags }

// parseMbSync reads the arguments of a Sync line the way isync does:
// Pull and Push pick directions, New/ReNew/Delete/Gone/Flags/Old/Upgrade
// pick operations for the directions given (both when none is), PullNew,
// PushFlags and the like pick one operation in one direction, All and Full
// everything, None nothing.
func parseMbSync(args []string) (pull, push mbOps, err error) {
	var dirPull, dirPush, generic bool
	var ops mbOps
	set := func(o *mbOps, op string) bool {
		switch op {
		case "new", "renew", "old", "upgrade":
			o.new = true
		case "delete", "gone":
			o.delete = true
		case "flags":
			o.flags = true
		default:
			return false
		}
		return true
	}
	all := mbOps{true, true, true}
	for _, a := range args {
		w := strings.ToLower(a)
		switch {
		case w == "none":
		case w == "all" || w == "full":
			pull, push = all, all
		case w == "pull":
			dirPull = true
		case w == "push":
			dirPush = true
		case strings.HasPrefix(w, "pull") && set(&pull, w[4:]):
		case strings.HasPrefix(w, "push") && set(&push, w[4:]):
		case set(&ops, w):
			generic = true
		default:
			return pull, push, fmt.Errorf("unknown Sync operation %q", a)
		}
	}
	if !generic && (dirPull || dirPush) {
		ops = all
	}
	if !dirPull && !dirPush {
		dirPull, dirPush = generic, generic
	}
	if dirPull {
		pull = mbOps{pull.new || ops.new, pull.delete || ops.delete, pull.flags || ops.flags}
	}
	if dirPush {
		push = mbOps{push.new || ops.new, push.delete || ops.delete, push.flags || ops.flags}
	}
	return pull, push, nil
}

// mbBehaviour translates the behaviour options of one Channel (its own,
// else the global defaults) and returns the direction it asks for ("" for
// two-way).
func (b *builder) mbBehaviour(a *account, ch *mbSection, globals map[string]*mbOpt) string {
	opt := func(k string) *mbOpt {
		if o := ch.last(k); o != nil {
			return o
		}
		return globals[k]
	}
	dir := ""
	if o := opt("sync"); o != nil {
		dir = b.mbSyncLine(a, o)
	}
	b.mbExpunge(a, opt("expunge"), dir)
	if o := opt("maxmessages"); o != nil {
		if n, err := strconv.Atoi(o.arg()); err != nil || n != 0 {
			b.refuse(a, o.src, "mbsync kept only the newest messages of each folder here and removed older ones locally; mailmirror has no count limit: remove this line, and set max_age (\"365d\") to keep only recent mail")
		}
	}
	if o := opt("create"); o != nil {
		v := strings.ToLower(o.arg())
		switch {
		case v == "both":
		case (v == "near" || v == "slave") && dir == config.DirectionPull:
		default:
			b.note(a, "Create %s (line %d): mailmirror creates a folder new on one side on the other side too (with direction = \"pull\" only locally); exclude folders with folders patterns", o.arg(), o.src.line)
		}
	}
	if o := opt("remove"); o != nil {
		b.note(a, "Remove %s (line %d): mailmirror removes a folder deleted on one side from the other side only when it is empty there, else it warns and keeps it", o.arg(), o.src.line)
	}
	return dir
}

// mbSyncLine translates a Sync line into a direction, refusing what
// mailmirror cannot do.
func (b *builder) mbSyncLine(a *account, o *mbOpt) string {
	pull, push, err := parseMbSync(o.args)
	switch {
	case err != nil:
		b.refuse(a, o.src, err.Error())
		return ""
	case !pull.any() && !push.any():
		b.refuse(a, o.src, "Sync None syncs nothing: leave this channel out")
		return ""
	}
	dir, ops, side := "", mbOps{true, true, true}, ""
	switch {
	case !push.any():
		dir, ops, side = config.DirectionPull, pull, "server → local"
	case !pull.any():
		dir, ops, side = config.DirectionPush, push, "local → server"
	default:
		for _, d := range []struct {
			ops  mbOps
			name string
		}{{pull, "server → local"}, {push, "local → server"}} {
			if !d.ops.delete {
				b.refuse(a, o.src, fmt.Sprintf("deletions were not synced %s; mailmirror syncs them both ways: remove Delete/Gone from the other direction's list, or choose Sync Pull or Sync Push", d.name))
				return ""
			}
			if !d.ops.new || !d.ops.flags {
				b.note(a, "Sync %s (line %d): mailmirror syncs new messages and flags both ways", o.arg(), o.src.line)
			}
		}
		return ""
	}
	if !ops.delete {
		b.refuse(a, o.src, fmt.Sprintf("mbsync kept messages that were deleted on the other side; with direction = %q mailmirror mirrors deletions %s", dir, side))
		return ""
	}
	if !ops.new || !ops.flags {
		b.note(a, "Sync %s (line %d): with direction = %q mailmirror syncs new messages, flags and deletions %s", o.arg(), o.src.line, dir, side)
	}
	return dir
}

// mbExpunge checks the Expunge line against the direction: every side
// that receives deletions must have been expunged by mbsync too, since
// mailmirror removes what was deleted on the other side. An explicit
// "Expunge None" is refused; without a line (mbsync's default is None)
// a note says what changes.
func (b *builder) mbExpunge(a *account, o *mbOpt, dir string) {
	if o == nil {
		b.note(a, "mbsync's default Expunge None left deleted messages flagged \\Deleted (T); mailmirror removes them on the other side (see delete_mode)")
		return
	}
	v := strings.ToLower(o.arg())
	near := v == "both" || v == "near" || v == "slave"
	far := v == "both" || v == "far" || v == "master"
	switch {
	case v == "none":
		b.refuse(a, o.src, "mbsync kept deleted messages, flagged \\Deleted (T), on both sides; mailmirror removes what was deleted on the other side: remove this line to accept that")
	case !near && dir != config.DirectionPush:
		b.refuse(a, o.src, "mbsync kept here, flagged T, the messages deleted on the server; mailmirror removes them here: remove this line (or write Expunge Both) to accept that")
	case !far && dir != config.DirectionPull:
		b.refuse(a, o.src, "mbsync kept on the server, flagged \\Deleted, the messages deleted here; mailmirror expunges them (or moves them to Trash with delete_mode = \"trash\"): remove this line (or write Expunge Both) to accept that")
	}
}
