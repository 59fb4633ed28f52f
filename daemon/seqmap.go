package daemon

import "sync"

// seqMap maps the message sequence numbers of an IDLE connection's
// folder to UIDs, so that an EXPUNGE (which names a sequence number) says
// which message went. It holds the UIDs of a known prefix of the folder
// (filled by a UID list after SELECT and by FETCHes of the tail) and counts
// the messages after it whose UIDs are not known yet (new since the last
// fill). It is used from the client's reader goroutine and the idler's.
type seqMap struct {
	mu    sync.Mutex
	uids  []uint32 // UIDs of messages 1..len(uids)
	tail  int      // messages after them, UIDs unknown
	count int      // the folder's message count, as last announced
}

// reset sets the UIDs of the folder's first messages, in sequence order
// (all of them, unless an EXISTS announced more meanwhile).
func (m *seqMap) reset(uids []uint32) {
	m.mu.Lock()
	m.uids = uids
	m.tail = max(m.count-len(uids), 0)
	m.mu.Unlock()
}

// exists records the folder's new message count.
func (m *seqMap) exists(n uint32) {
	m.mu.Lock()
	m.count = int(n)
	m.tail = max(int(n)-len(m.uids), 0)
	m.mu.Unlock()
}

// expunge removes message seq and returns its UID; ok is false when its
// UID is not known (a message of the tail, or a seq out of range).
func (m *seqMap) expunge(seq uint32) (uid uint32, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	i := int(seq) - 1
	switch {
	case i >= 0 && i < len(m.uids):
		m.count--
		uid = m.uids[i]
		m.uids = append(m.uids[:i], m.uids[i+1:]...)
		return uid, true
	case i >= len(m.uids) && i < len(m.uids)+m.tail:
		m.count--
		m.tail--
	}
	return 0, false
}

// unknown returns the first sequence number whose UID is not known and
// how many follow it (0 when the map is complete).
func (m *seqMap) unknown() (from uint32, n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return uint32(len(m.uids) + 1), m.tail
}

// fill records the UIDs of messages from seq on (a FETCH of the tail).
// Sequence numbers that do not continue the known prefix are ignored.
func (m *seqMap) fill(from uint32, uids []uint32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if int(from) != len(m.uids)+1 {
		return // an expunge moved the prefix meanwhile: fill again later
	}
	n := min(len(uids), m.tail)
	m.uids = append(m.uids, uids[:n]...)
	m.tail -= n
}
