package config

import (
	"net/url"
	"time"
)

// DecisionLog configures the decision log (`pdp serve --decision-log
// PATH`). It is off unless Path or Upload.URL is set. The writer's own
// limits are checked again when it starts (pdp/internal/decisionlog Config).
type DecisionLog struct {
	// Path is the JSON-lines file; rotated files go next to it.
	Path string `yaml:"path"`
	// MaxSizeMiB rotates the file at this size. Default 100.
	MaxSizeMiB int `yaml:"max_size_mib"`
	// MaxAgeDays removes rotated files older than this many days. Default
	// 0: never (payment logs are kept for years; let the shipper prune).
	MaxAgeDays int `yaml:"max_age_days"`
	// MaxBackups keeps at most this many rotated files. Default 0: all.
	MaxBackups int `yaml:"max_backups"`
	// Compress gzips rotated files. Default true.
	Compress *bool `yaml:"compress"`
	// Upload sends batches to an OPA-compatible decision log service.
	Upload DecisionLogUpload `yaml:"upload"`
	// BufferSize is the number of records waiting for the writer. Default
	// 8192.
	BufferSize int `yaml:"buffer_size"`
	// Overflow is what happens when the buffer is full: drop (count and go
	// on; the default), block (wait up to BlockTimeout, then drop) or spill
	// (append to a file in SpillDir, replayed when the buffer drains).
	Overflow string `yaml:"overflow"`
	// BlockTimeout bounds the wait of overflow: block. Default 5ms.
	BlockTimeout Duration `yaml:"block_timeout"`
	// SpillDir holds the spill file. Default: the directory of Path.
	SpillDir string `yaml:"spill_dir"`
	// SpillMaxBytes bounds the spill file. Default 1 GiB.
	SpillMaxBytes int64 `yaml:"spill_max_bytes"`
	// Sync writes and fsyncs every record (grouped with concurrent ones)
	// before the decision is answered; a record that cannot be made durable
	// fails the request (503 decision_log_unavailable). Default false.
	Sync bool `yaml:"sync"`
	// Labels are added to every record (OPA's labels); "id" (the host
	// name) and "version" are always set unless given here.
	Labels map[string]string `yaml:"labels"`
	// FailReadiness makes /health/ready fail while the log sink fails
	// (e.g. disk full). Default false: decisions keep flowing, the failure
	// shows on /metrics and in the readiness body.
	FailReadiness bool `yaml:"fail_readiness"`
}

// DecisionLogUpload configures the upload sink.
type DecisionLogUpload struct {
	// URL receives POSTs of gzip-compressed JSON arrays of records.
	URL string `yaml:"url"`
	// TokenFile holds a bearer token, read for every request.
	TokenFile string `yaml:"token_file"`
	// Headers are added to every request.
	Headers map[string]string `yaml:"headers"`
	// BatchBytes closes a batch at this uncompressed size. Default 512 KiB.
	BatchBytes int `yaml:"batch_bytes"`
	// Interval closes a non-empty batch at least this often. Default 1s.
	Interval Duration `yaml:"interval"`
	// Timeout bounds one request. Default 10s.
	Timeout Duration `yaml:"timeout"`
	// BufferBytes bounds the batches kept while the service fails; the
	// oldest go first. Default 64 MiB.
	BufferBytes int64 `yaml:"buffer_bytes"`
}

// On reports whether decisions are logged.
func (d DecisionLog) On() bool { return d.Path != "" || d.Upload.URL != "" }

// CompressEnabled reports whether rotated files are compressed.
func (d DecisionLog) CompressEnabled() bool { return d.Compress == nil || *d.Compress }

// Shadow configures shadow evaluation: a candidate policy set evaluated on
// live traffic off the caller's path.
type Shadow struct {
	// Policies is the candidate policy directory. Default "": off.
	Policies string `yaml:"policies"`
	// SampleRate is the share of decisions also evaluated by the
	// candidate, 0 to 1. Default 1.
	SampleRate *float64 `yaml:"sample_rate"`
	// QueueSize bounds the decisions waiting for the shadow worker; when
	// it is full the shadow evaluation is skipped (shed, counted), never
	// the live decision. Default 1024.
	QueueSize int `yaml:"queue_size"`
}

// Rate returns the sample rate with its default.
func (s Shadow) Rate() float64 {
	if s.SampleRate == nil {
		return 1
	}
	return *s.SampleRate
}

func (c *Config) validateDecisionLog(bad func(field, format string, args ...any)) {
	d := c.DecisionLog
	switch d.Overflow {
	case "", "drop", "block", "spill":
	default:
		bad("decision_log.overflow", "must be drop, block or spill, got %q", d.Overflow)
	}
	if d.MaxSizeMiB < 0 || d.MaxAgeDays < 0 || d.MaxBackups < 0 || d.BufferSize < 0 || d.SpillMaxBytes < 0 {
		bad("decision_log", "max_size_mib, max_age_days, max_backups, buffer_size and spill_max_bytes must not be negative")
	}
	if d.BlockTimeout < 0 || d.BlockTimeout > Duration(time.Second) {
		bad("decision_log.block_timeout", "must be between 0 and 1s")
	}
	if d.Sync && d.Path == "" {
		bad("decision_log.sync", "needs decision_log.path (sync mode fsyncs the file)")
	}
	if u := d.Upload.URL; u != "" {
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			bad("decision_log.upload.url", "must be an http(s) URL, got %q", u)
		}
	}
	if r := c.Shadow.Rate(); !(r >= 0 && r <= 1) {
		bad("shadow.sample_rate", "must be between 0 and 1, got %v", r)
	}
	if c.Shadow.QueueSize < 0 {
		bad("shadow.queue_size", "must not be negative")
	}
	if c.Shadow.Policies != "" && c.Shadow.Policies == c.Policies.Dir {
		bad("shadow.policies", "is the live policy directory: a shadow must be a different candidate")
	}
}
