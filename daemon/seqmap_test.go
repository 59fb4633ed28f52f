package daemon

import "testing"

func TestSeqMap(t *testing.T) {
	var m seqMap
	m.exists(4)
	m.reset([]uint32{10, 11, 12, 13})
	if uid, ok := m.expunge(2); !ok || uid != 11 {
		t.Fatalf("expunge 2 = %d, %v; want 11", uid, ok)
	}
	// 10 12 13; two new messages, UIDs unknown.
	m.exists(5)
	if uid, ok := m.expunge(5); ok {
		t.Fatalf("expunge of an unknown tail message mapped to %d", uid)
	}
	// 10 12 13 ?; the tail is filled.
	from, n := m.unknown()
	if from != 4 || n != 1 {
		t.Fatalf("unknown = %d, %d; want 4, 1", from, n)
	}
	m.fill(4, []uint32{20})
	if uid, ok := m.expunge(4); !ok || uid != 20 {
		t.Fatalf("expunge 4 = %d, %v; want 20", uid, ok)
	}
	if uid, ok := m.expunge(1); !ok || uid != 10 {
		t.Fatalf("expunge 1 = %d, %v; want 10", uid, ok)
	}
	// A fill that no longer continues the prefix is ignored.
	m.exists(3)
	m.fill(9, []uint32{30})
	if _, n := m.unknown(); n != 1 {
		t.Fatalf("a stale fill was taken")
	}
	if _, ok := m.expunge(0); ok {
		t.Fatal("seq 0 mapped")
	}
	if _, ok := m.expunge(99); ok {
		t.Fatal("seq out of range mapped")
	}
	// An EXISTS announced during the UID search: the map knows it lacks
	// the last message.
	var r seqMap
	r.exists(3)
	r.reset([]uint32{1, 2})
	if from, n := r.unknown(); from != 3 || n != 1 {
		t.Fatalf("after reset: unknown = %d, %d; want 3, 1", from, n)
	}
}
