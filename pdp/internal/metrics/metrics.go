// Package metrics exposes the sidecar's counters and histograms in the
// Prometheus text format. Prometheus types stay inside this package; the
// hot path calls small methods whose label children are resolved once at
// start (counting, not logging, the hot path).
package metrics

import (
	"bytes"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"

	"github.com/riskpdp/riskpdp/pdp"
)

const namespace = "pdp"

// Metrics holds every metric the sidecar exports.
type Metrics struct {
	reg *prometheus.Registry

	decisions [pdp.NumStages][pdp.NumOutcomes]prometheus.Counter
	latency   prometheus.Histogram
	fallbacks *prometheus.CounterVec
	errors    *prometheus.CounterVec
	reloads   *prometheus.CounterVec
	revision  *prometheus.GaugeVec
	integrity *integrity
	outcomes  *outcomes
	appeals   *appeals

	mu      sync.Mutex
	lastRev string
}

// Causes of a fallback decision (the cause label of
// pdp_decision_fallbacks_total).
const (
	FallbackTimeout         = "timeout"          // the evaluation ran out of policies.eval_timeout
	FallbackUndefined       = "undefined"        // the policy defined no decision
	FallbackInvalidDecision = "invalid_decision" // the policy's decision was malformed
	FallbackNoPolicy        = "no_policy"        // no policy loaded
	FallbackState           = "state"            // the risk state could not be read
	FallbackEvalError       = "eval_error"       // any other evaluation error
	FallbackObligationWrite = "obligation_write" // the decision's state changes could not be written
)

// FallbackCauses lists every cause: each series is exported from the start
// at 0, so that an alert on increase() or rate() sees the first fallback
// (a series that appears at 1 has no increase).
var FallbackCauses = []string{FallbackTimeout, FallbackUndefined, FallbackInvalidDecision, FallbackNoPolicy,
	FallbackState, FallbackEvalError, FallbackObligationWrite}

// LatencyBuckets are the decision latency histogram buckets, in seconds:
// microsecond resolution where the sidecar lives, up to a second.
var LatencyBuckets = []float64{
	5e-6, 10e-6, 20e-6, 30e-6, 40e-6, 50e-6, 75e-6, 100e-6, 150e-6, 250e-6, 500e-6,
	1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 1,
}

// New registers the metrics (and the Go runtime and process collectors).
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	decisions := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "decisions_total",
		Help: "Decisions returned, by stage and outcome.",
	}, []string{"stage", "outcome"})
	for _, s := range pdp.Stages {
		for o := pdp.Allow; o <= pdp.Deny; o++ {
			m.decisions[s][o] = decisions.WithLabelValues(s.String(), o.String())
		}
	}
	m.latency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace, Name: "decision_duration_seconds",
		Help:    "Time from receiving a decide request to encoding the answer.",
		Buckets: LatencyBuckets,
	})
	m.fallbacks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "decision_fallbacks_total",
		Help: "Decisions that returned the fallback outcome because of an internal fault, by cause.",
	}, []string{"cause"})
	for _, c := range FallbackCauses {
		m.fallbacks.WithLabelValues(c)
	}
	m.errors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "request_errors_total",
		Help: "Requests answered with an error, by endpoint and error code.",
	}, []string{"endpoint", "code"})
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "policy_reloads_total",
		Help: "Policy load attempts, by result (ok, failed).",
	}, []string{"result"})
	m.revision = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace, Name: "policy_revision_info",
		Help: "The serving policy revision (value 1).",
	}, []string{"revision"})
	m.reg.MustRegister(decisions, m.latency, m.fallbacks, m.errors, m.reloads, m.revision,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.integrity = newIntegrity(m.reg)
	m.outcomes = newOutcomes(m.reg)
	m.appeals = newAppeals(m.reg)
	return m
}

// Register adds collectors owned by other packages (state, plugins, log).
func (m *Metrics) Register(c ...prometheus.Collector) { m.reg.MustRegister(c...) }

// Registry returns the registry, for sub-systems that define their own
// metrics with the Prometheus client.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Decision counts one decision and its latency.
func (m *Metrics) Decision(s pdp.Stage, o pdp.Outcome, took time.Duration) {
	if s.Valid() && o.Valid() {
		m.decisions[s][o].Inc()
	}
	m.latency.Observe(took.Seconds())
}

// Fallback counts a decision that fell back, by cause.
func (m *Metrics) Fallback(cause string) { m.fallbacks.WithLabelValues(cause).Inc() }

// RequestError counts a request answered with an error.
func (m *Metrics) RequestError(endpoint string, code pdp.ErrorCode) {
	m.errors.WithLabelValues(endpoint, string(code)).Inc()
}

// Reload records a policy load attempt and the revision serving after it.
func (m *Metrics) Reload(revision string, err error) {
	if err != nil {
		m.reloads.WithLabelValues("failed").Inc()
	} else {
		m.reloads.WithLabelValues("ok").Inc()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if revision != m.lastRev {
		if m.lastRev != "" {
			m.revision.DeleteLabelValues(m.lastRev)
		}
		if revision != "" {
			m.revision.WithLabelValues(revision).Set(1)
		}
		m.lastRev = revision
	}
}

// ContentType is the content type of Write's output.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Write renders every metric in the Prometheus text format.
func (m *Metrics) Write(buf *bytes.Buffer) error {
	mfs, err := m.reg.Gather()
	if err != nil {
		return err
	}
	enc := expfmt.NewEncoder(buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return err
		}
	}
	return nil
}
