package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/riskpdp/riskpdp/pdp/internal/bundle"
	"github.com/riskpdp/riskpdp/pdp/internal/config"
	"github.com/riskpdp/riskpdp/pdp/internal/metrics"
	"github.com/riskpdp/riskpdp/pdp/internal/plugin"
	"github.com/riskpdp/riskpdp/pdp/internal/policy"
	"github.com/riskpdp/riskpdp/pdp/internal/server"
)

// bundleRun is a running bundle loader and what serve wires from it.
type bundleRun struct {
	loader *bundle.Loader
	// plugins is the plugin host the bundle owns (nil when plugins come
	// from plugins.dir): serve scores with it and closes it.
	plugins *plugin.Host
	// ready fails /health/ready until a bundle is activated (only when no
	// local policy directory serves meanwhile); degraded reports the
	// last refusal or failed poll without failing readiness.
	ready, degraded server.ReadyCheck
}

// bundleDir is where the last good bundle is kept: bundle.dir, or
// "bundle" next to the state file.
func bundleDir(cfg config.Config) string {
	if cfg.Bundle.Dir != "" {
		return cfg.Bundle.Dir
	}
	return filepath.Join(filepath.Dir(cfg.State.Path), "bundle")
}

// startBundle starts the bundle loader when bundle.url is set: it restores
// the bundle kept by the last run (so a restart during an outage of the
// bundle service serves it), then polls in the background; SIGHUP polls at
// once. localPolicies says a policy directory serves until the first
// bundle (readiness then does not wait for it). plugins is the host of
// plugins.dir, or nil: the bundle then owns the plugin set.
func startBundle(ctx context.Context, cfg config.Config, eng *policy.Engine, plugins *plugin.Host,
	localPolicies bool, m *metrics.Metrics, log *slog.Logger) (*bundleRun, error) {
	bc := cfg.Bundle
	if !bc.On() {
		return nil, nil
	}
	run := &bundleRun{}
	lc := bundle.Config{URL: bc.URL, MinDelay: bc.MinDelay.D(), MaxDelay: bc.MaxDelay.D(), Timeout: bc.Timeout.D(),
		SizeLimit: bc.SizeLimit, TokenFile: bc.TokenFile, CACertFile: bc.CACertFile,
		KeyFile: bc.KeyFile, KeyID: bc.KeyID, Algorithm: bc.Algorithm, Scope: bc.Scope, AllowUnsigned: bc.AllowUnsigned,
		Dir: bundleDir(cfg), Engine: eng, Plugins: plugins, Logger: log}
	if plugins == nil {
		h, err := plugin.New(pluginHostConfig(cfg, log))
		if err != nil {
			return nil, fmt.Errorf("bundle plugins: %w", err)
		}
		m.Register(metrics.PluginCollector(h.Stats))
		run.plugins, lc.Plugins = h, h
	}
	l, err := bundle.New(lc)
	if err != nil {
		if run.plugins != nil {
			run.plugins.Close()
		}
		return nil, fmt.Errorf("bundle: %w", err)
	}
	run.loader = l
	m.Register(metrics.BundleCollector(l.Status))
	if err := l.Restore(ctx); err != nil {
		log.Warn("kept bundle not restored: waiting for the bundle service", "error", err)
	}
	l.Start(ctx)
	go onSIGHUP(ctx, l.Wake)

	run.ready = func() error {
		if localPolicies {
			return nil
		}
		return l.Ready()
	}
	run.degraded = func() error {
		st := l.Status()
		switch {
		case st.LastError != "":
			return fmt.Errorf("bundle %s: %s (serving revision %q)", st.URL, st.LastError, st.Revision)
		case !st.Activated():
			return errors.New("bundle: not activated yet, serving the local policies")
		}
		return nil
	}
	log.Info("bundle service", "url", l.Status().URL, "dir", lc.Dir, "signed", bc.KeyFile != "",
		"plugins_from_bundle", run.plugins != nil, "restored", l.Status().Revision)
	return run, nil
}

// close stops polling, then closes the plugin host the bundle owns.
func (r *bundleRun) close() {
	r.loader.Close()
	if r.plugins != nil {
		r.plugins.Close()
	}
}

// pluginHostConfig translates the plugins section (without loading).
func pluginHostConfig(cfg config.Config, log *slog.Logger) plugin.Config {
	pc := cfg.Plugins
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
	return hc
}
