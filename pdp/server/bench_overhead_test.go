package server

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp/decide"
)

// BenchmarkOverhead measures what risk state and scoring plugins add to a
// decision, side by side in one run: every iteration decides the same
// request once on the plain service (the default configuration, no state,
// no plugins) and once on the service with the feature, in alternating
// order, and times each call. Both see the same machine at the same moment,
// so the difference does not depend on how busy the machine is.
//
// Reported: the median time of a plain decision (base-p50-ns), of a decision
// with the feature (with-p50-ns), and the median of the paired differences
// (extra-p50-ns): the cost the issues bound (state with cache hits ≤ 10 µs,
// the three example plugins ≤ 5 µs). ns/op is the time of both decisions.
func BenchmarkOverhead(b *testing.B) {
	b.Run("state", func(b *testing.B) {
		with, bodies := enrichedService(b, 1000, false)
		benchPair(b, bodies, newDecide(b, benchOptions(b, true)), with)
	})
	b.Run("plugins", func(b *testing.B) {
		o := benchOptions(b, true)
		o.Plugins = examplePlugins(b)
		benchPair(b, [][]byte{representative}, newDecide(b, benchOptions(b, true)), newDecide(b, o))
	})
}

func benchPair(b *testing.B, bodies [][]byte, base, with *decide.Service) {
	ctx := context.Background()
	buf := make([]byte, 0, 1024)
	call := func(svc *decide.Service, body []byte) int64 {
		start := time.Now()
		d, err := svc.Decide(ctx, body, "")
		if err != nil {
			b.Fatal(err)
		}
		buf = appendDecision(buf[:0], d)
		return int64(time.Since(start))
	}
	var baseNs, withNs, extra []int64
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		body := bodies[i%len(bodies)]
		var tb, tw int64
		if i%2 == 0 {
			tb = call(base, body)
			tw = call(with, body)
		} else {
			tw = call(with, body)
			tb = call(base, body)
		}
		baseNs, withNs, extra = append(baseNs, tb), append(withNs, tw), append(extra, tw-tb)
		i++
	}
	b.StopTimer()
	b.ReportMetric(median(baseNs), "base-p50-ns")
	b.ReportMetric(median(withNs), "with-p50-ns")
	b.ReportMetric(median(extra), "extra-p50-ns")
}

func median(v []int64) float64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	return float64(v[len(v)/2])
}
