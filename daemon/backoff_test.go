package daemon

import (
	"testing"
	"time"
)

func TestBackoffGrowsWithJitterUpToMax(t *testing.T) {
	b := backoff{min: time.Second, max: 5 * time.Minute}
	step := time.Second
	for i := 0; i < 20; i++ {
		d := b.next()
		if d < step/2 || d > step {
			t.Fatalf("attempt %d: delay %v, want within [%v, %v]", i, d, step/2, step)
		}
		step = min(step*2, 5*time.Minute)
	}
	if d := b.toMax(); d < 150*time.Second || d > 5*time.Minute {
		t.Errorf("toMax gave %v", d)
	}
	b.reset()
	if d := b.next(); d > time.Second {
		t.Errorf("after reset: %v", d)
	}
}

func TestClockJumped(t *testing.T) {
	for _, c := range []struct {
		mono, wall time.Duration
		want       bool
	}{
		{10 * time.Second, 10 * time.Second, false},
		{10 * time.Second, 10*time.Second + 50*time.Millisecond, false},
		{10 * time.Second, 2 * time.Hour, true},    // resume after sleep
		{10 * time.Second, -3 * time.Minute, true}, // clock set back
		{10 * time.Second, 10*time.Second + 59*time.Second, false},
	} {
		if got := clockJumped(c.mono, c.wall, time.Minute); got != c.want {
			t.Errorf("mono %v, wall %v: jumped=%v, want %v", c.mono, c.wall, got, c.want)
		}
	}
}
