package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/riskpdp/riskpdp/pdp"
)

// Shadow counts shadow evaluations: a candidate policy set evaluated on
// live traffic off the caller's path.
type Shadow struct {
	compared [pdp.NumOutcomes][pdp.NumOutcomes]prometheus.Counter
	shed     map[string]prometheus.Counter
	errors   prometheus.Counter
	revision *prometheus.GaugeVec
	rev      string
}

// NewShadow registers the shadow metrics with m.
func (m *Metrics) NewShadow() *Shadow {
	s := &Shadow{}
	compared := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "shadow_decisions_total",
		Help: "Decisions the candidate policy set also evaluated, by live and shadow outcome (different labels: a difference).",
	}, []string{"live", "shadow"})
	for l := pdp.Allow; l <= pdp.Deny; l++ {
		for sh := pdp.Allow; sh <= pdp.Deny; sh++ {
			s.compared[l][sh] = compared.WithLabelValues(l.String(), sh.String())
		}
	}
	shed := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "shadow_shed_total",
		Help: "Sampled decisions the shadow skipped to keep the live path fast, by reason (busy, queue_full).",
	}, []string{"reason"})
	s.shed = map[string]prometheus.Counter{}
	for _, r := range []string{ShedBusy, ShedQueueFull} {
		s.shed[r] = shed.WithLabelValues(r)
	}
	s.errors = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "shadow_errors_total",
		Help: "Shadow evaluations that failed (the candidate's error; the live decision is unaffected).",
	})
	s.revision = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace, Name: "shadow_policy_revision_info",
		Help: "The candidate policy revision (value 1).",
	}, []string{"revision"})
	m.reg.MustRegister(compared, shed, s.errors, s.revision)
	return s
}

// Compared counts one shadow evaluation.
func (s *Shadow) Compared(live, shadow pdp.Outcome) {
	if live.Valid() && shadow.Valid() {
		s.compared[live][shadow].Inc()
	}
}

// Reasons to shed shadow work.
const (
	ShedBusy      = "busy"       // every core was busy with live decisions
	ShedQueueFull = "queue_full" // the shadow worker was behind
)

// Shed counts a sampled decision the shadow skipped (reason ShedBusy or
// ShedQueueFull).
func (s *Shadow) Shed(reason string) { s.shed[reason].Inc() }

// Error counts a failed shadow evaluation.
func (s *Shadow) Error() { s.errors.Inc() }

// Revision records the candidate's revision (called from one goroutine).
func (s *Shadow) Revision(rev string) {
	if rev == s.rev {
		return
	}
	if s.rev != "" {
		s.revision.DeleteLabelValues(s.rev)
	}
	s.revision.WithLabelValues(rev).Set(1)
	s.rev = rev
}
