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
	"runtime/debug"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/admin"
	"github.com/riskpdp/riskpdp/pdp/internal/config"
	"github.com/riskpdp/riskpdp/pdp/internal/decide"
	"github.com/riskpdp/riskpdp/pdp/internal/decisionlog"
	"github.com/riskpdp/riskpdp/pdp/internal/fleet"
	"github.com/riskpdp/riskpdp/pdp/internal/metrics"
	"github.com/riskpdp/riskpdp/pdp/internal/plugin"
	"github.com/riskpdp/riskpdp/pdp/internal/policy"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
	"github.com/riskpdp/riskpdp/pdp/internal/server"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
	"github.com/riskpdp/riskpdp/pdp/internal/tracing"
	"github.com/riskpdp/riskpdp/pdp/internal/velocity"
	"github.com/riskpdp/riskpdp/pdp/internal/watch"
	"github.com/riskpdp/riskpdp/policies"
)

func serveCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the decision sidecar",
		Long: `Run the decision sidecar.

Configuration comes from defaults, then the YAML file given by --config
(or PDP_CONFIG), then PDP_* environment variables, then flags.

The Go garbage collector runs at GOGC=300 unless GOGC is set in the
environment (Go's default is 100): fewer collections for somewhat more
memory; GOMEMLIMIT, when set, still bounds the heap.

--cpu-profile (or PDP_CPU_PROFILE) writes a CPU profile (go tool pprof)
of the whole run, from start until shutdown: the file is created at
start (an error if it cannot be) and complete once the sidecar has
stopped (SIGTERM or SIGINT).

--check-config loads and validates the configuration as serve would,
says "configuration valid" and exits 0, or names what is wrong and
exits 1, without opening anything the configuration names.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd.Flags())
			if err != nil {
				return err
			}
			if err := tracing.Check(tracingOptions(cfg, nil)); err != nil {
				return fmt.Errorf("invalid configuration:\n%w", err)
			}
			if check, _ := cmd.Flags().GetBool("check-config"); check {
				fmt.Fprintln(cmd.ErrOrStderr(), "configuration valid")
				return nil
			}
			stopProfile, err := startCPUProfile(cmd.Flags())
			if err != nil {
				return err
			}
			setGCPercent()
			err = serve(cmd.Context(), cfg, cmd.ErrOrStderr())
			return errors.Join(err, stopProfile())
		},
	}
	cmd.Flags().String("config", "", "YAML configuration file [env PDP_CONFIG]")
	cmd.Flags().Bool("check-config", false, "load and validate the configuration (defaults, file, environment, flags), then exit without serving")
	cmd.Flags().String("cpu-profile", "", "write a CPU profile of the run to this file, complete at shutdown (default none) [env PDP_CPU_PROFILE]")
	registerSettings(cmd.Flags())
	return cmd
}

// serveGCPercent is the Go GC target of pdp serve when GOGC is not set in
// its environment (Go's own default is 100). The sidecar's live heap is
// mostly long-lived caches (accounts, reputation, velocity windows) while
// every request allocates briefly, so at 100 the collector ran about four
// times as often as it needs to: under the bench harness's population
// traffic its workers took 27 µs of CPU per decision at 100 and 11.5 µs at
// 300 (RSS under load 575 and 630 MiB in those two short runs). With a
// memory limit (the chart
// sets GOMEMLIMIT to 90 % of the container's) the collector still runs as
// often as it must to stay below it.
const serveGCPercent = 300

// setGCPercent applies serveGCPercent unless GOGC says otherwise.
func setGCPercent() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(serveGCPercent)
	}
}

// startCPUProfile starts the CPU profile of --cpu-profile (or
// PDP_CPU_PROFILE), when set, and returns what stops it and closes its
// file.
func startCPUProfile(fs *pflag.FlagSet) (stop func() error, err error) {
	path, _ := fs.GetString("cpu-profile")
	if !fs.Changed("cpu-profile") {
		path = os.Getenv(envName("cpu-profile"))
	}
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpu-profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpu-profile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("--cpu-profile: %w", err)
		}
		return nil
	}, nil
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
//
// It is assembled from one constructor per component (the steps below, in
// build order); each returns its closer, and the closers run in the
// reverse order, on an error as on shutdown: fleet velocity, the shadow,
// the decision log (after the server has drained and the shadow compared
// what it holds, so every decision answered is flushed), the risk state
// (flushing what decisions changed), the bundle loader, the plugins, the
// velocity windows, the engine, and last the tracer (flushing the spans
// of every request answered).
func serve(ctx context.Context, cfg config.Config, logw interface{ Write([]byte) (int, error) }) error {
	log := newLogger(cfg, logw)
	slog.SetDefault(log)
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	s := &components{cfg: cfg, log: log, m: metrics.New(),
		limits: request.Limits{MaxDepth: cfg.Limits.MaxDepth, MaxAmount: cfg.Limits.MaxAmount}}
	var closers []func()
	defer func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}()
	for _, step := range []func(context.Context) (func(), error){
		s.withTracing, s.withEngine, s.withVelocity, s.withPlugins, s.withBundle, s.withState, s.withDecisionLog, s.withShadow,
		s.withReadiness, s.withTokens, s.withService,
	} {
		closer, err := step(ctx)
		if err != nil {
			return err
		}
		if closer != nil {
			closers = append(closers, closer)
		}
	}
	return s.run(ctx)
}

// components are what serve builds, one constructor each.
type components struct {
	cfg    config.Config
	log    *slog.Logger
	m      *metrics.Metrics
	limits request.Limits

	recent    *request.InputRing // the decision log's last inputs, replayed by every reload
	eng       *policy.Engine
	policyDir string // "" for the embedded set
	tracker   *velocity.Tracker
	plugins   *plugin.Host // plugins.dir's host, or the bundle's
	bundles   *bundleRun
	rbe       *fleet.Backend
	store     *state.Store
	dlog      *decisionlog.Logger
	dlogReady server.ReadyCheck
	shadow    *decide.Shadow
	shadowEng *policy.Engine
	fleetVel  *fleet.Velocity // used when velocity is on
	tokens    *admin.Tokens
	svc       *decide.Service
	tracer    *tracing.Tracer // nil: tracing off

	ready, degraded []server.ReadyCheck
}

// tracingOptions are the tracing section's options (the OTEL_* variables
// win over them: see pdp/internal/tracing).
func tracingOptions(cfg config.Config, log *slog.Logger) tracing.Options {
	return tracing.Options{Endpoint: cfg.Tracing.Endpoint, Protocol: cfg.Tracing.Protocol,
		SampleRatio: cfg.Tracing.SampleRatio, Version: versionString(buildInfo()), Logger: log}
}

// withTracing starts the OTLP exporter when the OTEL_* variables or the
// tracing section configure one; its closer flushes the queued spans,
// bounded by server.shutdown_timeout.
func (s *components) withTracing(ctx context.Context) (func(), error) {
	var err error
	if s.tracer, err = tracing.New(ctx, tracingOptions(s.cfg, s.log)); err != nil || s.tracer == nil {
		return nil, err
	}
	s.log.Info("tracing: spans exported over OTLP", "protocol", s.tracer.Protocol())
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), s.cfg.Server.ShutdownTimeout.D())
		defer cancel()
		if err := s.tracer.Shutdown(sctx); err != nil {
			s.log.Warn("tracing: spans not flushed", "error", err)
		}
	}, nil
}

// withEngine loads the policies. With the decision log on, the log's last
// inputs are kept for every policy reload to replay through the fast path
// and OPA's evaluator (policy.Options.RecentInputs).
func (s *components) withEngine(context.Context) (func(), error) {
	if s.cfg.DecisionLog.On() {
		s.recent = request.NewInputRing(request.RecentInputsKept)
	}
	var err error
	if s.eng, s.policyDir, err = newEngine(s.cfg, s.limits, s.recent, s.m, s.log); err != nil {
		return nil, err
	}
	return func() { s.eng.Close() }, nil
}

// withVelocity starts the in-process velocity windows, when on.
func (s *components) withVelocity(context.Context) (func(), error) {
	t, err := newVelocity(s.cfg)
	if err != nil || t == nil {
		return nil, err
	}
	s.tracker = t
	return func() { t.Close() }, nil
}

// withPlugins loads plugins.dir, when set.
func (s *components) withPlugins(ctx context.Context) (func(), error) {
	h, err := newPlugins(ctx, s.cfg, s.m, s.log)
	if err != nil || h == nil {
		return nil, err
	}
	s.plugins = h
	return func() { h.Close() }, nil
}

// withBundle starts the bundle loader, when a bundle service is configured;
// without plugins.dir, the bundle's plugin set is the one decisions use.
func (s *components) withBundle(ctx context.Context) (func(), error) {
	b, err := startBundle(ctx, s.cfg, s.eng, s.plugins, s.policyDir != "", s.m, s.log)
	if err != nil || b == nil {
		return nil, err
	}
	s.bundles = b
	if b.plugins != nil {
		s.plugins = b.plugins // the bundle's plugin set
	}
	return b.close, nil
}

// withState opens the risk state, on Redis when configured, and restores the
// velocity windows saved beside it.
func (s *components) withState(context.Context) (func(), error) {
	var err error
	if s.rbe, err = openRedis(s.cfg, s.m, s.log); err != nil {
		return nil, err
	}
	st, err := newState(s.cfg, s.m, s.rbe, s.log)
	if err != nil || st == nil {
		return nil, err
	}
	s.store = st
	if s.tracker != nil {
		restoreVelocity(s.tracker, velocitySnapshotPath(s.cfg.State.Path), s.log)
	}
	return func() { st.Close() }, nil // last of the state's users: flushes what decisions changed
}

// withDecisionLog opens the decision log, when on; its closer waits up to
// server.shutdown_timeout for the records to be written.
func (s *components) withDecisionLog(context.Context) (func(), error) {
	var err error
	if s.dlog, s.dlogReady, err = newDecisionLog(s.cfg, s.eng, s.recent, s.m, s.log); err != nil || s.dlog == nil {
		return nil, err
	}
	return func() { closeDecisionLog(s.dlog, s.cfg.Server.ShutdownTimeout.D(), s.log) }, nil
}

// withShadow loads the candidate policies evaluated in shadow, when set.
func (s *components) withShadow(context.Context) (func(), error) {
	var err error
	if s.shadow, s.shadowEng, err = newShadow(s.cfg, s.limits, s.m, s.log); err != nil || s.shadow == nil {
		return nil, err
	}
	return func() {
		s.shadow.Close()
		s.shadowEng.Close()
	}, nil
}

// withReadiness sorts what /health/ready checks into failures and degraded
// states, and starts fleet velocity on Redis.
func (s *components) withReadiness(context.Context) (func(), error) {
	cfg := s.cfg
	s.degraded = append(s.degraded, s.eng.Diverged)
	if s.store != nil {
		if s.rbe == nil || cfg.Redis.FailReadiness {
			s.ready = append(s.ready, stateReady(s.store))
		} else {
			// Commits go to Redis: failing during an outage, they are
			// pending and retried, reported like the outage itself.
			s.degraded = append(s.degraded, stateReady(s.store))
		}
	}
	var closer func()
	if s.rbe != nil {
		if cfg.Redis.FailReadiness {
			s.ready = append(s.ready, redisReady(s.rbe))
		} else {
			s.degraded = append(s.degraded, redisReady(s.rbe))
		}
		if fv := fleetVelocity(cfg, s.rbe, s.m); fv != nil && s.tracker != nil {
			s.fleetVel, closer = fv, func() { fv.Close() }
		}
	}
	if s.dlogReady != nil {
		if cfg.DecisionLog.FailReadiness {
			s.ready = append(s.ready, s.dlogReady)
		} else {
			s.degraded = append(s.degraded, s.dlogReady)
		}
	}
	if s.bundles != nil {
		s.ready, s.degraded = append(s.ready, s.bundles.ready), append(s.degraded, s.bundles.degraded)
	}
	return closer, nil
}

// withTokens loads the operator token file, when set (see loadTokens).
func (s *components) withTokens(ctx context.Context) (func(), error) {
	var err error
	if s.tokens, err = loadTokens(ctx, s.cfg, s.m, s.log); err != nil {
		return nil, err
	}
	if s.tokens != nil {
		s.degraded = append(s.degraded, s.tokens.Err)
	}
	return nil, nil
}

// withService builds the decision service from the components.
func (s *components) withService(context.Context) (func(), error) {
	cfg := s.cfg
	fallback, _ := pdp.ParseOutcome(cfg.Policies.Fallback)
	opts := decide.Options{Engine: s.eng, Metrics: s.m, Limits: s.limits, Fallback: fallback,
		Messages: cfg.Messages, Logger: s.log, Velocity: s.tracker,
		ChallengeTTL: cfg.StepUp.ChallengeTTL.D(), VerificationTTL: cfg.StepUp.VerificationTTL.D(),
		AnswerTime:  cfg.Admin.AnswerTime.D(),
		DecisionLog: s.dlog, DecisionLogSync: cfg.DecisionLog.Sync, LogLabels: logLabels(cfg.DecisionLog),
		Package: cfg.Policies.Package, BundleName: cfg.Bundle.Name, Shadow: s.shadow, DataExpose: cfg.DataAPI.Expose,
		ExplainLog: cfg.Explain.Log}
	if s.plugins != nil {
		opts.Plugins = s.plugins
	}
	if s.store != nil {
		opts.State = s.store
	}
	if s.fleetVel != nil {
		opts.Fleet = s.fleetVel
	}
	var err error
	s.svc, err = decide.New(opts)
	return nil, err
}

// run opens the listeners and the operator API, starts the watchers and
// SIGHUP's reload, serves until ctx is done, then drains: the operator
// API, the decision listeners, and saves the velocity windows.
func (s *components) run(ctx context.Context) error {
	cfg, log := s.cfg, s.log
	srv := server.New(server.Options{Config: cfg, Service: s.svc, Metrics: s.m, Logger: log, Ready: s.ready, Degraded: s.degraded,
		Tracer: s.tracer})
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
	adm, err := startAdmin(cfg, s.tokens, s.store, s.tracker, s.eng, s.svc, log)
	if err != nil {
		ln.Close()
		if healthLn != nil {
			healthLn.Close()
		}
		return err
	}
	if err := s.watch(ctx); err != nil {
		return err
	}

	errc := make(chan error, 2)
	go func() { errc <- srv.Serve(ln) }()
	if healthLn != nil {
		go func() { errc <- srv.ServeHealth(healthLn) }()
	}
	log.Info("serving", "addr", cfg.Addr, "health_addr", cfg.HealthAddr, "policies", s.policyDir, "revision", s.eng.Revision(),
		"velocity", s.tracker != nil, "plugins", cfg.Plugins.Dir)

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
	if s.tracker != nil && s.store != nil {
		if err := saveVelocity(s.tracker, velocitySnapshotPath(cfg.State.Path)); err != nil {
			log.Warn("velocity snapshot not saved", "error", err)
		}
	}
	log.Info("stopped")
	return nil
}

// watch reloads the policies, the shadow policies and the plugins when
// their directories change, and all of them on SIGHUP.
func (s *components) watch(ctx context.Context) error {
	cfg, log, eng, shadowEng, plugins := s.cfg, s.log, s.eng, s.shadowEng, s.plugins
	reload := func() {
		_ = eng.Reload()
		if shadowEng != nil {
			_ = shadowEng.Reload()
		}
		if plugins != nil && cfg.Plugins.Dir != "" {
			_ = plugins.Reload(ctx)
		}
	}
	if s.policyDir != "" && cfg.Policies.WatchEnabled() {
		if err := watch.Dir(ctx, s.policyDir, 200*time.Millisecond, log, func() { _ = eng.Reload() }); err != nil {
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
	return nil
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
func startAdmin(cfg config.Config, tokens *admin.Tokens, store *state.Store, tracker *velocity.Tracker, eng *policy.Engine,
	svc *decide.Service, log *slog.Logger) (*admin.Server, error) {
	if tokens == nil {
		return nil, nil
	}
	probationPath := cfg.Policies.Package + "/config/freeze/probation_duration"
	adm := admin.New(admin.Options{Store: store, Velocity: tracker, Tokens: tokens, Logger: log, AnswerTime: cfg.Admin.AnswerTime.D(),
		Probation: func() time.Duration { return policyDuration(eng, probationPath, 24*time.Hour) },
		UserStatus: func(ctx context.Context, uid, locale string) ([]byte, error) {
			st, err := svc.AccountStatus(ctx, uid, locale)
			if err != nil {
				return nil, err
			}
			return server.AppendStatus(nil, &st), nil
		}})
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
