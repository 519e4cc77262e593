package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/riskpdp/riskpdp/pdp/internal/decisionlog"
)

// decisionLogCollector exports the decision log's counters at scrape time.
type decisionLogCollector struct {
	stats   func() decisionlog.Stats
	healthy func() error
	descs   map[string]*prometheus.Desc
	dropped *prometheus.Desc
}

// DecisionLogCollector reads stats (and healthy, for
// pdp_decision_log_healthy) at every scrape.
func DecisionLogCollector(stats func() decisionlog.Stats, healthy func() error) prometheus.Collector {
	c := &decisionLogCollector{stats: stats, healthy: healthy, descs: map[string]*prometheus.Desc{},
		dropped: prometheus.NewDesc(namespace+"_decision_log_dropped_total",
			"Decision records lost, by reason (buffer_full, block_timeout, spill_full, file_error, ...).", []string{"reason"}, nil)}
	for name, help := range map[string]string{
		"received_total":       "Decision records handed to the log.",
		"logged_total":         "Decision records written to every sink.",
		"filtered_total":       "Decision records the policy's system.log.drop dropped on purpose.",
		"spilled_total":        "Decision records spilled to disk because the buffer was full.",
		"replayed_total":       "Spilled records written back into the sinks.",
		"spill_records":        "Records in the spill file not yet written back.",
		"uploaded_total":       "Decision records the upload service accepted.",
		"upload_pending":       "Decision records waiting for upload.",
		"upload_errors_total":  "Failed upload requests (each retry counts).",
		"sink_errors_total":    "Failed file writes, fsyncs, rotations or compressions of rotated files (e.g. disk full).",
		"hook_errors_total":    "Failures of the policy's log masking (the record is logged with the built-in masking).",
		"encode_errors_total":  "Records logged with a value written as null.",
		"rotations_total":      "Log file rotations.",
		"sync_commits_total":   "Sync mode: write+fsync rounds.",
		"buffer_depth":         "Records waiting in the buffer.",
		"buffer_capacity":      "Size of the buffer.",
		"healthy":              "1 when no record is being lost and the sinks work, 0 otherwise.",
		"last_error_timestamp": "Unix time of the most recent error (0: none).",
	} {
		c.descs[name] = prometheus.NewDesc(namespace+"_decision_log_"+name, help, nil, nil)
	}
	return c
}

func (c *decisionLogCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
	ch <- c.dropped
}

func (c *decisionLogCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	counter := func(name string, v uint64) {
		ch <- prometheus.MustNewConstMetric(c.descs[name], prometheus.CounterValue, float64(v))
	}
	gauge := func(name string, v float64) {
		ch <- prometheus.MustNewConstMetric(c.descs[name], prometheus.GaugeValue, v)
	}
	counter("received_total", s.Received)
	counter("logged_total", s.Logged)
	counter("filtered_total", s.Filtered)
	counter("spilled_total", s.Spilled)
	counter("replayed_total", s.Replayed)
	gauge("spill_records", float64(s.SpillRecords))
	counter("uploaded_total", s.Uploaded)
	gauge("upload_pending", float64(s.UploadPending))
	counter("upload_errors_total", s.UploadErrors)
	counter("sink_errors_total", s.SinkErrors)
	counter("hook_errors_total", s.HookErrors)
	counter("encode_errors_total", s.EncodeErrors)
	counter("rotations_total", s.Rotations)
	counter("sync_commits_total", s.SyncCommits)
	gauge("buffer_depth", float64(s.BufferDepth))
	gauge("buffer_capacity", float64(s.BufferCap))
	ok := 1.0
	if c.healthy() != nil {
		ok = 0
	}
	gauge("healthy", ok)
	last := 0.0
	if !s.LastErrorAt.IsZero() {
		last = float64(s.LastErrorAt.UnixNano()) / 1e9
	}
	gauge("last_error_timestamp", last)
	for reason, n := range s.Dropped {
		ch <- prometheus.MustNewConstMetric(c.dropped, prometheus.CounterValue, float64(n), reason)
	}
}
