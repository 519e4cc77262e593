package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/config"
	"github.com/riskpdp/riskpdp/pdp/decide"
	"github.com/riskpdp/riskpdp/pdp/engine"
	"github.com/riskpdp/riskpdp/pdp/metrics"
	"github.com/riskpdp/riskpdp/pdp/plugin"
	"github.com/riskpdp/riskpdp/pdp/server"
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
func policySource(cfg config.Config, log *slog.Logger) (engine.Source, string, error) {
	dir := cfg.Policies.Dir
	if dir == "" {
		if fi, err := os.Stat(config.DefaultPolicyDir); err == nil && fi.IsDir() {
			dir = config.DefaultPolicyDir
		} else {
			log.Info("no ./policies directory: serving the embedded reference policies")
			return engine.Source{FS: policies.FS, Label: "embedded"}, "", nil
		}
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return engine.Source{}, "", fmt.Errorf("policies: %w", err)
	}
	if !fi.IsDir() {
		return engine.Source{}, "", fmt.Errorf("policies: %s is not a directory", dir)
	}
	return engine.Source{FS: os.DirFS(dir), Label: dir}, dir, nil
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
	limits := engine.Limits{MaxDepth: cfg.Limits.MaxDepth, MaxAmount: cfg.Limits.MaxAmount}
	eng, policyDir, err := newEngine(cfg, limits, m, log)
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

	fallback, _ := pdp.ParseOutcome(cfg.Policies.Fallback)
	opts := decide.Options{Engine: eng, Metrics: m, Limits: limits, Fallback: fallback,
		Messages: cfg.Messages, Logger: log, Velocity: tracker,
		ChallengeTTL: cfg.StepUp.ChallengeTTL.D(), VerificationTTL: cfg.StepUp.VerificationTTL.D()}
	if plugins != nil {
		opts.Plugins = plugins
	}
	svc, err := decide.New(opts)
	if err != nil {
		return err
	}
	srv := server.New(server.Options{Config: cfg, Service: svc, Metrics: m, Logger: log})
	ln, err := server.Listen(cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Addr, err)
	}

	reload := func() {
		_ = eng.Reload()
		if plugins != nil {
			_ = plugins.Reload(ctx)
		}
	}
	if policyDir != "" && cfg.Policies.WatchEnabled() {
		if err := watch.Dir(ctx, policyDir, 200*time.Millisecond, log, func() { _ = eng.Reload() }); err != nil {
			return err
		}
	}
	if plugins != nil {
		if err := watch.Dir(ctx, cfg.Plugins.Dir, 500*time.Millisecond, log, func() { _ = plugins.Reload(ctx) }); err != nil {
			return err
		}
	}
	go onSIGHUP(ctx, reload)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("serving", "addr", cfg.Addr, "policies", policyDir, "revision", eng.Revision(),
		"velocity", tracker != nil, "plugins", cfg.Plugins.Dir)

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: draining in-flight requests", "timeout", cfg.Server.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout.D())
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// newEngine loads the policies; it returns the watched directory ("" for
// the embedded set).
func newEngine(cfg config.Config, limits engine.Limits, m *metrics.Metrics, log *slog.Logger) (*engine.Engine, string, error) {
	src, dir, err := policySource(cfg, log)
	if err != nil {
		return nil, "", err
	}
	eng, err := engine.New(engine.Options{
		Source:      src,
		Package:     cfg.Policies.Package,
		NoOptimize:  !cfg.Policies.OptimizeEnabled(),
		EvalTimeout: cfg.Policies.EvalTimeout.D(),
		Limits:      limits,
		Logger:      log,
		OnReload:    m.Reload,
	})
	if err != nil {
		return nil, "", fmt.Errorf("load policies: %w", err)
	}
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
	hc := plugin.Config{Dir: pc.Dir, CacheDir: pc.CacheDir, PoolSize: pc.PoolSize, TimeBudget: pc.TimeBudget.D(),
		MemoryLimit: pc.MemoryLimit, Logger: log}
	if len(pc.Grants) > 0 {
		hc.Grants = map[string][]plugin.Capability{}
		for name, caps := range pc.Grants {
			for _, c := range caps {
				hc.Grants[name] = append(hc.Grants[name], plugin.Capability(c))
			}
		}
	}
	if len(pc.FailureModes) > 0 {
		hc.FailureModes = map[string]plugin.FailureMode{}
		for name, mode := range pc.FailureModes {
			hc.FailureModes[name] = plugin.FailureMode(mode)
		}
	}
	h, err := plugin.New(hc)
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
