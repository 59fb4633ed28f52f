package syncer

import (
	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/maildir"
	"github.com/mailmirror/mailmirror/state"
)

// One-way folders (the direction key). Every decision of a pass (full or
// targeted) goes through holdOneWay before anything is applied, and every
// flag merge through sides: these two functions are the only places that
// know about direction. plan.go asks writesServer/writesLocal before it
// creates or removes a folder.
//
//   - pull: the server is never changed. A local delete or move becomes a
//     tombstone pair (the server message stays, it is not downloaded
//     again), a new local file stays local, a local flag change stays in
//     the file; each is counted in Stats.Held.
//   - push: the Maildir is never changed by the server's changes. New
//     server messages are not downloaded, server flag changes not applied;
//     a message expunged or moved on the server while its file is still
//     here is uploaded again; a local delete wins over a server change.

// direction is the direction of the job's folder.
func (j *job) direction() string { return j.s.acct.DirectionFor(j.local) }

// writesServer reports whether a pass may change the server for the
// folder called local.
func (s *Syncer) writesServer(local string) bool {
	return s.acct.DirectionFor(local) != config.DirectionPull
}

// writesLocal reports whether a pass may change the Maildir folder called
// local because of a change on the server.
func (s *Syncer) writesLocal(local string) bool {
	return s.acct.DirectionFor(local) != config.DirectionPush
}

// sides splits a merged flag set m (local letters l, server letters r) by
// direction: what the server gets, what the file gets, and the base to
// record. Two-way: m everywhere. Pull: the server keeps r, the base is r,
// so a later server change still merges. Push: the file keeps l, the base
// is l.
func (j *job) sides(m, l, r string) (toServer, toLocal, base string) {
	switch j.direction() {
	case config.DirectionPull:
		if m != r {
			j.s.count(func(st *Stats) { st.Held.Flags++ })
		}
		return r, m, r
	case config.DirectionPush:
		if m != l {
			j.s.count(func(st *Stats) { st.Held.Flags++ })
		}
		return m, l, l
	}
	return m, m, m
}

// holdOneWay removes from every job's decisions the side effects its
// folder's direction forbids. It runs once per pass, after matchAcross
// (or the targeted detection) and before any job is applied.
func (s *Syncer) holdOneWay(jobs []*job) {
	for _, j := range jobs {
		if j.quiet {
			continue
		}
		switch j.direction() {
		case config.DirectionPull:
			j.holdServer()
		case config.DirectionPush:
			j.holdLocal()
		}
	}
}

// holdServer keeps the job's local changes local (direction = "pull").
func (j *job) holdServer() {
	j.tombstones = append(j.tombstones, j.serverDeletes...)
	for _, mo := range j.moveOut {
		j.tombstones = append(j.tombstones, mo.p)
	}
	n := len(j.serverDeletes)
	m := len(j.moveOut)
	k := len(j.newLocal)
	if n+m+k > 0 {
		j.s.count(func(st *Stats) { st.Held.Deleted += n; st.Held.Moved += m; st.Held.New += k })
	}
	j.serverDeletes, j.moveOut, j.newLocal = nil, nil, nil
}

// holdLocal keeps the Maildir as it is against the server's changes
// (direction = "push").
func (j *job) holdLocal() {
	reupload := func(src *job, p *state.Pair, e maildir.Entry) {
		src.drop = append(src.drop, p)
		if p.Placeholder {
			return // nothing of the message here to upload
		}
		src.newLocal = append(src.newLocal, &localMsg{e: e, size: p.Size, ident: p.MsgID, date: fileTime(src.lf.FilePath(e))})
	}
	nNew, nDel, nMoved := len(j.newServer), len(j.localDeletes), len(j.moveIn)
	for _, p := range j.localDeletes {
		reupload(j, p, j.entries[p.Key])
	}
	for _, mi := range j.moveIn {
		reupload(mi.src, mi.p, mi.e)
	}
	// A local delete wins over a server change.
	j.serverDeletes = append(j.serverDeletes, j.restore...)
	if nNew+nDel+nMoved > 0 {
		j.s.count(func(st *Stats) { st.Held.New += nNew; st.Held.Deleted += nDel; st.Held.Moved += nMoved })
	}
	j.localDeletes, j.moveIn, j.newServer, j.restore = nil, nil, nil, nil
}
