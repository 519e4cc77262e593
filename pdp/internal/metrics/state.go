package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/riskpdp/riskpdp/pdp/internal/state"
)

// stateCollector exports the risk state's counters at scrape time.
type stateCollector struct {
	stats func() state.Stats
	descs map[string]*prometheus.Desc
}

// StateCollector reads stats at every scrape.
func StateCollector(stats func() state.Stats) prometheus.Collector {
	c := &stateCollector{stats: stats, descs: map[string]*prometheus.Desc{}}
	for name, help := range map[string]string{
		"cache_hits_total":           "Risk state reads served from the cache.",
		"cache_misses_total":         "Risk state reads that went to the store.",
		"cache_evictions_total":      "Risk state cache evictions.",
		"cache_cost_bytes":           "Approximate bytes the risk state cache holds.",
		"pending_accounts":           "Accounts with changes from decisions not yet committed to the file.",
		"flushes_total":              "Commits of changes from decisions.",
		"flush_errors_total":         "Failed commits of changes from decisions (kept pending and retried).",
		"sync_commits_total":         "Durable writes (operator actions, events, verifications).",
		"sync_errors_total":          "Durable writes that failed (the call failed too).",
		"swept_total":                "Expired records deleted by the sweeper.",
		"journal_pruned_total":       "Decision records pruned from the audit journal (state.decision_trail).",
		"stale_served_total":         "Reads the shared state could not answer, answered from a cached block or freeze.",
		"write_conflicts_total":      "Account writes the shared state refused because another sidecar changed the account meanwhile (each recomputed and retried).",
		"ip_ranges":                  "IP ranges (10.0.0.0/8 entries of the lists) in the in-memory range index.",
		"range_rebuilds_total":       "Times the IP range index was read whole from the state (at start; with Redis after a possible loss of invalidations and every cache TTL).",
		"range_refresh_errors_total": "Failed reads of IP ranges other sidecars changed (retried).",
		"ranges_skipped_total":       "IP range keys left out of the index because their value is not a canonical range (written by something other than a sidecar).",
		"log_pending_writes":         "Keys written to the state file's write-ahead log (durable) and not yet applied to the file by a checkpoint.",
		"checkpoints_total":          "Checkpoints of the write-ahead log into the state file.",
		"checkpoint_errors_total":    "Failed checkpoints (the writes stay in the log and are retried).",
	} {
		c.descs[name] = prometheus.NewDesc(namespace+"_state_"+name, help, nil, nil)
	}
	return c
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	counter := func(name string, v uint64) {
		ch <- prometheus.MustNewConstMetric(c.descs[name], prometheus.CounterValue, float64(v))
	}
	gauge := func(name string, v float64) {
		ch <- prometheus.MustNewConstMetric(c.descs[name], prometheus.GaugeValue, v)
	}
	counter("cache_hits_total", s.CacheHits)
	counter("cache_misses_total", s.CacheMisses)
	counter("cache_evictions_total", s.CacheEvictions)
	gauge("cache_cost_bytes", float64(s.CacheCost))
	gauge("pending_accounts", float64(s.OverlayPending))
	counter("flushes_total", s.Flushes)
	counter("flush_errors_total", s.FlushErrors)
	counter("sync_commits_total", s.SyncCommits)
	counter("sync_errors_total", s.SyncErrors)
	counter("swept_total", s.Swept)
	counter("journal_pruned_total", s.Pruned)
	counter("stale_served_total", s.StaleServed)
	counter("write_conflicts_total", s.WriteConflicts)
	gauge("ip_ranges", float64(s.IPRanges))
	counter("range_rebuilds_total", s.RangeRebuilds)
	counter("range_refresh_errors_total", s.RangeRefreshErrors)
	counter("ranges_skipped_total", s.RangesSkipped)
	gauge("log_pending_writes", float64(s.LogPending))
	counter("checkpoints_total", s.Checkpoints)
	counter("checkpoint_errors_total", s.CheckpointErrors)
}
