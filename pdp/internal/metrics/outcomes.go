package metrics

import "github.com/prometheus/client_golang/prometheus"

// outcomes counts the payment outcomes services report, and the labels
// among them by the reasons of the decision that allowed the payment: a
// live view of what slips through (chargebacks and fraud reports on
// allowed payments) and of what was verified needlessly.
type outcomes struct {
	reported *prometheus.CounterVec
	labels   *prometheus.CounterVec
}

func newOutcomes(reg *prometheus.Registry) *outcomes {
	o := &outcomes{
		reported: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "outcomes_total",
			Help: "Payment outcomes reported (POST /v1/outcomes), by status.",
		}, []string{"status"}),
		labels: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "labels_total",
			Help: "Labels reported (chargeback, fraud, legit), by each reason of the decision that allowed the payment (none: allowed without a reason; unknown: a payment the sidecar no longer keeps).",
		}, []string{"label", "reason"}),
	}
	reg.MustRegister(o.reported, o.labels)
	return o
}

// Outcome counts a reported payment outcome; a label is counted once for
// each reason of the allowing decision.
func (m *Metrics) Outcome(status, label string, reasons []string, known bool) {
	m.outcomes.reported.WithLabelValues(status).Inc()
	if label == "" {
		return
	}
	switch {
	case !known:
		m.outcomes.labels.WithLabelValues(label, "unknown").Inc()
	case len(reasons) == 0:
		m.outcomes.labels.WithLabelValues(label, "none").Inc()
	}
	for _, r := range reasons {
		m.outcomes.labels.WithLabelValues(label, r).Inc()
	}
}
