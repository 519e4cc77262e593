// Package benchutil holds helpers for the project's benchmarks.
package benchutil

import (
	"syscall"
	"testing"
	"time"
)

// CPUTime reports, next to ns/op, the process CPU time (user + system, all
// threads, GC included) per operation as "cpu-ns/op". Wall time per op
// inflates when the machine is busy and the benchmark is descheduled; CPU
// time does not, so comparisons stay meaningful on a shared 2-core machine.
//
// Call it after setup; it resets the timer and reports when b finishes.
func CPUTime(b *testing.B) {
	b.Helper()
	start := cpuNow()
	b.ResetTimer()
	b.Cleanup(func() {
		if b.N > 0 {
			b.ReportMetric(float64(cpuNow()-start)/float64(b.N), "cpu-ns/op")
		}
	})
}

func cpuNow() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
