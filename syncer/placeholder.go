package syncer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailmirror/mailmirror/config"
	"github.com/mailmirror/mailmirror/maildir"
	"github.com/mailmirror/mailmirror/state"
)

// PlaceholderHeader is the header field that marks a placeholder: the
// local stand-in for a server message above max_size (its real header and
// a short note). Its value is the server message's size in bytes.
const PlaceholderHeader = "X-Mailmirror-Placeholder"

// ErrNotPlaceholder is returned by FetchPlaceholder for a file that is not
// a placeholder.
var ErrNotPlaceholder = errors.New("not a mailmirror placeholder")

// wantsPlaceholder reports whether a server message is stored as a
// placeholder: above max_size, and not carrying the fetch flag (a message
// the user flagged is wanted whole).
func (j *job) wantsPlaceholder(m *serverMsg) bool {
	a := j.s.acct
	if a.MaxSize <= 0 || m.size <= a.MaxSize {
		return false
	}
	return a.FetchFlag == "" || !has(m.flags, a.FetchFlag[0])
}

// placeholderSize returns the size a placeholder's header records, ok
// false when the header has no valid marker.
func placeholderSize(header []byte) (int64, bool) {
	name := strings.ToLower(PlaceholderHeader) + ":"
	for _, line := range bytes.Split(header, []byte("\n")) {
		line = bytes.TrimRight(line, "\r")
		if len(line) == 0 {
			break
		}
		if len(line) > len(name) && strings.ToLower(string(line[:len(name)])) == name {
			n, err := strconv.ParseInt(strings.TrimSpace(string(line[len(name):])), 10, 64)
			return n, err == nil && n > 0
		}
	}
	return 0, false
}

// isPlaceholderFile reports whether the file at path is a placeholder.
func isPlaceholderFile(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	hdr, err := readHeader(f)
	if err != nil {
		return false, err
	}
	_, ok := placeholderSize(hdr)
	return ok, nil
}

// placeholderFields are renamed in a placeholder's header (kept as
// X-Mailmirror-Original-…): they describe the real body, not the note.
var placeholderFields = []string{"content-type", "content-transfer-encoding", "content-disposition"}

// buildPlaceholder makes a placeholder (LF line ends) from a server
// message's header and size.
func buildPlaceholder(header []byte, size int64, fetchFlag string) []byte {
	header = bytes.ReplaceAll(header, []byte("\r\n"), []byte("\n"))
	if i := bytes.Index(header, []byte("\n\n")); i >= 0 {
		header = header[:i+1]
	} else if i := bytes.LastIndexByte(header, '\n'); i >= 0 {
		header = header[:i+1] // cut at a line end (a header longer than was kept)
	} else {
		header = nil
	}
	var out bytes.Buffer
	drop := false
	for _, line := range bytes.SplitAfter(header, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if !drop {
				out.Write(line)
			}
			continue
		}
		drop = false
		name := ""
		if i := bytes.IndexByte(line, ':'); i > 0 {
			name = strings.ToLower(strings.TrimSpace(string(line[:i])))
		}
		switch {
		case name == strings.ToLower(PlaceholderHeader):
			drop = true // never trust a marker the message brought along
		case contains(placeholderFields, name):
			out.WriteString("X-Mailmirror-Original-")
			out.Write(line)
		default:
			out.Write(line)
		}
	}
	fmt.Fprintf(&out, "%s: %d\n", PlaceholderHeader, size)
	out.WriteString("Content-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: 7bit\n\n")
	fmt.Fprintf(&out, "This message was not downloaded: it has %d bytes (%.1f MB),\nmore than this account's max_size.\n\n", size, float64(size)/1e6)
	out.WriteString("To get it in place of this note, run\n\n    mailmirror fetch FILE\n\nwith the path of this file")
	if fetchFlag != "" {
		fmt.Fprintf(&out, ", or give it the Maildir flag %s\n(%s) in your mail client: the next sync downloads it", fetchFlag, flagName(fetchFlag))
	}
	out.WriteString(".\n")
	return out.Bytes()
}

func flagName(letter string) string {
	switch letter {
	case "F":
		return "flagged, starred"
	case "S":
		return "seen"
	case "R":
		return "answered"
	case "P":
		return "forwarded"
	case "D":
		return "draft"
	case "T":
		return "deleted"
	}
	return letter
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var headerSection = &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, Peek: true}

// placeholders stores messages above max_size as placeholders: their
// header is fetched, and the placeholder joins the batch like a download.
func (d *downloader) placeholders(ctx context.Context, part []*serverMsg) error {
	var set imap.UIDSet
	for _, m := range part {
		set.AddNum(imap.UID(m.uid))
	}
	var werr error
	err := each(d.c, d.c.Fetch(set, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{headerSection}}), func(b *imapclient.FetchMessageBuffer) {
		m := d.byUID[uint32(b.UID)]
		hdr := b.FindBodySection(headerSection)
		if werr != nil || m == nil || hdr == nil {
			return
		}
		w, err := d.j.lf.NewMessage()
		if err != nil {
			werr = err
			return
		}
		ph := buildPlaceholder(hdr, m.size, d.j.s.acct.FetchFlag)
		if _, err := w.Write(ph); err != nil {
			w.Abort()
			werr = err
			return
		}
		if m.identLater { // as readLocal will read the placeholder
			hc := &headCapture{w: io.Discard}
			hc.Write(ph)
			m.ident, m.identLater = hc.identity(), false
		}
		delete(d.byUID, m.uid)
		if err := d.batch.Add(w, m.flags, m.date); err != nil {
			werr = err
			return
		}
		d.pending = append(d.pending, downloadItem{UID: m.uid, Key: w.Key(), Flags: m.flags, Size: m.size, Ident: m.ident, Placeholder: true})
		d.done++
		d.placeholder++
		d.report()
		if d.batch.Len() >= 1000 {
			werr = d.flush()
		}
	})
	if werr != nil {
		return werr
	}
	if err != nil {
		return fmt.Errorf("placeholders: %w", err)
	}
	return ctx.Err()
}

// applyFetchFlagged replaces the placeholders that carry the fetch flag
// (set here or on the server, merged by applyFlags) with their messages.
func (j *job) applyFetchFlagged(server func() (*Conn, error)) error {
	letter := j.s.acct.FetchFlag
	if letter == "" {
		return nil
	}
	var todo []*state.Pair
	for uid, p := range j.pairs {
		if !p.Placeholder || j.serverGone[uid] || j.moved[uid] {
			continue
		}
		if e, ok := j.entries[p.Key]; ok && has(e.Flags, letter[0]) {
			todo = append(todo, p)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	sort.Slice(todo, func(a, b int) bool { return todo[a].UID > todo[b].UID })
	c, err := server()
	if err != nil {
		return err
	}
	for _, p := range todo {
		err := j.s.replacePlaceholder(c, j.lf, j.newSt.UIDValidity, p, j.entries[p.Key])
		if errors.Is(err, maildir.ErrReplaced) {
			continue // renamed meanwhile: the next pass looks again
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// replacePlaceholder downloads the message a placeholder stands for
// (folder selected on c) and puts it in the placeholder's place: same
// folder, name, flags and pair. The file is written in tmp/, synced and
// renamed over the placeholder; the pair is then recorded as whole. A file
// that is already whole (a crash after the rename) is only recorded.
func (s *Syncer) replacePlaceholder(c *Conn, lf *maildir.Folder, uidValidity uint32, p *state.Pair, e maildir.Entry) error {
	path := lf.FilePath(e)
	st, err := os.Stat(path)
	if err != nil {
		return maildir.ErrReplaced
	}
	ph, err := isPlaceholderFile(path)
	if err != nil {
		return err
	}
	if ph {
		w, n, err := s.fetchWhole(c, bodyTarget{lf: lf, folderID: p.FolderID, uidValidity: uidValidity, uid: p.UID, size: p.Size})
		s.count(func(st *Stats) { st.Bytes += n })
		if err != nil {
			return err
		}
		if err := w.Replace(e, st.ModTime()); err != nil {
			return err
		}
	}
	if err := s.db.Update(func(tx *state.Tx) error { return tx.SetPairPlaceholder(p.FolderID, p.UID, false) }); err != nil {
		return err
	}
	p.Placeholder = false
	s.count(func(st *Stats) { st.Fetched++ })
	return nil
}

// FetchPlaceholder replaces the placeholder at path (a file in one of the
// account's folders) with the full message, whatever max_size says: in
// place, atomically, the pairing kept. It fails with an error wrapping
// ErrNotPlaceholder for a file that is not a placeholder.
func (s *Syncer) FetchPlaceholder(ctx context.Context, path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	name, lf, e, err := s.locate(abs)
	if err != nil {
		return err
	}
	ph, err := isPlaceholderFile(abs)
	if err != nil {
		return err
	}
	f, ok, err := s.db.Folder(s.acct.Name, name)
	if err != nil {
		return err
	}
	var p state.Pair
	if ok {
		var pf state.Folder
		p, pf, ok, err = s.db.PairByKey(s.acct.Name, e.Key)
		if err != nil {
			return err
		}
		ok = ok && pf.ID == f.ID
	}
	switch {
	case !ok && ph:
		return fmt.Errorf("%s: a placeholder that this state does not know in folder %q (moved by hand?): run mailmirror sync first", path, name)
	case !ok:
		return fmt.Errorf("%s: %w (a message mailmirror does not know in folder %q)", path, ErrNotPlaceholder, name)
	case !p.Placeholder:
		return fmt.Errorf("%s: %w: it is the full message already", path, ErrNotPlaceholder)
	}
	c, err := s.pool.get(ctx)
	if err != nil {
		return err
	}
	sel, err := c.Select(f.Remote)
	if err == nil && sel.UIDValidity != f.UIDValidity {
		err = fmt.Errorf("folder %q: the server's UIDVALIDITY changed: run mailmirror sync first", name)
	}
	if err == nil {
		err = s.replacePlaceholder(c, lf, f.UIDValidity, &p, e)
		if errors.Is(err, maildir.ErrReplaced) {
			err = fmt.Errorf("%s was renamed or removed while the message was downloaded: run mailmirror sync, then fetch it again", path)
		}
	}
	if err != nil && isConnError(err) {
		s.pool.discard(c)
	} else {
		s.pool.put(c)
	}
	return err
}

// locate finds the folder and entry of an absolute path to a message
// file inside the account's Maildir.
func (s *Syncer) locate(abs string) (string, *maildir.Folder, maildir.Entry, error) {
	if !Owns(s.acct, abs) {
		return "", nil, maildir.Entry{}, fmt.Errorf("%s is not in the Maildir of account %q (%s)", abs, s.acct.Name, s.acct.Maildir)
	}
	st, err := os.Lstat(abs)
	if err != nil {
		return "", nil, maildir.Entry{}, err
	}
	sub := filepath.Base(filepath.Dir(abs))
	if !st.Mode().IsRegular() || (sub != "cur" && sub != "new") {
		return "", nil, maildir.Entry{}, fmt.Errorf("%s is not a message file (in a folder's cur/ or new/)", abs)
	}
	dir := filepath.Dir(filepath.Dir(abs))
	names, err := s.store.Folders()
	if err != nil {
		return "", nil, maildir.Entry{}, err
	}
	for _, n := range names {
		fp, err := s.store.FolderPath(n)
		if err != nil || filepath.Clean(fp) != dir {
			continue
		}
		lf, ok, err := s.store.ExistingFolder(n)
		if err != nil || !ok {
			break
		}
		base := filepath.Base(abs)
		key, flags := maildir.ParseName(base)
		return n, lf, maildir.Entry{Key: key, Flags: flags, Sub: sub, Name: base}, nil
	}
	return "", nil, maildir.Entry{}, fmt.Errorf("%s is not in a folder of account %q", abs, s.acct.Name)
}

// FetchAccount replaces each placeholder in paths (files of acct's
// Maildir) with its full message, as FetchPlaceholder does, on one
// connection. It returns one error (or nil) per path; err is for what
// stopped every path (the password, the Maildir).
func FetchAccount(ctx context.Context, acct *config.Account, db *state.DB, opts Options, paths []string) (errs []error, err error) {
	err = withAccount(ctx, acct, db, opts, func(s *Syncer) error {
		errs = make([]error, len(paths))
		for i, p := range paths {
			errs[i] = s.FetchPlaceholder(ctx, p)
		}
		return nil
	})
	return errs, err
}

// Owns reports whether path (absolute) is inside acct's Maildir.
func Owns(acct *config.Account, path string) bool {
	root, err := filepath.Abs(acct.Maildir)
	if err != nil {
		return false
	}
	rel, err := filepath.Rel(root, path)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
