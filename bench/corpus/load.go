package corpus

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// LoadStats reports how a corpus was loaded.
type LoadStats struct {
	Messages int           // messages loaded
	Bytes    int64         // their sizes as IMAP reports them (CRLF line ends)
	Write    time.Duration // generating and writing the files, or appending
	Index    time.Duration // Dovecot's first look at every folder (SELECT)
}

// Total is the whole loading time.
func (l LoadStats) Total() time.Duration { return l.Write + l.Index }

// LoadMaildir writes the corpus straight into the user's Maildir on the
// server, the fast way: workers goroutines generate messages and write
// them as files into cur/ of their folder, with LF line ends, Dovecot-style
// names carrying S= and W= sizes and the flags, the message's date as
// modification time (INTERNALDATE), owned by the mail user when running as
// root. Then each folder is selected once so that Dovecot assigns UIDs
// (in date order) and builds its index, and the message counts are
// checked. The folders must not exist yet.
func (s *Server) LoadMaildir(c *Corpus, workers int) (LoadStats, error) {
	root := s.MailRoot()
	uid, gid := -1, -1
	if os.Geteuid() == 0 {
		st, err := os.Stat(s.Dovecot.MailDir)
		if err != nil {
			return LoadStats{}, fmt.Errorf("corpus: %w", err)
		}
		uid, gid = fileOwner(st)
	}
	for _, f := range c.Folders() {
		dir := folderDir(root, f)
		for _, sub := range []string{"cur", "new", "tmp"} {
			if err := mkdirOwned(filepath.Join(dir, sub), uid, gid); err != nil {
				return LoadStats{}, err
			}
		}
	}
	unique := strconv.Itoa(os.Getpid())
	var bytes atomic.Int64
	start := time.Now()
	err := c.Each(workers, func(m Message) error {
		data := ToLF(m.Data)
		p := filepath.Join(folderDir(root, m.Folder), "cur", MaildirName(&m, unique, len(data)))
		if err := os.WriteFile(p, data, 0o600); err != nil {
			return fmt.Errorf("corpus: %w", err)
		}
		if uid >= 0 {
			if err := os.Chown(p, uid, gid); err != nil {
				return fmt.Errorf("corpus: %w", err)
			}
		}
		if err := os.Chtimes(p, m.Date, m.Date); err != nil {
			return fmt.Errorf("corpus: %w", err)
		}
		bytes.Add(int64(len(m.Data)))
		return nil
	})
	st := LoadStats{Messages: c.Len(), Bytes: bytes.Load(), Write: time.Since(start)}
	if err != nil {
		return st, err
	}
	st.Index, err = s.Index(c)
	return st, err
}

// mkdirOwned creates dir and its missing parents, 0700, owned by uid:gid
// when uid >= 0.
func mkdirOwned(dir string, uid, gid int) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := mkdirOwned(filepath.Dir(dir), uid, gid); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("corpus: %w", err)
	}
	if uid >= 0 {
		if err := os.Chown(dir, uid, gid); err != nil {
			return fmt.Errorf("corpus: %w", err)
		}
	}
	return nil
}

// LoadAppend loads the corpus over IMAP: it creates the folders and
// APPENDs every message with its flags and date over conns parallel
// connections (slower than LoadMaildir, but works with any server
// layout). Messages are appended roughly in index (date) order.
func (s *Server) LoadAppend(c *Corpus, conns int) (LoadStats, error) {
	conns = max(conns, 1)
	start := time.Now()
	admin, err := s.Dial()
	if err != nil {
		return LoadStats{}, err
	}
	for _, f := range c.Folders() {
		if f == "INBOX" {
			continue
		}
		if err := admin.Create(f, nil).Wait(); err != nil {
			logout(admin)
			return LoadStats{}, fmt.Errorf("corpus: create %q: %w", f, err)
		}
	}
	logout(admin)
	clients := make(chan *imapclient.Client, conns)
	for range conns {
		cl, err := s.Dial()
		if err != nil {
			close(clients)
			for cl := range clients {
				logout(cl)
			}
			return LoadStats{}, err
		}
		clients <- cl
	}
	var bytes atomic.Int64
	err = c.Each(conns, func(m Message) error {
		cl := <-clients
		defer func() { clients <- cl }()
		if _, err := appendMessage(cl, m); err != nil {
			return err
		}
		bytes.Add(int64(len(m.Data)))
		return nil
	})
	for range conns {
		logout(<-clients)
	}
	st := LoadStats{Messages: c.Len(), Bytes: bytes.Load(), Write: time.Since(start)}
	if err != nil {
		return st, err
	}
	st.Index, err = s.Index(c)
	return st, err
}

// Index selects every folder of the corpus once (Dovecot then assigns the
// UIDs of files it has not seen and builds its index), checks that each
// holds the corpus's count, and returns how long that took.
func (s *Server) Index(c *Corpus) (time.Duration, error) {
	start := time.Now()
	cl, err := s.Dial()
	if err != nil {
		return 0, err
	}
	defer logout(cl)
	counts := c.Counts()
	for _, f := range c.Folders() {
		sel, err := cl.Select(f, nil).Wait()
		if err != nil {
			return 0, fmt.Errorf("corpus: select %q: %w", f, err)
		}
		if int(sel.NumMessages) != counts[f] {
			return 0, fmt.Errorf("corpus: %q holds %d messages, want %d", f, sel.NumMessages, counts[f])
		}
	}
	return time.Since(start), nil
}

// Warm reads, in every folder of the corpus, what a syncing client asks
// for (UID, flags, INTERNALDATE, RFC822.SIZE, the Message-ID header) and
// every body, once, and discards it, so that Dovecot's caches and the page
// cache are as warm for the first tool measured as for the next.
func (s *Server) Warm(c *Corpus) error {
	cl, err := s.Dial()
	if err != nil {
		return err
	}
	defer logout(cl)
	for _, f := range c.Folders() {
		sel, err := cl.Select(f, &imap.SelectOptions{ReadOnly: true}).Wait()
		if err != nil {
			return fmt.Errorf("corpus: examine %q: %w", f, err)
		}
		if sel.NumMessages == 0 {
			continue
		}
		hdr := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Message-ID"}, Peek: true}
		body := &imap.FetchItemBodySection{Peek: true}
		fetch := cl.Fetch(imap.UIDSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{
			UID: true, Flags: true, InternalDate: true, RFC822Size: true,
			BodySection: []*imap.FetchItemBodySection{hdr, body},
		})
		for {
			msg := fetch.Next()
			if msg == nil {
				break
			}
			if _, err := msg.Collect(); err != nil {
				fetch.Close()
				return fmt.Errorf("corpus: fetch %q: %w", f, err)
			}
		}
		if err := fetch.Close(); err != nil {
			return fmt.Errorf("corpus: fetch %q: %w", f, err)
		}
	}
	return nil
}
