package bench

import (
	"errors"
	"fmt"
)

// Check is the smoke run's assertion: the run produced sane numbers. It
// never compares speed (a target that falls behind an open loop's rate
// leaves requests unsent: that is a result, not a failure): every target
// of the main comparison answered without errors, throughput and percentiles
// are positive and ordered (p50 ≤ p90 ≤ p99 ≤ p99.9 ≤ max), server CPU and
// RSS were sampled, the sidecar's mix produced allow, step_up and deny,
// OPA answered the same mix with the same outcomes present, and every
// scale point ran.
//
// With the population mix, outcomes are those of real traffic: denials
// are rare (some in a thousand) and a smoke phase lasts a second, so the
// outcomes are taken over all of a target's phases; the sidecar must have
// answered allow, step_up and deny and had step-ups answered (side
// calls); OPA allow and step_up (its input has quiet velocity windows, and
// the deny-worthy requests of the population may not be among the first
// it is sent).
func Check(r *Results) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	for _, name := range []string{"sidecar", "opa", "floor"} {
		t := r.target(name)
		if t == nil || t.Closed == nil {
			bad("%s: no closed-loop result", name)
			continue
		}
		checkLoad(bad, name+" closed", t.Closed)
		if len(t.Open) == 0 {
			bad("%s: no open-loop result", name)
		}
		for _, o := range t.Open {
			checkLoad(bad, fmt.Sprintf("%s open %.0f/s", name, o.OfferedRate), o)
		}
		if t.IdleRSSBytes <= 0 {
			bad("%s: idle RSS not measured", name)
		}
		if name == "floor" {
			continue
		}
		if r.Setup.Mix.Kind == MixPopulation {
			outcomes := map[string]int64{}
			var side int64
			for _, l := range append([]*LoadResult{t.Closed}, t.Open...) {
				for k, v := range l.Outcomes {
					outcomes[k] += v
				}
				side += l.SideCalls
			}
			want := []string{"allow", "step_up", "deny"}
			if name == "opa" {
				want = want[:2]
			} else if side == 0 {
				bad("%s: no step-up was answered (no verification call)", name)
			}
			for _, o := range want {
				if outcomes[o] == 0 {
					bad("%s: the population's traffic produced no %s (outcomes %v)", name, o, outcomes)
				}
			}
			continue
		}
		for _, o := range []string{"allow", "step_up", "deny"} {
			if t.Closed.Outcomes[o] == 0 {
				bad("%s: the mix produced no %s (outcomes %v)", name, o, t.Closed.Outcomes)
			}
		}
	}
	if p := r.target("sidecar"); p != nil && p.Closed != nil && p.Closed.TookUs == nil {
		bad("sidecar: answers carried no took_us")
	}
	if r.Ratios.ThroughputVsOPA <= 0 || r.Ratios.ThroughputVsFloor <= 0 {
		bad("ratios not computed: %+v", r.Ratios)
	}
	if r.Profiles["sidecar"] != "" {
		steps := map[string]bool{}
		for _, st := range r.Steps {
			steps[st.Step] = st.CPUSeconds > 0
		}
		for _, want := range []string{"decode", "evaluate", stepDecisionLog} {
			if !steps[want] {
				bad("sidecar profile: no CPU in step %q (steps %v)", want, r.Steps)
			}
		}
	}
	if len(r.InProcess) != len(inProcessBenchmarks) {
		bad("in-process benchmarks: %d results, want %d", len(r.InProcess), len(inProcessBenchmarks))
	}
	for _, b := range r.InProcess {
		if b.NsOp <= 0 || b.CPUNsOp <= 0 || b.AllocsOp <= 0 {
			bad("in-process %s: %+v", b.Name, b)
		}
	}
	for _, group := range [][]*ScalePoint{r.Scale.Rules, r.Scale.Reputation, r.Scale.Plugins, r.Scale.DecisionLog} {
		for _, pt := range group {
			name := fmt.Sprintf("scale %s rules=%d keys=%d plugins=%d", pt.Target, pt.Rules, pt.StateKeys, len(pt.Plugins))
			if pt.Error != "" {
				bad("%s: %s", name, pt.Error)
				continue
			}
			if pt.Closed == nil || pt.Open == nil {
				bad("%s: missing phase", name)
				continue
			}
			checkLoad(bad, name+" closed", pt.Closed)
			checkLoad(bad, name+" open", pt.Open)
		}
	}
	return errors.Join(errs...)
}

func checkLoad(bad func(string, ...any), name string, l *LoadResult) {
	if l.Requests <= 0 || l.Throughput <= 0 {
		bad("%s: no requests answered", name)
		return
	}
	if l.Errors > 0 {
		bad("%s: %d errors (first: %s)", name, l.Errors, l.ErrorSample)
	}
	p := l.Latency
	if !(p.P50 > 0 && p.P50 <= p.P90 && p.P90 <= p.P99 && p.P99 <= p.P999 && p.P999 <= p.Max) {
		bad("%s: percentiles out of order: %+v", name, p)
	}
	if p.Count != l.Requests+l.Unsent {
		bad("%s: %d latencies recorded for %d requests", name, p.Count, l.Requests)
	}
	if l.Usage == nil || l.Usage.CPUSeconds <= 0 || l.Usage.RSSMaxBytes <= 0 {
		bad("%s: server CPU/RSS not sampled: %+v", name, l.Usage)
	}
}
