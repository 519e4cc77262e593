package cli

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"github.com/riskpdp/riskpdp/pdp/internal/config"
	"github.com/riskpdp/riskpdp/pdp/internal/decide"
	"github.com/riskpdp/riskpdp/pdp/internal/decisionlog"
	"github.com/riskpdp/riskpdp/pdp/internal/metrics"
	"github.com/riskpdp/riskpdp/pdp/internal/policy"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
	"github.com/riskpdp/riskpdp/pdp/internal/server"
)

// loggerConfig translates the decision_log section. recent, if not nil,
// keeps the inputs of the decisions logged (before the log policy's
// masking: what the policy saw), for the engine to replay at every load.
func loggerConfig(c config.DecisionLog, eng *policy.Engine, recent *request.InputRing) decisionlog.Config {
	lc := decisionlog.Config{
		Path: c.Path, MaxSizeMiB: c.MaxSizeMiB, MaxAge: time.Duration(c.MaxAgeDays) * 24 * time.Hour,
		MaxBackups: c.MaxBackups, DisableCompression: !c.CompressEnabled(),
		UploadURL: c.Upload.URL, UploadHeaders: c.Upload.Headers, UploadTokenFile: c.Upload.TokenFile,
		UploadBatchBytes: c.Upload.BatchBytes, UploadInterval: c.Upload.Interval.D(), UploadTimeout: c.Upload.Timeout.D(),
		UploadBufferBytes: c.Upload.BufferBytes,
		BufferSize:        c.BufferSize, Overflow: decisionlog.Overflow(c.Overflow), BlockTimeout: c.BlockTimeout.D(),
		SpillDir: c.SpillDir, SpillMaxBytes: c.SpillMaxBytes, Sync: c.Sync,
		Hook: keepInputs(recent, decide.LogPolicyHook(eng)),
	}
	if lc.Overflow == decisionlog.OverflowSpill && lc.SpillDir == "" && c.Path != "" {
		lc.SpillDir = filepath.Dir(c.Path)
	}
	return lc
}

// keepInputs is hook, after it has put the input of every decision record
// into recent (a Data API record is no decide request: not kept).
func keepInputs(recent *request.InputRing, hook func(*decisionlog.Record) error) func(*decisionlog.Record) error {
	if recent == nil {
		return hook
	}
	return func(r *decisionlog.Record) error {
		if r.Result.Outcome != "" {
			recent.Add(r.Input, r.Enrichment, r.Timestamp)
		}
		return hook(r)
	}
}

// newDecisionLog starts the decision log when one is configured, with its
// metrics, and its readiness check (failing or degraded as configured).
func newDecisionLog(cfg config.Config, eng *policy.Engine, recent *request.InputRing, m *metrics.Metrics, log *slog.Logger) (*decisionlog.Logger, server.ReadyCheck, error) {
	c := cfg.DecisionLog
	if !c.On() {
		return nil, nil, nil
	}
	if c.Path != "" {
		if err := os.MkdirAll(filepath.Dir(c.Path), 0o750); err != nil {
			return nil, nil, fmt.Errorf("decision log: %w", err)
		}
	}
	lc := loggerConfig(c, eng, recent)
	l, err := decisionlog.New(lc)
	if err != nil {
		return nil, nil, fmt.Errorf("decision_log: %w", err)
	}
	m.Register(metrics.DecisionLogCollector(l.Stats, l.Healthy))
	log.Info("decision log", "path", c.Path, "upload", c.Upload.URL != "", "sync", c.Sync,
		"overflow", string(lc.Overflow), "buffer", c.BufferSize)
	return l, l.Healthy, nil
}

// logLabels are the labels of every record: the instance ("id", the host
// name, which is the pod name on Kubernetes) and the version, unless the
// configuration sets them.
func logLabels(c config.DecisionLog) map[string]string {
	labels := map[string]string{"version": versionString(buildInfo())}
	if h, err := os.Hostname(); err == nil {
		labels["id"] = h
	}
	maps.Copy(labels, c.Labels)
	return labels
}

func buildInfo() *debug.BuildInfo {
	info, _ := debug.ReadBuildInfo()
	return info
}

// newShadow loads the candidate policy set and starts the shadow worker,
// when one is configured. A candidate that does not load is an error: a
// shadow that silently compares nothing would mislead.
func newShadow(cfg config.Config, limits request.Limits, m *metrics.Metrics, log *slog.Logger) (*decide.Shadow, *policy.Engine, error) {
	dir := cfg.Shadow.Policies
	if dir == "" {
		return nil, nil, nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("shadow policies: %w", err)
	}
	if !fi.IsDir() {
		return nil, nil, fmt.Errorf("shadow policies: %s is not a directory", dir)
	}
	eng, err := policy.New(policy.Options{
		Source: policy.Source{FS: os.DirFS(dir), Label: dir}, Package: cfg.Policies.Package,
		NoOptimize: !cfg.Policies.OptimizeEnabled(), EvalTimeout: cfg.Policies.EvalTimeout.D(),
		Limits: limits, Logger: log.With("policies", "shadow"),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("load shadow policies: %w", err)
	}
	sh := decide.NewShadow(decide.ShadowOptions{Engine: eng, SampleRate: cfg.Shadow.Rate(),
		QueueSize: cfg.Shadow.QueueSize, Metrics: m, Logger: log})
	log.Info("shadow policies", "dir", dir, "revision", eng.Revision(), "sample_rate", cfg.Shadow.Rate())
	return sh, eng, nil
}

// closeDecisionLog flushes the decision log on shutdown: the buffer, the
// spill file, the upload queue, within timeout.
func closeDecisionLog(l *decisionlog.Logger, timeout time.Duration, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := l.Close(ctx); err != nil {
		log.Error("decision log: not everything was flushed", "error", err)
	}
	st := l.Stats()
	log.Info("decision log closed", "received", st.Received, "logged", st.Logged, "filtered", st.Filtered,
		"dropped", st.Dropped)
}
