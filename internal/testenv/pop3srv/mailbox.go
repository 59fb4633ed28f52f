package pop3srv

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sync"
)

// Message is one message of a Mailbox.
type Message struct {
	UIDL string // unique-id given by UIDL
	Size int64  // size of the body as stored

	body []byte
	gen  func() io.Reader // streamed content when body is nil
}

// Open returns a reader of the message as stored.
func (m *Message) Open() io.Reader {
	if m.gen != nil {
		return io.LimitReader(m.gen(), m.Size)
	}
	return bytes.NewReader(m.body)
}

// Bytes returns the message as stored. For a generated message it reads
// the whole content into memory.
func (m *Message) Bytes() []byte {
	if m.gen == nil {
		return m.body
	}
	b, _ := io.ReadAll(m.Open())
	return b
}

// Mailbox is the maildrop shared by every session of a Server. It is safe
// for concurrent use. Sessions take a snapshot at login, as POP3 requires;
// messages deleted by another session in the meantime answer -ERR.
type Mailbox struct {
	mu     sync.Mutex
	msgs   []*Message
	nextID int
}

// Add appends a message held in memory and returns its UIDL. The bytes are
// sent as they are, dot-stuffed, so a test controls the line endings.
func (mb *Mailbox) Add(body []byte) string {
	return mb.add(&Message{body: bytes.Clone(body), Size: int64(len(body))}, "")
}

// AddWithUIDL is Add with a chosen UIDL, which may repeat another message's
// (to test a server that lies).
func (mb *Mailbox) AddWithUIDL(body []byte, uidl string) string {
	return mb.add(&Message{body: bytes.Clone(body), Size: int64(len(body))}, uidl)
}

// AddGenerated appends a message of size bytes whose content open returns
// afresh each time (it is read up to size bytes). Nothing is held in
// memory: use it for huge messages.
func (mb *Mailbox) AddGenerated(size int64, open func() io.Reader) string {
	return mb.add(&Message{gen: open, Size: size}, "")
}

func (mb *Mailbox) add(m *Message, uidl string) string {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	mb.nextID++
	if uidl == "" {
		uidl = fmt.Sprintf("u%06d-%s", mb.nextID, shortHash(m))
	}
	m.UIDL = uidl
	mb.msgs = append(mb.msgs, m)
	return uidl
}

func shortHash(m *Message) string {
	if m.gen != nil {
		return "gen"
	}
	sum := sha256.Sum256(m.body)
	return hex.EncodeToString(sum[:4])
}

// Messages returns the messages currently in the maildrop, in order.
func (mb *Mailbox) Messages() []*Message {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return append([]*Message(nil), mb.msgs...)
}

// Len returns the number of messages in the maildrop.
func (mb *Mailbox) Len() int {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return len(mb.msgs)
}

// Has reports whether m is still in the maildrop.
func (mb *Mailbox) Has(m *Message) bool {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	for _, x := range mb.msgs {
		if x == m {
			return true
		}
	}
	return false
}

// Remove deletes the given messages from the maildrop (what QUIT does
// after DELE) and returns how many were still there.
func (mb *Mailbox) Remove(msgs ...*Message) int {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	gone := map[*Message]bool{}
	for _, m := range msgs {
		gone[m] = true
	}
	kept := mb.msgs[:0]
	n := 0
	for _, m := range mb.msgs {
		if gone[m] {
			n++
			continue
		}
		kept = append(kept, m)
	}
	for i := len(kept); i < len(mb.msgs); i++ {
		mb.msgs[i] = nil
	}
	mb.msgs = kept
	return n
}

// RemoveUIDL deletes the messages with that UIDL and returns how many.
func (mb *Mailbox) RemoveUIDL(uidl string) int {
	var del []*Message
	for _, m := range mb.Messages() {
		if m.UIDL == uidl {
			del = append(del, m)
		}
	}
	return mb.Remove(del...)
}
