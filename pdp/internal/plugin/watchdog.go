package plugin

import (
	"time"

	watchdogpkg "github.com/riskpdp/riskpdp/pdp/internal/watchdog"
)

// watchdog is the one goroutine per set that stops calls running past
// their time budget. It samples every instance each interval: a running
// call (odd generation) seen again with the same generation at least its
// budget after it was first seen is marked killed and its fuel set to
// stopFuel, so the guest traps at its next function entry or loop head. It never stops
// a call early: the first sighting is after the call started. It stops it
// at most budget + 2 intervals after its start, provided the watchdog gets
// a CPU; the fuel bounds the call when it does not (see RATIONALE).
//
// The goroutine and its ticker are pdp/internal/watchdog's, which the
// policy evaluator's watchdog is meant to share; sample is the plugins'
// check.
type watchdog struct {
	plugins []*plugin
	wd      *watchdogpkg.Watchdog
}

func startWatchdog(interval time.Duration, plugins []*plugin) *watchdog {
	w := &watchdog{plugins: plugins}
	start := time.Now()
	w.wd = watchdogpkg.Start(interval, func(now time.Time) { w.sample(int64(now.Sub(start))) })
	return w
}

// sample checks every instance once; now is monotonic nanoseconds.
func (w *watchdog) sample(now int64) {
	for _, p := range w.plugins {
		p.pool.mu.Lock()
		for _, in := range p.pool.all {
			in.watch(now)
		}
		p.pool.mu.Unlock()
	}
}

// watch is one sample of one instance.
func (in *instance) watch(now int64) {
	v := in.run.Load()
	switch {
	case v&1 == 0:
		in.wdGen = 0 // idle
	case v&killBit != 0:
		// Stopped but still running: the guest's decrement may have raced
		// with our store, so store again.
		in.fuel.Set(stopFuel)
	case v != in.wdGen:
		in.wdGen, in.wdSince = v, now // a call we have not seen before
	case now-in.wdSince >= in.budget.Load():
		if in.run.CompareAndSwap(v, v|killBit) {
			in.fuel.Set(stopFuel)
		}
	}
}

func (w *watchdog) close() { w.wd.Stop() }
