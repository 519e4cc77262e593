package cli

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/riskpdp/riskpdp/pdp/internal/config"
	"github.com/riskpdp/riskpdp/pdp/internal/fleet"
	"github.com/riskpdp/riskpdp/pdp/internal/metrics"
	"github.com/riskpdp/riskpdp/pdp/internal/server"
)

// openRedis connects the risk state's Redis backend (nil without
// redis.addrs) and registers its metrics. It fails when Redis cannot be
// reached at start: a fleet sidecar never starts alone on empty state.
func openRedis(cfg config.Config, m *metrics.Metrics, log *slog.Logger) (*fleet.Backend, error) {
	rc := cfg.Redis
	if !rc.On() {
		return nil, nil
	}
	fc := fleet.Config{Addrs: rc.Addrs, Cluster: rc.Cluster, Username: rc.Username, DB: rc.DB, Prefix: rc.Prefix,
		ReadBudget: rc.ReadBudget.D(), WriteTimeout: rc.WriteTimeout.D(), HealthInterval: rc.HealthInterval.D()}
	if rc.PasswordFile != "" {
		pw, err := os.ReadFile(rc.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("redis password: %w", err)
		}
		fc.Password = strings.TrimSpace(string(pw))
	}
	be, err := fleet.Open(fc, log)
	if err != nil {
		return nil, fmt.Errorf("risk state on Redis: %w", err)
	}
	stat := func(f func(fleet.Stats) float64) func() float64 { return func() float64 { return f(be.Stats()) } }
	m.Register(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pdp_redis_up", Help: "1 while Redis answers its health checks."},
			stat(func(s fleet.Stats) float64 { return b2f(s.Up) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "pdp_redis_outages_total", Help: "Times Redis became unreachable."},
			stat(func(s fleet.Stats) float64 { return float64(s.Outages) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "pdp_redis_read_budget_exceeded_total", Help: "Cache misses that gave up past the read budget (state unknown)."},
			stat(func(s fleet.Stats) float64 { return float64(s.BudgetExceeded) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "pdp_redis_unavailable_reads_total", Help: "Cache misses refused at once while Redis was down."},
			stat(func(s fleet.Stats) float64 { return float64(s.Unavailable) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "pdp_redis_invalidations_received_total", Help: "Invalidation messages from other sidecars."},
			stat(func(s fleet.Stats) float64 { return float64(s.InvalidationsReceived) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pdp_redis_invalidation_delay_seconds", Help: "Propagation delay of the last invalidation received (sender's commit to receipt)."},
			stat(func(s fleet.Stats) float64 { return s.LastDelay.Seconds() })),
	)
	return be, nil
}

// fleetVelocity starts fleet-wide velocity on be (nil when off).
func fleetVelocity(cfg config.Config, be *fleet.Backend, m *metrics.Metrics) *fleet.Velocity {
	if be == nil || !cfg.Redis.VelocityOn() {
		return nil
	}
	v := fleet.NewVelocity(be, fleet.VelocityConfig{Interval: cfg.Redis.VelocityInterval.D()})
	m.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "pdp_redis_velocity_sync_errors_total",
		Help: "Failed fleet velocity syncs (counts stay local and are sent again)."},
		func() float64 { return float64(v.Stats().SyncErrors) }))
	return v
}

// redisReady reports an outage: a readiness failure with
// redis.fail_readiness, a degraded state otherwise.
func redisReady(be *fleet.Backend) server.ReadyCheck {
	return func() error {
		if be.Up() {
			return nil
		}
		return fmt.Errorf("redis unreachable since %s: deciding from the cache and the fallback; operator writes fail",
			be.DownSince().UTC().Format(time.RFC3339))
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
