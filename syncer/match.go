package syncer

import (
	"github.com/mailmirror/mailmirror/maildir"
)

// identKey names a message by identity and size for matching.
type identKey struct {
	ident string
	size  int64
}

// matchAcross decides, with every folder's changes known, what each change
// means: a pair gone on one side is a move when its file or message turned
// up in another folder, a delete otherwise; an unknown local file and an
// unpaired server message with the same identity and size in one folder are
// the same message (adoption, a UIDVALIDITY change, recovery after a
// crash). The rule for conflicts: a delete never wins over a change made on
// the other side since the last pass (the message is kept).
func (s *Syncer) matchAcross(jobs []*job) {
	byKey := map[string]located{}
	newLocal := map[identKey][]*localMsg{}
	localOwner := map[*localMsg]*job{}
	newServer := map[identKey][]*serverMsg{}
	serverOwner := map[*serverMsg]*job{}
	// Keys paired in a folder whose scan still saw them: a file with such
	// a key in another folder that changed within the last second was
	// probably moved while the folders were being scanned (one scan
	// before the rename, the other after). It is left for the next pass,
	// which sees it as the move it is. A copy that keeps the file name
	// (cp) is uploaded once its folder has been quiet for a second.
	pairedAt := map[string]*job{}
	pairedIn := map[*job]map[string]bool{} // keys each folder has pairs for
	// These maps of every key serve only to explain local changes (new
	// files, files gone): a pass that found none, say flags changed on
	// the server, does not build them (tens of milliseconds for 10,000
	// messages).
	localChanges := false
	for _, j := range jobs {
		localChanges = localChanges || (!j.quiet && (len(j.newLocal) > 0 || len(j.localGone) > 0))
	}
	for _, j := range jobs {
		if j.quiet || !localChanges {
			continue
		}
		pairedIn[j] = map[string]bool{}
		for _, p := range j.pairs {
			pairedIn[j][p.Key] = true
			if _, ok := j.entries[p.Key]; ok && p.Key != "" {
				pairedAt[p.Key] = j
			}
		}
	}
	for _, j := range jobs {
		if j.quiet {
			continue
		}
		kept := j.newLocal[:0]
		for _, l := range j.newLocal {
			if owner, ok := pairedAt[l.e.Key]; ok && owner != j && localStamp(j.lf) == "" {
				continue
			}
			kept = append(kept, l)
		}
		j.newLocal = kept
	}
	for _, j := range jobs {
		if j.quiet {
			continue
		}
		if localChanges {
			for k, e := range j.entries {
				byKey[k] = located{j, e}
			}
		}
		for _, l := range j.newLocal {
			if l.ident != "" {
				k := identKey{l.ident, l.size}
				newLocal[k] = append(newLocal[k], l)
				if l.altSize > 0 {
					k := identKey{l.ident, l.altSize}
					newLocal[k] = append(newLocal[k], l)
				}
				localOwner[l] = j
			}
		}
		for _, m := range j.newServer {
			if m.ident != "" {
				k := identKey{m.ident, m.size}
				newServer[k] = append(newServer[k], m)
				serverOwner[m] = j
			}
		}
	}
	usedLocal := map[*localMsg]bool{}
	usedServer := map[*serverMsg]bool{}
	takeLocal := func(k identKey, not *job) (*localMsg, *job) {
		for _, l := range newLocal[k] {
			if !usedLocal[l] && localOwner[l] != not {
				usedLocal[l] = true
				return l, localOwner[l]
			}
		}
		return nil, nil
	}
	takeServer := func(k identKey, not *job) (*serverMsg, *job) {
		for _, m := range newServer[k] {
			if !usedServer[m] && serverOwner[m] != not {
				usedServer[m] = true
				return m, serverOwner[m]
			}
		}
		return nil, nil
	}
	// A file that kept its key in another folder is that folder's
	// unknown file: it is consumed by the move. It reports whether that
	// file is a placeholder.
	consumeKey := func(d *job, key string) bool {
		ph := false
		for _, l := range d.newLocal {
			if l.e.Key == key {
				usedLocal[l] = true
				ph = ph || l.placeholder
			}
		}
		return ph
	}

	for _, j := range jobs {
		if j.quiet {
			continue
		}
		j.moved = map[uint32]bool{}
		for _, p := range j.localGone {
			if j.serverGone[p.UID] {
				// Gone on both sides. When it was moved on both sides
				// (to different folders, or after a crash between a
				// MOVE and its record), its file and its server copy
				// turn up elsewhere: the server's folder wins and the
				// file follows it, rather than both becoming new
				// messages on both sides.
				if loc, ok := byKey[p.Key]; ok && loc.j != j && p.MsgID != "" {
					if m, e := takeServer(identKey{p.MsgID, p.Size}, nil); m != nil {
						consumeKey(loc.j, p.Key)
						e.moveIn = append(e.moveIn, moveIn{src: loc.j, p: p, msg: m, e: loc.e})
						j.moved[p.UID] = true
						continue
					}
				}
				j.drop = append(j.drop, p)
				continue
			}
			// A file with the key in another folder is this message
			// moved there, unless that folder has its own message under
			// the key (a copy made with cp, uploaded earlier).
			if loc, ok := byKey[p.Key]; ok && loc.j != j && !pairedIn[loc.j][p.Key] {
				ph := consumeKey(loc.j, p.Key)
				j.moveOut = append(j.moveOut, moveOut{p: p, dst: loc.j, e: loc.e, placeholder: p.Placeholder || ph})
				j.moved[p.UID] = true
				continue
			}
			if p.MsgID != "" {
				if l, d := takeLocal(identKey{p.MsgID, p.Size}, j); l != nil {
					j.moveOut = append(j.moveOut, moveOut{p: p, dst: d, e: l.e, placeholder: p.Placeholder || l.placeholder})
					j.moved[p.UID] = true
					continue
				}
			}
			if f, changed := j.serverFlags[p.UID]; changed && f != p.Flags {
				// Deleted here, changed on the server: keep it.
				j.restore = append(j.restore, p)
				continue
			}
			// Before a delete goes to the server, look again: the file
			// may have been moved to a folder scanned before the move.
			// A folder that has its own message under the key holds a
			// copy (cp), not this message moved.
			if d, e, ok := s.findKey(jobs, p.Key); ok {
				if d == j {
					continue // back in this folder: the next pass looks again
				}
				if taken, _ := s.db.KeyPairedIn(d.st.ID, p.Key); !taken {
					j.moveOut = append(j.moveOut, moveOut{p: p, dst: d, e: e, placeholder: p.Placeholder})
					j.moved[p.UID] = true
					continue
				}
			}
			j.serverDeletes = append(j.serverDeletes, p)
		}
		for uid := range j.serverGone {
			p := j.pairs[uid]
			if p == nil || p.Key == "" {
				if p != nil {
					j.drop = append(j.drop, p)
				}
				continue
			}
			e, ok := j.entries[p.Key]
			if !ok {
				continue // gone on both sides: dropped above
			}
			if p.MsgID != "" {
				if m, d := takeServer(identKey{p.MsgID, p.Size}, j); m != nil {
					d.moveIn = append(d.moveIn, moveIn{src: j, p: p, msg: m, e: e})
					j.moved[p.UID] = true
					continue
				}
			}
			if maildir.KnownOnly(e.Flags) != p.Flags && !p.Placeholder {
				// Expunged on the server, changed here: keep it and
				// upload it again (not a placeholder: it has nothing
				// of the message to upload).
				j.drop = append(j.drop, p)
				j.newLocal = append(j.newLocal, &localMsg{e: e, size: p.Size, ident: p.MsgID, date: fileTime(j.lf.FilePath(e))})
				continue
			}
			j.localDeletes = append(j.localDeletes, p)
		}
	}
	// Same folder: unknown files and unpaired messages that are the same.
	for _, j := range jobs {
		if j.quiet {
			continue
		}
		var restLocal []*localMsg
		for _, l := range j.newLocal {
			if usedLocal[l] {
				continue
			}
			if l.ident != "" {
				m := takeSame(newServer[identKey{l.ident, l.size}], usedServer, serverOwner, j)
				if m == nil && l.altSize > 0 {
					m = takeSame(newServer[identKey{l.ident, l.altSize}], usedServer, serverOwner, j)
				}
				if m != nil {
					usedLocal[l] = true
					j.pairUp = append(j.pairUp, pairUp{l: l, m: m})
					continue
				}
			}
			if l.placeholder {
				// A placeholder of nothing this pass knows: never
				// uploaded (it is not the message).
				s.warn("folder %q: %s is a mailmirror placeholder of a message not found on the server; not uploaded", j.local, l.e.Name)
				continue
			}
			restLocal = append(restLocal, l)
		}
		j.newLocal = restLocal
		var restServer []*serverMsg
		for _, m := range j.newServer {
			if !usedServer[m] {
				restServer = append(restServer, m)
			}
		}
		j.newServer = restServer
	}
}

func takeSame(list []*serverMsg, used map[*serverMsg]bool, owner map[*serverMsg]*job, j *job) *serverMsg {
	for _, m := range list {
		if !used[m] && owner[m] == j {
			used[m] = true
			return m
		}
	}
	return nil
}

// merge3 merges flag letters changed on either side against the base: a
// change on one side wins; when both sides changed a flag differently, it
// stays set.
func merge3(base, local, server string) string {
	var out []byte
	for i := 0; i < len(maildir.KnownLetters); i++ {
		l := maildir.KnownLetters[i]
		b, lo, se := has(base, l), has(local, l), has(server, l)
		var v bool
		switch {
		case lo == se:
			v = lo
		case lo != b && se == b:
			v = lo
		case se != b && lo == b:
			v = se
		default:
			v = true
		}
		if v {
			out = append(out, l)
		}
	}
	return string(out)
}

func has(s string, l byte) bool { return maildir.HasLetter(s, l) }

// union is the flag letters set on either side (pairing without a base).
func union(a, b string) string { return maildir.NormalizeLetters(a + b) }

// findKey scans every folder of the pass again for a Maildir key (once per
// pass, on the first call) and returns where it is now.
func (s *Syncer) findKey(jobs []*job, key string) (*job, maildir.Entry, bool) {
	if s.rescan == nil {
		s.rescan = map[string]located{}
		for _, j := range jobs {
			ents, err := j.lf.Scan()
			if err != nil {
				continue
			}
			for _, e := range ents {
				s.rescan[e.Key] = located{j, e}
			}
		}
	}
	loc, ok := s.rescan[key]
	return loc.j, loc.e, ok
}

// located is where a Maildir key was found.
type located struct {
	j *job
	e maildir.Entry
}
