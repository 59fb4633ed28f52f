package syncer

import (
	"context"
	"fmt"
	"io"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/maildir"
	"github.com/mailmirror/mailmirror/state"
)

// resumeThreshold is the size from which a download cut short (the
// connection dropped in the middle of the message) keeps what it received:
// the next attempt asks only for the rest with a partial fetch
// (BODY.PEEK[]<offset.count>). Below it starting again costs less than a
// round trip more.
const resumeThreshold = 1 << 20

// bodyTarget names the server message a body literal belongs to, for
// keeping a partial download of it.
type bodyTarget struct {
	lf          *maildir.Folder
	folderID    int64
	uidValidity uint32
	uid         uint32
	size        int64 // RFC822.SIZE; 0 when unknown (nothing is kept)
}

// receive copies a body literal of litSize bytes, which starts at server
// byte offset of the message, through lw into w, and returns the bytes
// read. On error w is finished: aborted, or, when the connection failed
// in the middle of a large message, kept as a partial download (see
// keepPartial). Offsets are in server bytes (CRLF line ends); w holds LF
// line ends.
func (s *Syncer) receive(t bodyTarget, lit io.Reader, litSize int64, w *maildir.Writer, lw *lfWriter, offset int64) (int64, error) {
	if lw.in == nil {
		lw.in = make([]byte, 64<<10)
	}
	buf := lw.in
	var n int64
	for n < litSize {
		k, rerr := lit.Read(buf[:min(int64(len(buf)), litSize-n)])
		if k > 0 {
			if _, werr := lw.Write(buf[:k]); werr != nil {
				w.Abort()
				return n, werr
			}
			n += int64(k)
		}
		if rerr == io.EOF && n < litSize {
			rerr = fmt.Errorf("message cut short: %d of %d bytes", n, litSize)
		}
		if rerr != nil && rerr != io.EOF {
			s.keepPartial(t, w, lw, offset+n, offset+litSize)
			return n, rerr
		}
		if rerr == io.EOF {
			break
		}
	}
	if err := lw.Flush(); err != nil {
		w.Abort()
		return n, err
	}
	return n, nil
}

// keepPartial keeps the got server bytes of a download cut short, when the
// message is large and its literal was announced with its RFC822.SIZE
// (total): the file stays in tmp/ (synced) and the state records where to
// resume. Otherwise, or when that fails, the file is removed.
func (s *Syncer) keepPartial(t bodyTarget, w *maildir.Writer, lw *lfWriter, got, total int64) {
	if lw.cr {
		got-- // the CR held back is not in the file: fetch it again
	}
	if t.size < resumeThreshold || total != t.size || t.folderID == 0 || t.uidValidity == 0 || t.uid == 0 || got <= 0 {
		w.Abort()
		return
	}
	if err := w.Keep(); err != nil {
		return
	}
	err := s.db.PutPartial(state.Partial{FolderID: t.folderID, UID: t.uid, UIDValidity: t.uidValidity,
		File: w.Key(), Offset: got, LocalSize: w.Size(), Size: t.size})
	if err != nil {
		t.lf.RemoveTmp(w.Key())
	}
}

// dropPartial forgets a partial download and removes its file.
func (s *Syncer) dropPartial(lf *maildir.Folder, p state.Partial) error {
	if err := lf.RemoveTmp(p.File); err != nil {
		return err
	}
	return s.db.DeletePartial(p.FolderID, p.UID)
}

// usablePartial returns the partial download of t reopened for writing
// the rest, or nil when there is none it can continue (another
// UIDVALIDITY or size, the file gone): such a partial is dropped.
func (s *Syncer) usablePartial(t bodyTarget) (*maildir.Writer, state.Partial, error) {
	p, ok, err := s.db.Partial(t.folderID, t.uid)
	if err != nil || !ok {
		return nil, p, err
	}
	if p.UIDValidity != t.uidValidity || p.Size != t.size || p.Offset <= 0 || p.Offset >= p.Size {
		return nil, p, s.dropPartial(t.lf, p)
	}
	w, err := t.lf.ResumeMessage(p.File, p.LocalSize)
	if err != nil {
		return nil, p, s.dropPartial(t.lf, p)
	}
	return w, p, nil
}

// fetchWhole downloads one message of the selected folder into a new
// file in tmp/ (not published), continuing its partial download when
// there is one: only the bytes after the offset are asked for, and the
// total must then equal RFC822.SIZE. A server that answers a partial fetch
// with the whole message is read from the start. It returns the writer to
// publish and the bytes received.
func (s *Syncer) fetchWhole(c *Conn, t bodyTarget) (*maildir.Writer, int64, error) {
	w, part, err := s.usablePartial(t)
	if err != nil {
		return nil, 0, err
	}
	var offset int64
	if w != nil {
		offset = part.Offset
	} else if w, err = t.lf.NewMessage(); err != nil {
		return nil, 0, err
	}
	sec := &imap.FetchItemBodySection{Peek: true}
	if offset > 0 {
		sec.Partial = &imap.SectionPartial{Offset: offset, Size: t.size - offset}
	}
	cmd := c.Fetch(imap.UIDSetNum(imap.UID(t.uid)), &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{sec}})
	defer cmd.Close()
	var received int64
	live, got := true, false // w is open; the body arrived whole
	fail := func(err error) (*maildir.Writer, int64, error) {
		if live {
			w.Abort()
		}
		return nil, received, err
	}
	for {
		msg := cmd.Next()
		if msg == nil {
			break
		}
		for {
			item := msg.Next()
			if item == nil {
				break
			}
			it, ok := item.(imapclient_Body)
			if !ok || it.Literal == nil || got {
				continue
			}
			if offset > 0 && (it.Section == nil || it.Section.Partial == nil || it.Section.Partial.Offset != offset) {
				// The server did not honour the partial fetch: take
				// the whole message if that is what it sent.
				s.dropPartial(t.lf, part)
				if (it.Section != nil && it.Section.Partial != nil) || it.Literal.Size() != t.size {
					return fail(fmt.Errorf("download: the server answered a partial fetch of UID %d with something else; starting again at the next pass", t.uid))
				}
				w.Abort()
				offset = 0
				if w, err = t.lf.NewMessage(); err != nil {
					live = false
					return fail(err)
				}
			}
			if limit := (t.size-offset)*2 + 1<<20; it.Literal.Size() > limit {
				return fail(fmt.Errorf("download: the server sent a %d-byte message where it announced at most %d", it.Literal.Size(), limit))
			}
			n, err := s.receive(t, it.Literal, it.Literal.Size(), w, &lfWriter{w: w}, offset)
			received += n
			if err != nil {
				live = false // receive kept or removed the file
				c.Close()    // before the command is drained (see downloader.fetch)
				return fail(fmt.Errorf("download: %w", err))
			}
			if offset > 0 && offset+n != t.size {
				s.dropPartial(t.lf, part)
				return fail(fmt.Errorf("download: UID %d has %d bytes once resumed where the server announced %d; starting again at the next pass", t.uid, offset+n, t.size))
			}
			got = true
		}
	}
	if err := cmd.Close(); err != nil {
		return fail(fmt.Errorf("download: %w", err))
	}
	if !got {
		return fail(fmt.Errorf("download: the server did not send UID %d", t.uid))
	}
	if offset > 0 {
		if err := s.db.DeletePartial(part.FolderID, part.UID); err != nil {
			return fail(err)
		}
	}
	return w, received, nil
}

// target names message uid of the job's folder.
func (j *job) target(uid uint32, size int64) bodyTarget {
	return bodyTarget{lf: j.lf, folderID: j.st.ID, uidValidity: j.newSt.UIDValidity, uid: uid, size: size}
}

// partials returns the messages among msgs whose download an earlier pass
// left cut short and this pass continues. Partial downloads of anything
// else (a message gone, downloaded meanwhile, now a placeholder, or of an
// earlier UIDVALIDITY) are dropped, except those of placeholders (a
// `mailmirror fetch` cut short) and those a targeted pass did not look at.
func (j *job) partials(msgs []*serverMsg) (map[uint32]bool, error) {
	if !j.downloads() {
		return nil, nil
	}
	list, err := j.s.db.Partials(j.st.ID)
	if err != nil || len(list) == 0 {
		return nil, err
	}
	byUID := make(map[uint32]*serverMsg, len(msgs))
	for _, m := range msgs {
		byUID[m.uid] = m
	}
	out := map[uint32]bool{}
	for _, p := range list {
		if !j.knowsUID(p.UID) && p.UIDValidity == j.newSt.UIDValidity {
			continue // a targeted pass knows nothing of these UIDs
		}
		if pp := j.pairs[p.UID]; pp != nil && pp.Placeholder && !j.serverGone[p.UID] && p.UIDValidity == j.newSt.UIDValidity {
			continue // a placeholder's fetch cut short: fetch or the fetch flag goes on with it
		}
		m := byUID[p.UID]
		if m == nil || p.UIDValidity != j.newSt.UIDValidity || p.Size != m.size || j.wantsPlaceholder(m) {
			if err := j.s.dropPartial(j.lf, p); err != nil {
				return nil, err
			}
			continue
		}
		out[p.UID] = true
	}
	return out, nil
}

// resume finishes a download an earlier pass left cut short and adds it
// to the batch.
func (d *downloader) resume(ctx context.Context, m *serverMsg) error {
	w, n, err := d.j.s.fetchWhole(d.c, d.j.target(m.uid, m.size))
	d.bytes += n
	if err != nil {
		return err
	}
	if m.identLater {
		// Its start came in an earlier pass: read it from the file.
		hc := &headCapture{w: io.Discard}
		if err := w.ReadHead(hc, maxHeadCapture); err != nil {
			w.Abort()
			return err
		}
		m.ident, m.identLater = hc.identity(), false
	}
	delete(d.byUID, m.uid)
	if err := d.batch.Add(w, m.flags, m.date); err != nil {
		return err
	}
	d.pending = append(d.pending, downloadItem{UID: m.uid, Key: w.Key(), Flags: m.flags, Size: m.size, Ident: m.ident})
	d.batchBytes += n
	d.done++
	d.report()
	return ctx.Err()
}
