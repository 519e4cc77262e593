package metrics

import "github.com/prometheus/client_golang/prometheus"

// TokenFile is the operator token file's state, as pdp/internal/admin's
// Tokens.Stats reports it (the type lives here: pdp/internal/admin already depends
// on this package through pdp/internal/server, not the other way round).
type TokenFile struct {
	// Valid: the file is valid; false: every operator token is refused.
	Valid bool
	// Loaded: the tokens accepted (0 while the file is invalid).
	Loaded int
	// Errors: times the file was found missing, unreadable or invalid,
	// once per change of its state.
	Errors uint64
}

// tokenFileCollector exports the operator token file's state at scrape
// time.
type tokenFileCollector struct {
	stats                 func() TokenFile
	valid, loaded, errors *prometheus.Desc
}

// TokenFileCollector reads stats at every scrape (which reads the file
// again, so a revoked file shows at once).
func TokenFileCollector(stats func() TokenFile) prometheus.Collector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(namespace+"_admin_"+name, help, nil, nil)
	}
	return &tokenFileCollector{stats: stats,
		valid:  d("token_file_valid", "1 while the operator token file is valid; 0 while it is missing, unreadable or invalid (every operator token is then refused)."),
		loaded: d("tokens_loaded", "Operator tokens accepted (0 while the token file is invalid)."),
		errors: d("token_file_errors_total", "Times the operator token file was found missing, unreadable or invalid (once per change of its state)."),
	}
}

func (c *tokenFileCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.valid
	ch <- c.loaded
	ch <- c.errors
}

func (c *tokenFileCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	valid := 0.0
	if s.Valid {
		valid = 1
	}
	ch <- prometheus.MustNewConstMetric(c.valid, prometheus.GaugeValue, valid)
	ch <- prometheus.MustNewConstMetric(c.loaded, prometheus.GaugeValue, float64(s.Loaded))
	ch <- prometheus.MustNewConstMetric(c.errors, prometheus.CounterValue, float64(s.Errors))
}
