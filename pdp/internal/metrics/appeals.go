package metrics

import "github.com/prometheus/client_golang/prometheus"

// appeals counts the appeals services lodge for their users (POST
// /v1/appeals): how many land in the operators' queue.
type appeals struct {
	lodged prometheus.Counter
}

func newAppeals(reg *prometheus.Registry) *appeals {
	a := &appeals{lodged: prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "appeals_lodged_total",
		Help: "Appeals lodged (POST /v1/appeals); a request_id sent again is not counted again.",
	})}
	reg.MustRegister(a.lodged)
	return a
}

// AppealLodged counts an appeal lodged.
func (m *Metrics) AppealLodged() { m.appeals.lodged.Inc() }
