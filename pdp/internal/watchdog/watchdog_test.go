package watchdog

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestChecksUntilStop: the check runs, with times in order, and Stop
// returns after the goroutine has ended (-race sees a check that
// outlives Stop writing last).
func TestChecksUntilStop(t *testing.T) {
	var calls atomic.Int64
	var last time.Time // the goroutine's, then ours after Stop
	seen := make(chan struct{})
	w := Start(time.Millisecond, func(now time.Time) {
		if !last.IsZero() && now.Sub(last) < 0 {
			t.Errorf("tick %v before %v", now, last)
		}
		last = now
		if calls.Add(1) == 3 {
			close(seen)
		}
	})
	<-seen
	w.Stop()
	last = time.Time{}
}
