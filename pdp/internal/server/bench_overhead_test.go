package server

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp/internal/decide"
)

// BenchmarkOverhead measures what risk state and scoring plugins add to a
// decision, side by side in one run: the same requests are decided by the
// plain service (the default configuration, no state, no plugins) and by
// the service with the feature, in alternating blocks of pairBlock
// decisions, each decision timed. A block is long enough for each service
// to run with its own data in the caches, as a sidecar does, and short
// enough (a few milliseconds) that both see the machine in the same state,
// so the difference does not drift with how busy or fast the machine is.
//
// Reported: the median time of a plain decision (base-p50-ns), of a
// decision with the feature (with-p50-ns), and the median over adjacent
// block pairs of the difference of their medians (extra-p50-ns): the cost
// the issues bound (state with cache hits ≤ 10 µs, the three example
// plugins ≤ 5 µs). ns/op is the mean time of a decision, both services.
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

// pairBlock is the number of decisions a service makes before the other
// takes over in benchPair.
const pairBlock = 64

func benchPair(b *testing.B, bodies [][]byte, base, with *decide.Service) {
	ctx := context.Background()
	buf := make([]byte, 0, 1024)
	var all [2][]int64      // per decision: base, with
	var blocks [2][]float64 // per block: its median
	cur := make([]int64, 0, pairBlock)
	svcs := [2]*decide.Service{base, with}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		k := i / pairBlock % 2
		start := time.Now()
		d, err := svcs[k].Decide(ctx, bodies[i%len(bodies)], "")
		if err != nil {
			b.Fatal(err)
		}
		buf = appendDecision(buf[:0], d)
		cur = append(cur, int64(time.Since(start)))
		if len(cur) == pairBlock {
			all[k] = append(all[k], cur...)
			blocks[k] = append(blocks[k], median(cur))
			cur = cur[:0]
		}
		i++
	}
	b.StopTimer()
	var extra []int64
	for j := range min(len(blocks[0]), len(blocks[1])) {
		extra = append(extra, int64(blocks[1][j]-blocks[0][j]))
	}
	b.ReportMetric(median(all[0]), "base-p50-ns")
	b.ReportMetric(median(all[1]), "with-p50-ns")
	b.ReportMetric(median(extra), "extra-p50-ns")
}

// median sorts v and returns its middle element (0 when empty).
func median(v []int64) float64 {
	if len(v) == 0 {
		return 0
	}
	slices.Sort(v)
	return float64(v[len(v)/2])
}
