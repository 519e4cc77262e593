// Package watchdog is the sidecar's one watchdog: a single goroutine per
// watched set that, every interval, checks the calls in flight, so that
// bounding a call costs the call no timer and no goroutine of its own.
// What a call is and how it is stopped belongs to the caller's check: the
// plugins' (pdp/internal/plugin: a WASM call seen running past its budget
// gets its fuel taken away) and the policy evaluator's (pdp/internal/policy:
// a slot past its deadline is marked cancelled for topdown).
package watchdog

import (
	"sync"
	"time"
)

// Watchdog runs a check every interval until Stop.
type Watchdog struct {
	stop chan struct{}
	done sync.WaitGroup
}

// Start runs check on one goroutine every interval, with the time it
// runs at (time.Now, read when the check starts rather than when the tick
// fired, so a watchdog that got the CPU late does not see an earlier
// time; it carries the monotonic clock, so now.Sub of an earlier time.Now
// ignores wall clock steps), until Stop. A check that runs late or long
// delays the next one; ticks are not queued.
func Start(interval time.Duration, check func(now time.Time)) *Watchdog {
	w := &Watchdog{stop: make(chan struct{})}
	w.done.Add(1)
	go func() {
		defer w.done.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
				check(time.Now())
			}
		}
	}()
	return w
}

// Stop ends the watchdog and waits for a check in progress. It must be
// called once.
func (w *Watchdog) Stop() {
	close(w.stop)
	w.done.Wait()
}
