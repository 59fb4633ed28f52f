package daemon

import (
	"context"
	"net"
	"slices"
	"time"
)

// monitor watches for a jump of the wall clock (a laptop resuming from
// sleep: the monotonic clock stood still while the wall clock went on) and
// for a change of the network addresses, and sends the reason on wake.
func (d *Daemon) monitor(ctx context.Context, wake chan<- string) {
	clock := time.NewTicker(d.opts.ClockCheck)
	defer clock.Stop()
	var netC <-chan time.Time
	var addrs []string
	if d.opts.NetCheck > 0 {
		t := time.NewTicker(d.opts.NetCheck)
		defer t.Stop()
		netC = t.C
		addrs = interfaceAddrs()
	}
	last := time.Now()
	send := func(why string) {
		select {
		case wake <- why:
		default:
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-clock.C:
			if clockJumped(now.Sub(last), now.Round(0).Sub(last.Round(0)), d.opts.ClockJump) {
				send("the wall clock jumped (resume from sleep?)")
			}
			last = now
		case <-netC:
			cur := interfaceAddrs()
			if !slices.Equal(cur, addrs) {
				addrs = cur
				send("network addresses changed")
			}
		}
	}
}

// clockJumped compares the monotonic and wall-clock time elapsed between
// two readings of time.Now (Round(0) strips the monotonic reading).
func clockJumped(mono, wall, limit time.Duration) bool {
	diff := wall - mono
	if diff < 0 {
		diff = -diff
	}
	return diff > limit
}

// interfaceAddrs lists the addresses of the interfaces that are up, sorted;
// nil when they cannot be read.
func interfaceAddrs() []string {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil
	}
	var out []string
	for _, i := range ifs {
		if i.Flags&net.FlagUp == 0 || i.Flags&net.FlagLoopback != 0 {
			continue
		}
		as, err := i.Addrs()
		if err != nil {
			continue
		}
		for _, a := range as {
			out = append(out, i.Name+" "+a.String())
		}
	}
	slices.Sort(out)
	return out
}
