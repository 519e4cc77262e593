package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/admin"
	"github.com/riskpdp/riskpdp/pdp/config"
	"github.com/riskpdp/riskpdp/pdp/decide"
	"github.com/riskpdp/riskpdp/pdp/fleet"
	"github.com/riskpdp/riskpdp/pdp/internal/policy"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
	"github.com/riskpdp/riskpdp/pdp/metrics"
	"github.com/riskpdp/riskpdp/pdp/plugin"
	"github.com/riskpdp/riskpdp/pdp/server"
	"github.com/riskpdp/riskpdp/pdp/state"
	"github.com/riskpdp/riskpdp/pdp/velocity"
	"github.com/riskpdp/riskpdp/pdp/watch"
	"github.com/riskpdp/riskpdp/policies"
)

func serveCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the decision sidecar",
		Long: `Run the decision sidecar.

Configuration comes from defaults, then the YAML file given by --config
(or PDP_CONFIG), then PDP_* environment variables, then flags.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd.Flags())
			if err != nil {
				return err
			}
			return serve(cmd.Context(), cfg, cmd.ErrOrStderr())
		},
	}
	cmd.Flags().String("config", "", "YAML configuration file [env PDP_CONFIG]")
	registerSettings(cmd.Flags())
	return cmd
}

// policySource resolves the policy directory (see config.Policies.Dir).
func policySource(cfg config.Config, log *slog.Logger) (policy.Source, string, error) {
	dir := cfg.Policies.Dir
	if dir == "" {
		if fi, err := os.Stat(config.DefaultPolicyDir); err == nil && fi.IsDir() {
			dir = config.DefaultPolicyDir
		} else {
			log.Info("no ./policies directory: serving the embedded reference policies")
			return policy.Source{FS: policies.FS, Label: "embedded"}, "", nil
		}
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return policy.Source{}, "", fmt.Errorf("policies: %w", err)
	}
	if !fi.IsDir() {
		return policy.Source{}, "", fmt.Errorf("policies: %s is not a directory", dir)
	}
	return policy.Source{FS: os.DirFS(dir), Label: dir}, dir, nil
}

func newLogger(cfg config.Config, w interface{ Write([]byte) (int, error) }) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// serve runs the sidecar until ctx is done or SIGTERM/SIGINT arrives, then
// drains in-flight requests and returns nil (exit status 0).
func serve(ctx context.Context, cfg config.Config, logw interface{ Write([]byte) (int, error) }) error {
	log := newLogger(cfg, logw)
	slog.SetDefault(log)
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	m := metrics.New()
	limits := request.Limits{MaxDepth: cfg.Limits.MaxDepth, MaxAmount: cfg.Limits.MaxAmount}
	// The decision log's last inputs, which every policy reload replays
	// through the fast path and OPA's evaluator (policy.Options.RecentInputs).
	var recent *request.InputRing
	if cfg.DecisionLog.On() {
		recent = request.NewInputRing(request.RecentInputsKept)
	}
	eng, policyDir, err := newEngine(cfg, limits, recent, m, log)
	if err != nil {
		return err
	}
	defer eng.Close()
	tracker, err := newVelocity(cfg)
	if err != nil {
		return err
	}
	if tracker != nil {
		defer tracker.Close()
	}
	plugins, err := newPlugins(ctx, cfg, m, log)
	if err != nil {
		return err
	}
	if plugins != nil {
		defer plugins.Close()
	}
	bundles, err := startBundle(ctx, cfg, eng, plugins, policyDir != "", m, log)
	if err != nil {
		return err
	}
	if bundles != nil {
		defer bundles.close()
		if bundles.plugins != nil {
			plugins = bundles.plugins // the bundle's plugin set
		}
	}
	rbe, err := openRedis(cfg, m, log)
	if err != nil {
		return err
	}
	store, err := newState(cfg, m, rbe)
	if err != nil {
		return err
	}
	if store != nil {
		defer store.Close() // last: flushes what decisions changed
		if tracker != nil {
			restoreVelocity(tracker, velocitySnapshotPath(cfg.State.Path), log)
		}
	}

	// The decision log is closed after the server has drained (and the
	// shadow has compared what it holds), so that every decision answered
	// is flushed: registered first, its deferred Close runs last of these.
	dlog, dlogReady, err := newDecisionLog(cfg, eng, recent, m, log)
	if err != nil {
		return err
	}
	if dlog != nil {
		defer closeDecisionLog(dlog, cfg.Server.ShutdownTimeout.D(), log)
	}
	shadow, shadowEng, err := newShadow(cfg, limits, m, log)
	if err != nil {
		return err
	}
	if shadow != nil {
		defer shadowEng.Close()
		defer shadow.Close()
	}

	fallback, _ := pdp.ParseOutcome(cfg.Policies.Fallback)
	opts := decide.Options{Engine: eng, Metrics: m, Limits: limits, Fallback: fallback,
		Messages: cfg.Messages, Logger: log, Velocity: tracker,
		ChallengeTTL: cfg.StepUp.ChallengeTTL.D(), VerificationTTL: cfg.StepUp.VerificationTTL.D(),
		DecisionLog: dlog, DecisionLogSync: cfg.DecisionLog.Sync, LogLabels: logLabels(cfg.DecisionLog),
		Package: cfg.Policies.Package, BundleName: cfg.Bundle.Name, Shadow: shadow, DataExpose: cfg.DataAPI.Expose}
	if plugins != nil {
		opts.Plugins = plugins
	}
	var ready, degraded []server.ReadyCheck
	degraded = append(degraded, eng.Diverged)
	if store != nil {
		opts.State = store
		if rbe == nil || cfg.Redis.FailReadiness {
			ready = append(ready, stateReady(store))
		} else {
			// Commits go to Redis: failing during an outage, they are
			// pending and retried, reported like the outage itself.
			degraded = append(degraded, stateReady(store))
		}
	}
	if rbe != nil {
		if cfg.Redis.FailReadiness {
			ready = append(ready, redisReady(rbe))
		} else {
			degraded = append(degraded, redisReady(rbe))
		}
		if fv := fleetVelocity(cfg, rbe, m); fv != nil && tracker != nil {
			defer fv.Close()
			opts.Fleet = fv
		}
	}
	if dlogReady != nil {
		if cfg.DecisionLog.FailReadiness {
			ready = append(ready, dlogReady)
		} else {
			degraded = append(degraded, dlogReady)
		}
	}
	if bundles != nil {
		ready, degraded = append(ready, bundles.ready), append(degraded, bundles.degraded)
	}
	tokens, err := loadTokens(ctx, cfg, m, log)
	if err != nil {
		return err
	}
	if tokens != nil {
		degraded = append(degraded, tokens.Err)
	}
	svc, err := decide.New(opts)
	if err != nil {
		return err
	}
	srv := server.New(server.Options{Config: cfg, Service: svc, Metrics: m, Logger: log, Ready: ready, Degraded: degraded})
	ln, err := server.Listen(cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Addr, err)
	}
	var healthLn net.Listener
	if cfg.HealthAddr != "" {
		if healthLn, err = server.Listen(cfg.HealthAddr); err != nil {
			ln.Close()
			return fmt.Errorf("listen %s: %w", cfg.HealthAddr, err)
		}
	}
	adm, err := startAdmin(cfg, tokens, store, tracker, eng, log)
	if err != nil {
		ln.Close()
		if healthLn != nil {
			healthLn.Close()
		}
		return err
	}

	reload := func() {
		_ = eng.Reload()
		if shadowEng != nil {
			_ = shadowEng.Reload()
		}
		if plugins != nil && cfg.Plugins.Dir != "" {
			_ = plugins.Reload(ctx)
		}
	}
	if policyDir != "" && cfg.Policies.WatchEnabled() {
		if err := watch.Dir(ctx, policyDir, 200*time.Millisecond, log, func() { _ = eng.Reload() }); err != nil {
			return err
		}
	}
	if shadowEng != nil && cfg.Policies.WatchEnabled() {
		if err := watch.Dir(ctx, cfg.Shadow.Policies, 200*time.Millisecond, log, func() { _ = shadowEng.Reload() }); err != nil {
			return err
		}
	}
	if plugins != nil && cfg.Plugins.Dir != "" {
		if err := watch.Dir(ctx, cfg.Plugins.Dir, 500*time.Millisecond, log, func() { _ = plugins.Reload(ctx) }); err != nil {
			return err
		}
	}
	go onSIGHUP(ctx, reload)

	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	if healthLn != nil {
		go func() { errc <- srv.ServeHealth(healthLn) }()
	}
	log.Info("serving", "addr", cfg.Addr, "health_addr", cfg.HealthAddr, "policies", policyDir, "revision", eng.Revision(),
		"velocity", tracker != nil, "plugins", cfg.Plugins.Dir)

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: draining in-flight requests", "timeout", cfg.Server.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout.D())
	defer cancel()
	if adm != nil {
		_ = adm.Shutdown(sctx)
	}
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	}
	if tracker != nil && store != nil {
		if err := saveVelocity(tracker, velocitySnapshotPath(cfg.State.Path)); err != nil {
			log.Warn("velocity snapshot not saved", "error", err)
		}
	}
	log.Info("stopped")
	return nil
}

// newState opens the risk state; a corrupt or unwritable file is an error
// (the sidecar never starts with empty state in place of a broken one).
// With be (Redis), the state is there instead of the file.
func newState(cfg config.Config, m *metrics.Metrics, be *fleet.Backend) (*state.Store, error) {
	sc := cfg.State
	if !sc.On() {
		return nil, nil
	}
	if err := os.MkdirAll(filepath.Dir(sc.Path), 0o700); err != nil {
		return nil, fmt.Errorf("state: %w", err)
	}
	c := state.Config{Path: sc.Path, CacheMaxCost: sc.CacheMaxCost, CacheTTL: sc.CacheTTL.D(),
		NegativeTTL: sc.NegativeTTL.D(), FlushInterval: sc.FlushInterval.D(),
		DecisionTrailMax: sc.DecisionTrail.MaxRecords, DecisionTrailRetention: sc.DecisionTrail.Retention.D()}
	// 0 in the config is "no bound", in state.Config "the default".
	if c.DecisionTrailMax == 0 {
		c.DecisionTrailMax = -1
	}
	if c.DecisionTrailRetention == 0 {
		c.DecisionTrailRetention = -1
	}
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
// (the changes stay pending and are retried): it fails readiness on a local
// state file; on Redis it follows redis.fail_readiness.
func stateReady(st *state.Store) server.ReadyCheck {
	return func() error {
		s := st.Stats()
		if s.FlushErrors > 0 && time.Since(s.LastFlushErrorAt) < time.Minute && s.OverlayPending > 0 {
			return fmt.Errorf("risk state: commits failing: %s", s.LastFlushError)
		}
		return nil
	}
}

// loadTokens reads the operator token file, when one is configured: a
// file that is invalid at start stops the start. Later it fails closed
// (every token refused while it is invalid), which /health/ready reports
// as degraded and pdp_admin_token_file_valid shows; it is polled every
// second so that each change is logged when it happens.
func loadTokens(ctx context.Context, cfg config.Config, m *metrics.Metrics, log *slog.Logger) (*admin.Tokens, error) {
	if cfg.Admin.TokenFile == "" {
		return nil, nil
	}
	tokens, err := admin.LoadTokens(cfg.Admin.TokenFile, log)
	if err != nil {
		return nil, err
	}
	m.Register(metrics.TokenFileCollector(tokens.Stats))
	go tokens.Poll(ctx, time.Second)
	return tokens, nil
}

// startAdmin serves the operator API when a token file is configured.
func startAdmin(cfg config.Config, tokens *admin.Tokens, store *state.Store, tracker *velocity.Tracker, eng *policy.Engine, log *slog.Logger) (*admin.Server, error) {
	if tokens == nil {
		return nil, nil
	}
	probationPath := cfg.Policies.Package + "/config/freeze/probation_duration"
	adm := admin.New(admin.Options{Store: store, Velocity: tracker, Tokens: tokens, Logger: log,
		Probation: func() time.Duration { return policyDuration(eng, probationPath, 24*time.Hour) }})
	ln, err := server.Listen(cfg.Admin.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", cfg.Admin.Addr, err)
	}
	go func() {
		if err := adm.Serve(ln); err != nil {
			log.Error("operator API stopped", "error", err)
		}
	}()
	log.Info("operator API", "addr", cfg.Admin.Addr)
	return adm, nil
}

// policyDuration reads a duration string from the policy data (e.g. the
// probation a release starts), or returns def.
func policyDuration(eng *policy.Engine, path string, def time.Duration) time.Duration {
	b, ok, err := eng.EvalData(context.Background(), path, nil, time.Now())
	if err != nil || !ok {
		return def
	}
	var s string
	if json.Unmarshal(b, &s) != nil {
		return def
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return def
	}
	return d
}

// newEngine loads the policies; it returns the watched directory ("" for
// the embedded set). recent, if not nil, holds the decision log's last
// inputs, which every reload replays.
func newEngine(cfg config.Config, limits request.Limits, recent *request.InputRing, m *metrics.Metrics, log *slog.Logger) (*policy.Engine, string, error) {
	src, dir, err := policySource(cfg, log)
	if err != nil {
		return nil, "", err
	}
	opts := policy.Options{
		Source:      src,
		Package:     cfg.Policies.Package,
		NoOptimize:  !cfg.Policies.OptimizeEnabled(),
		EvalTimeout: cfg.Policies.EvalTimeout.D(),
		Limits:      limits,
		Logger:      log,
		OnReload:    m.Reload,
		// A sample of the decisions is evaluated again by OPA's evaluator
		// on the policy as written; a divergence serves the revision so.
		VerifySampleRate: cfg.Policies.VerifySampleRate,
		VerifyQueue:      cfg.Policies.VerifyQueue,
	}
	if recent != nil {
		opts.RecentInputs = recent.Inputs
	}
	eng, err := policy.New(opts)
	if err != nil {
		return nil, "", fmt.Errorf("load policies: %w", err)
	}
	m.Register(metrics.EngineCollector(eng.Stats))
	return eng, dir, nil
}

func newVelocity(cfg config.Config) (*velocity.Tracker, error) {
	if !cfg.Velocity.On() {
		return nil, nil
	}
	t, err := velocity.New(velocity.Config{MaxKeys: cfg.Velocity.MaxKeys})
	if err != nil {
		return nil, fmt.Errorf("velocity: %w", err)
	}
	return t, nil
}

// newPlugins loads the plugin directory, if one is configured.
func newPlugins(ctx context.Context, cfg config.Config, m *metrics.Metrics, log *slog.Logger) (*plugin.Host, error) {
	pc := cfg.Plugins
	if pc.Dir == "" {
		return nil, nil
	}
	h, err := plugin.New(pluginHostConfig(cfg, log))
	if err != nil {
		return nil, fmt.Errorf("plugins: %w", err)
	}
	if err := h.Load(ctx, pc.Dir); err != nil {
		h.Close()
		return nil, fmt.Errorf("load plugins: %w", err)
	}
	m.Register(metrics.PluginCollector(h.Stats))
	return h, nil
}

// onSIGHUP calls reload on every SIGHUP until ctx is done.
func onSIGHUP(ctx context.Context, reload func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			reload()
		}
	}
}
