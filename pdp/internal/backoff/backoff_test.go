package backoff

import (
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/util"
)

// TestSequence: without jitter the intervals are initial·multiplier^n,
// capped at max, and Reset starts over; an initial above max is max.
func TestSequence(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		initial, max time.Duration
		mult         float64
		want         []time.Duration
	}{
		{100 * ms, time.Second, 2, []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, time.Second, time.Second}},
		{300 * ms, time.Second, 2, []time.Duration{300 * ms, 600 * ms, time.Second, time.Second}},
		{2 * time.Second, time.Second, 2, []time.Duration{time.Second, time.Second}},
		{100 * ms, time.Second, 1.6, []time.Duration{100 * ms, 160 * ms, 256 * ms, 409600 * time.Microsecond, 655360 * time.Microsecond, time.Second}},
	} {
		b := Exponential(c.initial, c.max, c.mult, 0)
		for range 2 {
			for i, want := range c.want {
				if got := b.NextBackOff(); got != want {
					t.Fatalf("%+v: interval %d = %v, want %v", c, i, got, want)
				}
			}
			b.Reset()
		}
	}
}

// TestJitter: with jitter j every interval lies within ±j of the
// unrandomized one (and one nanosecond, cenkalti's rounding).
func TestJitter(t *testing.T) {
	plain := Exponential(100*time.Millisecond, 30*time.Second, 2, 0)
	b := Exponential(100*time.Millisecond, 30*time.Second, 2, 0.2)
	for range 1000 {
		want, got := plain.NextBackOff(), b.NextBackOff()
		if lo, hi := time.Duration(0.8*float64(want)), time.Duration(1.2*float64(want))+1; got < lo || got > hi {
			t.Fatalf("%v outside [%v, %v]", got, lo, hi)
		}
	}
}

// TestBundleMatchesOPA: the bundle poller's back-off (160 ms, ×1.6, up to
// MaxDelay) gives the intervals of OPA's util.Backoff from 100 ms, which
// it used before, for every retry count (without jitter; to within 30 ns:
// the two round at different steps).
func TestBundleMatchesOPA(t *testing.T) {
	for _, maxDelay := range []time.Duration{50 * time.Millisecond, 120 * time.Millisecond, time.Second, 30 * time.Second} {
		b := Exponential(160*time.Millisecond, maxDelay, 1.6, 0)
		for retries := 1; retries <= 30; retries++ {
			want := util.Backoff(float64(100*time.Millisecond), float64(maxDelay), 0, 1.6, retries)
			if got := b.NextBackOff(); got < want-30 || got > want+30 {
				t.Fatalf("max %v, retry %d: %v, OPA %v", maxDelay, retries, got, want)
			}
		}
	}
}
