package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/riskpdp/riskpdp/pdp/internal/policy"
)

// engineCollector exports the policy engine's counters at scrape time.
type engineCollector struct {
	stats                                       func() policy.Stats
	evaluator, reevaluations, verified, skipped *prometheus.Desc
	divergences, unguarded                      *prometheus.Desc
}

// Reasons a sampled decision was not verified.
const (
	verifySkippedQueueFull = "queue_full" // the verifier was behind
	verifySkippedTimeout   = "timeout"    // OPA's evaluator ran out of time on it
)

// EngineCollector reads stats at every scrape.
func EngineCollector(stats func() policy.Stats) prometheus.Collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(namespace+"_"+name, help, labels, nil)
	}
	return &engineCollector{stats: stats,
		evaluator:     d("policy_evaluator", "1 for the evaluator the serving policy revision answers with: fast (the sidecar's program over the specialized rules), opa_optimized (OPA's evaluator on the specialized rules) or opa (OPA's evaluator on the policy as written: policies.optimize off, a rule outside the fast path's fragment, or a divergence).", "evaluator"),
		reevaluations: d("fast_path_reevaluations_total", "Decisions OPA's evaluator on the policy as written answered after the faster evaluator failed (a built-in error, a malformed result, a panic)."),
		verified:      d("fast_path_verifications_total", "Sampled decisions (policies.verify_sample_rate) OPA's evaluator on the policy as written evaluated again and compared."),
		divergences:   d("fast_path_divergences_total", "Verified decisions OPA's evaluator on the policy as written answered differently; the revision is then served by OPA's evaluator."),
		skipped:       d("fast_path_verifications_skipped_total", "Sampled decisions not verified, by reason (queue_full, timeout).", "reason"),
		unguarded:     d("policy_evaluations_unguarded_total", "Policy evaluations that ran without a deadline because every watchdog slot was busy."),
	}
}

func (c *engineCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.evaluator, c.reevaluations, c.verified, c.divergences, c.skipped, c.unguarded} {
		ch <- d
	}
}

func (c *engineCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	for _, ev := range []string{policy.EvaluatorFast, policy.EvaluatorOptimized, policy.EvaluatorOPA} {
		v := 0.0
		if s.Evaluator == ev {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(c.evaluator, prometheus.GaugeValue, v, ev)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(c.reevaluations, s.Reevaluations)
	counter(c.verified, s.Verified)
	counter(c.divergences, s.Divergences)
	counter(c.skipped, s.VerifyShed, verifySkippedQueueFull)
	counter(c.skipped, s.VerifyTimeouts, verifySkippedTimeout)
	counter(c.unguarded, s.Unguarded)
}
