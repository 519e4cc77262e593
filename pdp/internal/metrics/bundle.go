package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/riskpdp/riskpdp/pdp/internal/bundle"
)

// bundleCollector exports the bundle loader's state at scrape time.
type bundleCollector struct {
	status                                    func() bundle.Status
	activated, activations, failures, lastAct *prometheus.Desc
	lastSuccess, lastRequest, info            *prometheus.Desc
}

// BundleCollector reads status at every scrape.
func BundleCollector(status func() bundle.Status) prometheus.Collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(namespace+"_bundle_"+name, help, labels, nil)
	}
	return &bundleCollector{status: status,
		activated:   d("activated", "1 once a bundle has been activated (downloaded or restored), else 0."),
		activations: d("activations_total", "Bundles activated."),
		failures:    d("failures_total", "Failed polls and refused bundles, by cause (network, http, verification, invalid, activation, persist).", "cause"),
		lastAct:     d("last_activation_timestamp_seconds", "When the serving bundle was activated (0: never)."),
		lastSuccess: d("last_success_timestamp_seconds", "When the bundle service last answered with a bundle or 304 (0: never)."),
		lastRequest: d("last_request_timestamp_seconds", "When the bundle service was last asked (0: never)."),
		info:        d("info", "The serving bundle: revision and origin (download or persisted).", "revision", "origin"),
	}
}

func (c *bundleCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.activated, c.activations, c.failures, c.lastAct, c.lastSuccess, c.lastRequest, c.info} {
		ch <- d
	}
}

func (c *bundleCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.status()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	unix := func(t time.Time) float64 {
		if t.IsZero() {
			return 0
		}
		return float64(t.UnixNano()) / 1e9
	}
	activated := 0.0
	if s.Activated() {
		activated = 1
		gauge(c.info, 1, s.Revision, s.Origin)
	}
	gauge(c.activated, activated)
	ch <- prometheus.MustNewConstMetric(c.activations, prometheus.CounterValue, float64(s.Activations))
	for cause := range bundle.NumCauses {
		ch <- prometheus.MustNewConstMetric(c.failures, prometheus.CounterValue, float64(s.Failures[cause]), cause.String())
	}
	gauge(c.lastAct, unix(s.LastActivation))
	gauge(c.lastSuccess, unix(s.LastSuccess))
	gauge(c.lastRequest, unix(s.LastRequest))
}
