package daemon

import (
	"math/rand/v2"
	"time"
)

// backoff computes retry delays: exponential from min to max, each with
// jitter (a random delay between half and all of the step), so that many
// clients of one server do not retry in lockstep.
type backoff struct {
	min, max time.Duration
	n        int
}

// next returns the delay before the next attempt and advances.
func (b *backoff) next() time.Duration {
	d := b.min
	for i := 0; i < b.n && d < b.max; i++ {
		d *= 2
	}
	if d > b.max {
		d = b.max
	}
	b.n++
	return jitter(d)
}

// toMax makes every following delay the maximum (permanent errors).
func (b *backoff) toMax() time.Duration {
	b.n = 64
	return jitter(b.max)
}

// reset starts again from the minimum.
func (b *backoff) reset() { b.n = 0 }

func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + rand.N(d-half+1)
}
