package daemon

import "testing"

// An idler's offered connection is taken at most once, only for its own
// folder and only while offered (not after the idler withdrew it), and is
// given back once however often giveBack runs.
func TestLeaseTakenOnce(t *testing.T) {
	a := &account{idlers: map[string]*idler{}}
	i := &idler{a: a, folder: "INBOX", remote: "INBOX"}
	a.idlers["INBOX"] = i
	l := &lease{done: make(chan struct{})}
	i.offered = l
	if got := a.takeLease("Archive"); got != nil {
		t.Fatal("took INBOX's lease for Archive")
	}
	if got := a.takeLease("INBOX"); got != l {
		t.Fatalf("takeLease: %v, want the offered lease", got)
	}
	if got := a.takeLease("INBOX"); got != nil {
		t.Fatal("a lease taken twice")
	}
	l.giveBack()
	l.giveBack()
	<-l.done

	w := &lease{done: make(chan struct{})}
	i.offered = w
	if !w.state.CompareAndSwap(leaseOffered, leaseWithdrawn) {
		t.Fatal("withdraw")
	}
	if got := a.takeLease("INBOX"); got != nil {
		t.Fatal("took a withdrawn lease")
	}
	var none *lease
	none.giveBack() // a targeted pass without a lease
}
