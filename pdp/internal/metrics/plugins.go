package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/riskpdp/riskpdp/pdp/internal/plugin"
)

// pluginCollector exports the plugin host's counters at scrape time.
type pluginCollector struct {
	stats                                func() []plugin.Stats
	calls, faults, replaced, quarantines *prometheus.Desc
	quarantined, instances               *prometheus.Desc
}

// PluginCollector reads stats at every scrape.
func PluginCollector(stats func() []plugin.Stats) prometheus.Collector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(namespace+"_plugin_"+name, help, append([]string{"plugin"}, labels...), nil)
	}
	return &pluginCollector{
		stats:       stats,
		calls:       d("calls_total", "Calls into the plugin."),
		faults:      d("faults_total", "Plugin results that were faults, by kind (trap, timeout, garbage, memory, quarantined, unavailable).", "kind"),
		replaced:    d("instances_replaced_total", "Instances discarded after a fault and replaced."),
		quarantines: d("quarantines_total", "Times the plugin entered quarantine."),
		quarantined: d("quarantined", "1 while the plugin is quarantined."),
		instances:   d("instances", "Live instances in the plugin's pool."),
	}
}

func (c *pluginCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.calls, c.faults, c.replaced, c.quarantines, c.quarantined, c.instances} {
		ch <- d
	}
}

func (c *pluginCollector) Collect(ch chan<- prometheus.Metric) {
	now := time.Now()
	for _, s := range c.stats() {
		ch <- prometheus.MustNewConstMetric(c.calls, prometheus.CounterValue, float64(s.Calls), s.Plugin)
		for _, k := range plugin.FaultKinds() {
			ch <- prometheus.MustNewConstMetric(c.faults, prometheus.CounterValue, float64(s.Fault(k)), s.Plugin, k.String())
		}
		ch <- prometheus.MustNewConstMetric(c.replaced, prometheus.CounterValue, float64(s.Replaced), s.Plugin)
		ch <- prometheus.MustNewConstMetric(c.quarantines, prometheus.CounterValue, float64(s.Quarantines), s.Plugin)
		q := 0.0
		if now.Before(s.QuarantinedUntil) {
			q = 1
		}
		ch <- prometheus.MustNewConstMetric(c.quarantined, prometheus.GaugeValue, q, s.Plugin)
		ch <- prometheus.MustNewConstMetric(c.instances, prometheus.GaugeValue, float64(s.Instances), s.Plugin)
	}
}
