package metrics

import "github.com/prometheus/client_golang/prometheus"

// integrity counts what the decision path refused to let a request get
// away with: a retry released by a verification of another operation, or a
// release beyond the cap it announced.
type integrity struct {
	mismatches *prometheus.CounterVec
	capped     prometheus.Counter
}

// challengeFields are the binding fields a retry can differ in.
var challengeFields = []string{"stage", "txn", "amount", "currency", "instrument", "device"}

func newIntegrity(reg *prometheus.Registry) *integrity {
	i := &integrity{
		mismatches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "challenge_mismatch_total",
			Help: "Retries that differed from the operation their verification was issued for, by the first differing field; they were decided afresh.",
		}, []string{"field"}),
		capped: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "release_over_cap_total",
			Help: "Allow decisions that moved more than the limit they announced; denied instead.",
		}),
	}
	for _, f := range challengeFields {
		i.mismatches.WithLabelValues(f)
	}
	reg.MustRegister(i.mismatches, i.capped)
	return i
}

// ChallengeMismatch counts a retry that differed from its verification's
// operation in field.
func (m *Metrics) ChallengeMismatch(field string) {
	m.integrity.mismatches.WithLabelValues(field).Inc()
}

// ReleaseOverCap counts an allow that exceeded the limit it announced.
func (m *Metrics) ReleaseOverCap() { m.integrity.capped.Inc() }
