// Package backoff is the sidecar's one retry back-off, built on
// github.com/cenkalti/backoff/v5: every loop that waits longer after each
// failure and starts over after a success (the state writer's flushes and
// range refresher, the decision log's uploads, the plugins' quarantine,
// the bundle poller) takes its intervals from Exponential.
package backoff

import (
	"time"

	cenkalti "github.com/cenkalti/backoff/v5"
)

// Backoff is what Exponential returns: NextBackOff after a failure, Reset
// after a success.
type Backoff = cenkalti.ExponentialBackOff

// Exponential returns a back-off whose NextBackOff gives initial, then
// each interval multiplier times the one before, never more than max
// (initial included), each randomized by ±jitter (0.2: ±20%; 0: none).
// Reset starts it over from initial (after a success). It is not safe for
// concurrent use.
func Exponential(initial, max time.Duration, multiplier, jitter float64) *Backoff {
	b := &cenkalti.ExponentialBackOff{
		InitialInterval:     min(initial, max),
		RandomizationFactor: jitter,
		Multiplier:          multiplier,
		MaxInterval:         max,
	}
	b.Reset()
	return b
}
