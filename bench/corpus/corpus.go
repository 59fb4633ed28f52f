// Package corpus generates a reproducible mail corpus and loads it into a
// private Dovecot, for mailmirror's benchmarks.
//
// A Corpus is described by a Spec (number of messages, seed, folder shares,
// share of messages with a large attachment, flag rates). Every message is
// a pure function of the Spec and its index, so messages can be generated
// in any order, in parallel, and again later (to compare what a tool
// stored with what was loaded):
//
//	c, _ := corpus.New(corpus.Default(10000, 1))
//	srv, _ := corpus.StartServer(nil)
//	defer srv.Close()
//	st, _ := srv.LoadMaildir(c, 2) // files straight into Dovecot's Maildir
//
// The default corpus is the one of the sync benchmark: 10,000 messages in
// INBOX (50%), Archive (30%), Lists/golang (15%) and Sent (5%); 95% text
// messages with a 2-20 KB body, 5% with a base64 attachment that makes the
// message 100-600 KB (about 280 MB in all); 70% \Seen, 5% \Flagged, 3%
// \Answered; dates spread over the year before 2025-01-01, rising with the
// index.
package corpus

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/mailmirror/mailmirror/internal/testenv"
)

// FolderShare is a folder and its share of the corpus in percent.
type FolderShare struct {
	Name    string // server folder name, hierarchy separated by "/"
	Percent int
}

// DefaultFolders are the folders of the default corpus.
var DefaultFolders = []FolderShare{
	{Name: "INBOX", Percent: 50},
	{Name: "Archive", Percent: 30},
	{Name: "Lists/golang", Percent: 15},
	{Name: "Sent", Percent: 5},
}

// Spec describes a corpus. Use Default for the benchmark's corpus.
type Spec struct {
	Messages int    // number of messages, at least 1
	Seed     uint64 // generator seed: the same Spec gives the same corpus

	// Folders and their shares, which must add up to 100. The rounding
	// remainder goes to the first folder.
	Folders []FolderShare

	// AttachmentPercent of the messages (exactly, rounded down) carry a
	// base64 attachment; the whole message is then AttachMin to AttachMax
	// bytes. The others have a text body of TextMin to TextMax bytes.
	AttachmentPercent    int
	TextMin, TextMax     int
	AttachMin, AttachMax int

	// Chance in percent of each flag, drawn per message.
	SeenPercent, FlaggedPercent, AnsweredPercent int

	// Start and End bound the messages' dates; dates rise with the index.
	Start, End time.Time
}

// Default returns the sync benchmark's corpus: see the package comment.
func Default(messages int, seed uint64) Spec {
	return Spec{
		Messages:          messages,
		Seed:              seed,
		Folders:           slices.Clone(DefaultFolders),
		AttachmentPercent: 5,
		TextMin:           2000,
		TextMax:           20000,
		AttachMin:         100_000,
		AttachMax:         600_000,
		SeenPercent:       70,
		FlaggedPercent:    5,
		AnsweredPercent:   3,
		Start:             time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC),
		End:               time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
	}
}

// Message is one generated message.
type Message struct {
	Index     int       // position in the corpus, 0-based
	Folder    string    // server folder
	Flags     string    // Maildir info letters, sorted: "F", "R", "S" or none
	Date      time.Time // Date header and INTERNALDATE
	MessageID string    // Message-ID with its angle brackets, unique in the corpus
	Data      []byte    // the RFC 5322 message, CRLF line ends
}

// IMAPFlags returns the message's flags in IMAP form.
func (m *Message) IMAPFlags() []imap.Flag {
	var out []imap.Flag
	for _, l := range m.Flags {
		switch l {
		case 'F':
			out = append(out, imap.FlagFlagged)
		case 'R':
			out = append(out, imap.FlagAnswered)
		case 'S':
			out = append(out, imap.FlagSeen)
		}
	}
	return out
}

// Corpus is a validated Spec with its folder and attachment plan. It is
// safe for concurrent use.
type Corpus struct {
	spec     Spec
	folderOf []uint8 // index into spec.Folders, per message
	attach   []bool  // message carries an attachment
	counts   []int   // messages per folder
}

// New checks spec and plans which message goes where.
func New(spec Spec) (*Corpus, error) {
	if spec.Messages < 1 {
		return nil, fmt.Errorf("corpus: %d messages: need at least 1", spec.Messages)
	}
	if len(spec.Folders) == 0 || len(spec.Folders) > 255 {
		return nil, fmt.Errorf("corpus: %d folders: need 1 to 255", len(spec.Folders))
	}
	sum := 0
	for _, f := range spec.Folders {
		if f.Name == "" || f.Percent < 0 {
			return nil, fmt.Errorf("corpus: bad folder share %+v", f)
		}
		sum += f.Percent
	}
	if sum != 100 {
		return nil, fmt.Errorf("corpus: folder shares add up to %d%%, want 100%%", sum)
	}
	if spec.TextMin < 0 || spec.TextMax < spec.TextMin || spec.AttachMax < spec.AttachMin ||
		spec.AttachmentPercent < 0 || spec.AttachmentPercent > 100 || !spec.End.After(spec.Start) {
		return nil, errors.New("corpus: inconsistent sizes, attachment share or dates")
	}
	n := spec.Messages
	c := &Corpus{spec: spec, folderOf: make([]uint8, n), attach: make([]bool, n), counts: make([]int, len(spec.Folders))}
	r := rand.New(rand.NewPCG(spec.Seed, 0x636f72707573)) // "corpus"

	// Exact folder counts, the remainder to the first folder, spread over
	// the indexes by a shuffle.
	slots := make([]uint8, 0, n)
	for i, f := range spec.Folders {
		c.counts[i] = n * f.Percent / 100
	}
	assigned := 0
	for _, k := range c.counts {
		assigned += k
	}
	c.counts[0] += n - assigned
	for i, k := range c.counts {
		for range k {
			slots = append(slots, uint8(i))
		}
	}
	r.Shuffle(len(slots), func(i, j int) { slots[i], slots[j] = slots[j], slots[i] })
	copy(c.folderOf, slots)

	// Exactly AttachmentPercent of the messages get an attachment.
	perm := r.Perm(n)
	for _, i := range perm[:n*spec.AttachmentPercent/100] {
		c.attach[i] = true
	}
	return c, nil
}

// Spec returns the corpus's Spec.
func (c *Corpus) Spec() Spec { return c.spec }

// Len is the number of messages.
func (c *Corpus) Len() int { return c.spec.Messages }

// Folders returns the folder names in Spec order.
func (c *Corpus) Folders() []string {
	out := make([]string, len(c.spec.Folders))
	for i, f := range c.spec.Folders {
		out[i] = f.Name
	}
	return out
}

// Counts returns the number of messages per folder.
func (c *Corpus) Counts() map[string]int {
	out := make(map[string]int, len(c.counts))
	for i, f := range c.spec.Folders {
		out[f.Name] = c.counts[i]
	}
	return out
}

// Message generates message i. It does no I/O and is deterministic. An i
// at or beyond Len gives an extra text message for the first folder (for
// "new mail arrives" measurements), dated after the corpus, unflagged;
// extra messages are distinct from each other and from the corpus.
func (c *Corpus) Message(i int) Message {
	s := c.spec
	r := rand.New(rand.NewPCG(s.Seed, 0x6d7367<<32|uint64(i))) // "msg"
	m := Message{Index: i, Folder: s.Folders[0].Name}
	span := s.End.Sub(s.Start)
	step := span / time.Duration(s.Messages)
	m.Date = s.Start.Add(time.Duration(i)*step + time.Duration(r.Int64N(int64(max(step, 1))))).Truncate(time.Second)
	opts := &testenv.GenOptions{}
	if i < s.Messages {
		m.Folder = s.Folders[c.folderOf[i]].Name
		var flags []byte
		if r.IntN(100) < s.FlaggedPercent {
			flags = append(flags, 'F')
		}
		if r.IntN(100) < s.AnsweredPercent {
			flags = append(flags, 'R')
		}
		if r.IntN(100) < s.SeenPercent {
			flags = append(flags, 'S')
		}
		m.Flags = string(flags)
	} else {
		m.Date = s.End.Add(time.Duration(i-s.Messages+1) * time.Minute)
	}
	if i < s.Messages && c.attach[i] {
		// The text part stays small; base64 grows the attachment by 4/3
		// and adds CRLFs every 76 characters: aim the whole message at
		// the drawn size.
		opts.BodySize = 500 + r.IntN(1500)
		total := s.AttachMin + r.IntN(s.AttachMax-s.AttachMin+1)
		opts.AttachmentSize = max(1, (total-opts.BodySize-800)*57/78)
	} else {
		opts.BodySize = s.TextMin + r.IntN(s.TextMax-s.TextMin+1)
	}
	m.MessageID = fmt.Sprintf("<bench.%d.%d.%016x@mailmirror.test>", s.Seed, i, r.Uint64())
	opts.MessageID = m.MessageID
	opts.Date = m.Date
	if m.Folder == "Sent" {
		opts.From = "Me <me@example.org>"
	}
	m.Data = testenv.GenMessage(r, opts)
	return m
}

// Each generates every message with workers goroutines (at least 1) and
// calls fn for each, concurrently from those goroutines and in no
// particular order. It stops at the first error fn returns and returns it.
func (c *Corpus) Each(workers int, fn func(Message) error) error {
	workers = max(workers, 1)
	var next atomic.Int64
	var stop atomic.Bool
	var once sync.Once
	var first error
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				i := int(next.Add(1) - 1)
				if i >= c.spec.Messages {
					return
				}
				if err := fn(c.Message(i)); err != nil {
					once.Do(func() { first = err })
					stop.Store(true)
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// ToLF returns data with CRLF line ends turned into LF, as Dovecot stores
// messages in a Maildir.
func ToLF(data []byte) []byte {
	return bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
}

// MaildirName returns a Maildir file name for m as Dovecot would write it:
// the date as the time stamp, S= the size on disk (LF line ends), W= the
// size IMAP reports (CRLF), and the flags after ":2,". unique tells corpora
// loaded by different processes apart.
func MaildirName(m *Message, unique string, lfSize int) string {
	return fmt.Sprintf("%d.M%dP%s.bench,S=%d,W=%d:2,%s", m.Date.Unix(), m.Index, unique, lfSize, len(m.Data), m.Flags)
}

// folderDir returns the directory of folder inside a Dovecot user's
// Maildir with LAYOUT=fs: INBOX is the root, others are subdirectories.
func folderDir(root, folder string) string {
	if strings.EqualFold(folder, "INBOX") {
		return root
	}
	return filepath.Join(root, filepath.FromSlash(folder))
}
