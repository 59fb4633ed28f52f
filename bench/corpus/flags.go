package corpus

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/emersion/go-imap/v2"
)

// FlagChange is one flag change ChangeFlags made on the server.
type FlagChange struct {
	Folder string
	UID    imap.UID
	Flag   imap.Flag // \Seen or \Flagged
	Added  bool      // true: set; false: cleared
}

// ChangeFlags plays another client: it picks n messages at random among
// all of the given folders (the same ones for the same seed and server
// content) and changes one flag of each: half of them get \Seen toggled,
// the others \Flagged toggled. Changes are grouped into one UID STORE per
// folder, flag and direction, over a connection of its own.
func (s *Server) ChangeFlags(folders []string, n int, seed uint64) ([]FlagChange, error) {
	c, err := s.Dial()
	if err != nil {
		return nil, err
	}
	defer logout(c)
	type msg struct {
		folder string
		uid    imap.UID
		flags  []imap.Flag
	}
	var all []msg
	for _, f := range folders {
		sel, err := c.Select(f, &imap.SelectOptions{ReadOnly: true}).Wait()
		if err != nil {
			return nil, fmt.Errorf("corpus: examine %q: %w", f, err)
		}
		if sel.NumMessages == 0 {
			continue
		}
		bufs, err := c.Fetch(imap.UIDSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Flags: true}).Collect()
		if err != nil {
			return nil, fmt.Errorf("corpus: fetch flags of %q: %w", f, err)
		}
		for _, b := range bufs {
			all = append(all, msg{folder: f, uid: b.UID, flags: b.Flags})
		}
	}
	slices.SortFunc(all, func(a, b msg) int {
		if a.folder != b.folder {
			return slices.Index(folders, a.folder) - slices.Index(folders, b.folder)
		}
		return int(a.uid) - int(b.uid)
	})
	if n > len(all) {
		return nil, fmt.Errorf("corpus: %d flag changes asked, only %d messages", n, len(all))
	}
	r := rand.New(rand.NewPCG(seed, 0x666c616773)) // "flags"
	type group struct {
		folder string
		flag   imap.Flag
		add    bool
	}
	groups := map[group][]imap.UID{}
	var changes []FlagChange
	for k, i := range r.Perm(len(all))[:n] {
		m := all[i]
		flag := imap.FlagSeen
		if k%2 == 1 {
			flag = imap.FlagFlagged
		}
		add := !slices.Contains(m.flags, flag)
		g := group{m.folder, flag, add}
		groups[g] = append(groups[g], m.uid)
		changes = append(changes, FlagChange{Folder: m.folder, UID: m.uid, Flag: flag, Added: add})
	}
	for _, f := range folders {
		var selected bool
		for _, flag := range []imap.Flag{imap.FlagSeen, imap.FlagFlagged} {
			for _, add := range []bool{true, false} {
				uids := groups[group{f, flag, add}]
				if len(uids) == 0 {
					continue
				}
				if !selected {
					if _, err := c.Select(f, nil).Wait(); err != nil {
						return nil, fmt.Errorf("corpus: select %q: %w", f, err)
					}
					selected = true
				}
				op := imap.StoreFlagsDel
				if add {
					op = imap.StoreFlagsAdd
				}
				err := c.Store(imap.UIDSetNum(uids...), &imap.StoreFlags{Op: op, Silent: true, Flags: []imap.Flag{flag}}, nil).Close()
				if err != nil {
					return nil, fmt.Errorf("corpus: store flags in %q: %w", f, err)
				}
			}
		}
	}
	return changes, nil
}

// Reverted returns the changes that no longer hold on the server: the flag
// is missing where it was set, or present where it was cleared (another
// client, e.g. a sync tool, undid them). It reads over a connection of
// its own.
func (s *Server) Reverted(changes []FlagChange) ([]FlagChange, error) {
	c, err := s.Dial()
	if err != nil {
		return nil, err
	}
	defer logout(c)
	byFolder := map[string][]FlagChange{}
	var folders []string
	for _, ch := range changes {
		if _, ok := byFolder[ch.Folder]; !ok {
			folders = append(folders, ch.Folder)
		}
		byFolder[ch.Folder] = append(byFolder[ch.Folder], ch)
	}
	var out []FlagChange
	for _, f := range folders {
		if _, err := c.Select(f, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
			return nil, fmt.Errorf("corpus: examine %q: %w", f, err)
		}
		var uids []imap.UID
		for _, ch := range byFolder[f] {
			uids = append(uids, ch.UID)
		}
		bufs, err := c.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{UID: true, Flags: true}).Collect()
		if err != nil {
			return nil, fmt.Errorf("corpus: fetch flags in %q: %w", f, err)
		}
		flags := map[imap.UID][]imap.Flag{}
		for _, b := range bufs {
			flags[b.UID] = b.Flags
		}
		for _, ch := range byFolder[f] {
			fl, ok := flags[ch.UID]
			if !ok || slices.Contains(fl, ch.Flag) != ch.Added {
				out = append(out, ch)
			}
		}
	}
	return out, nil
}
