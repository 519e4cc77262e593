package server

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp/internal/benchutil"
	"github.com/riskpdp/riskpdp/pdp/internal/decide"
	"github.com/riskpdp/riskpdp/pdp/internal/decisionlog"
	"github.com/riskpdp/riskpdp/pdp/internal/metrics"
)

// BenchmarkDecisionLog is the decide path with the decision log off, on
// (async: the record is queued, rendered and written by the log's
// goroutine; the buffer blocks when full so every record is written and
// the writer's cost is in the figure) and in sync mode (written and
// fsynced before the answer, concurrent decisions sharing one fsync).
// Eight callers decide in parallel, as a loaded sidecar does; records/op
// and lost/op say that the log kept up.
func BenchmarkDecisionLog(b *testing.B) {
	b.Run("off", func(b *testing.B) { benchLog(b, "") })
	b.Run("async", func(b *testing.B) { benchLog(b, "async") })
	b.Run("sync", func(b *testing.B) { benchLog(b, "sync") })
}

func benchLog(b *testing.B, mode string) {
	opts := benchOptions(b, true)
	var l *decisionlog.Logger
	var err error
	if mode != "" {
		l, err = decisionlog.New(decisionlog.Config{Path: filepath.Join(b.TempDir(), "decisions.jsonl"),
			Overflow: decisionlog.OverflowBlock, BlockTimeout: time.Second, Sync: mode == "sync"})
		if err != nil {
			b.Fatal(err)
		}
		opts.DecisionLog, opts.DecisionLogSync = l, mode == "sync"
	}
	svc, err := decide.New(opts)
	if err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	b.ReportAllocs()
	benchutil.CPUTime(b)
	b.SetParallelism(4) // 8 callers on 2 cores
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		buf := make([]byte, 0, 1024)
		for pb.Next() {
			i := n.Add(1)
			body := bytes.Replace(representative, []byte(`"t-9"`), fmt.Appendf(nil, `"t-%d"`, i), 1)
			d, err := svc.Decide(ctx, body, "")
			if err != nil {
				b.Fatal(err)
			}
			buf = appendDecision(buf[:0], d)
		}
	})
	if l == nil {
		return
	}
	if err := l.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	st := l.Stats()
	var lost uint64
	for _, v := range st.Dropped {
		lost += v
	}
	b.ReportMetric(float64(st.Logged)/float64(b.N), "records/op")
	b.ReportMetric(float64(lost)/float64(b.N), "lost/op")
}

// BenchmarkShadow is one caller deciding with no shadow and with a shadow
// policy set (the same policies, a second engine) evaluating 100 % of the
// decisions on the other core: the live latency percentiles should not
// move. shadowed/op says the shadow kept up (1) or shed (below 1).
func BenchmarkShadow(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := map[bool]string{false: "off", true: "100%"}[on]
		b.Run(name, func(b *testing.B) {
			opts := benchOptions(b, true)
			var sh *decide.Shadow
			if on {
				cand := benchOptions(b, true)
				sh = decide.NewShadow(decide.ShadowOptions{Engine: cand.Engine, SampleRate: 1, Metrics: opts.Metrics})
				opts.Shadow = sh
			}
			svc, err := decide.New(opts)
			if err != nil {
				b.Fatal(err)
			}
			lat := make([]time.Duration, 0, 1<<16)
			ctx := context.Background()
			buf := make([]byte, 0, 1024)
			b.ReportAllocs()
			benchutil.CPUTime(b)
			for b.Loop() {
				t0 := time.Now()
				d, err := svc.Decide(ctx, representative, "")
				if err != nil {
					b.Fatal(err)
				}
				buf = appendDecision(buf[:0], d)
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2]), "p50-ns")
			b.ReportMetric(float64(lat[len(lat)*99/100]), "p99-ns")
			if sh != nil {
				sh.Close()
				b.ReportMetric(float64(shadowEvaluated(opts.Metrics))/float64(b.N), "shadowed/op")
			}
		})
	}
}

// shadowEvaluated sums pdp_shadow_decisions_total over its labels.
func shadowEvaluated(m *metrics.Metrics) float64 {
	var buf bytes.Buffer
	if err := m.Write(&buf); err != nil {
		panic(err)
	}
	var n float64
	for _, line := range strings.Split(buf.String(), "\n") {
		if strings.HasPrefix(line, "pdp_shadow_decisions_total{") {
			v, _ := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			n += v
		}
	}
	return n
}
