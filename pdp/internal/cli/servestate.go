package cli

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/riskpdp/riskpdp/pdp/internal/config"
	"github.com/riskpdp/riskpdp/pdp/internal/fleet"
	"github.com/riskpdp/riskpdp/pdp/internal/metrics"
	"github.com/riskpdp/riskpdp/pdp/internal/server"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
)

// newState opens the risk state; a corrupt or unwritable file is an error
// (the sidecar never starts with empty state in place of a broken one).
// With be (Redis), the state is there instead of the file.
func newState(cfg config.Config, m *metrics.Metrics, be *fleet.Backend, log *slog.Logger) (*state.Store, error) {
	sc := cfg.State
	if !sc.On() {
		return nil, nil
	}
	if err := os.MkdirAll(filepath.Dir(sc.Path), 0o700); err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	maxRecords, retention := sc.DecisionTrail.Bounds()
	c := state.Config{Path: sc.Path, CacheMaxCost: sc.CacheMaxCost, CacheTTL: sc.CacheTTL.D(),
		NegativeTTL: sc.NegativeTTL.D(), FlushInterval: sc.FlushInterval.D(),
		DecisionTrailMax: maxRecords, DecisionTrailRetention: retention,
		AuditRetention: cfg.Audit.RetentionBound(), Logger: log}
	where := sc.Path
	if be != nil {
		c.Backend, where = be, "on redis"
	}
	st, err := state.Open(c)
	if err != nil {
		if be != nil {
			_ = be.Close()
		}
		return nil, fmt.Errorf("open risk state %s: %w", where, err)
	}
	m.Register(metrics.StateCollector(st.Stats))
	return st, nil
}

// stateReady reports that committing what decisions changed keeps failing
// (the changes stay pending and are retried), or that checkpoints of the
// state file's write-ahead log do (the writes are durable in the log, which
// grows until writers are held back): it fails readiness on a local state
// file; on Redis it follows redis.fail_readiness.
func stateReady(st *state.Store) server.ReadyCheck {
	return func() error {
		s := st.Stats()
		if s.FlushErrors > 0 && time.Since(s.LastFlushErrorAt) < time.Minute && s.OverlayPending > 0 {
			return fmt.Errorf("risk state: commits failing: %s", s.LastFlushError)
		}
		if s.CheckpointErrors > 0 && time.Since(s.LastCheckpointErrorAt) < time.Minute && s.LogPending > 0 {
			return fmt.Errorf("risk state: checkpoints of the write-ahead log failing: %s", s.LastCheckpointError)
		}
		return nil
	}
}
