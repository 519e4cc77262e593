package policy

import (
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/riskpdp/riskpdp/pdp/internal/watchdog"
)

// watchdog bounds policy evaluations without a goroutine or timer per
// evaluation (what the rego package does): an evaluation claims a slot that
// holds its deadline, and one background goroutine sweeps the slots every
// tick (the sidecar's one watchdog loop, pdp/internal/watchdog) and
// cancels those past their deadline. topdown checks the
// cancellation flag as it evaluates, so a runaway policy stops within about
// one tick of its deadline.
//
// Cost on the hot path: one CAS to claim a slot and one store to free it.
// Precision: deadlines are enforced to within one tick (timeout/4, between
// 1 ms and 10 ms).
type evalWatchdog struct {
	slots []slot
	loop  *watchdog.Watchdog
	// unguarded counts evaluations that found every slot busy and ran
	// without a deadline (only possible past len(slots) concurrent ones).
	unguarded atomic.Uint64
}

// slot implements topdown.Cancel. deadline is 0 when the slot is free, the
// deadline in Unix nanoseconds while an evaluation holds it, and -1 once the
// watchdog has cancelled that evaluation.
type slot struct {
	deadline atomic.Int64
	_        [56]byte // keep slots on separate cache lines
}

// Cancel implements topdown.Cancel; only the watchdog cancels.
func (s *slot) Cancel() {}

// Cancelled implements topdown.Cancel.
func (s *slot) Cancelled() bool { return s.deadline.Load() == -1 }

const watchdogSlots = 256

func newWatchdog(timeout time.Duration) *evalWatchdog {
	tick := min(max(timeout/4, time.Millisecond), 10*time.Millisecond)
	w := &evalWatchdog{slots: make([]slot, watchdogSlots)}
	w.loop = watchdog.Start(tick, w.sweep)
	return w
}

// acquire claims a free slot with the given deadline, or returns nil when
// all are busy.
func (w *evalWatchdog) acquire(deadline int64) *slot {
	n := uint32(len(w.slots))
	start := rand.Uint32N(n)
	for i := uint32(0); i < n; i++ {
		s := &w.slots[(start+i)%n]
		if s.deadline.Load() == 0 && s.deadline.CompareAndSwap(0, deadline) {
			return s
		}
	}
	w.unguarded.Add(1)
	return nil
}

func (w *evalWatchdog) release(s *slot) {
	if s != nil {
		s.deadline.Store(0)
	}
}

// sweep cancels the evaluations past their deadline at now.
func (w *evalWatchdog) sweep(now time.Time) {
	n := now.UnixNano()
	for i := range w.slots {
		s := &w.slots[i]
		if d := s.deadline.Load(); d > 0 && n > d {
			s.deadline.CompareAndSwap(d, -1)
		}
	}
}

func (w *evalWatchdog) close() { w.loop.Stop() }
