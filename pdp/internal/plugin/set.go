package plugin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// Set is an immutable set of loaded plugins, scored together. A Host swaps
// whole sets on reload; a Set obtained from Host.Acquire stays usable until
// its Release, even when a newer set has replaced it.
type Set struct {
	cfg      *Config
	ctx      context.Context
	rt       wazero.Runtime
	plugins  []*plugin // sorted by name
	wd       *watchdog
	revision string
	built    time.Duration // how long Host.Prepare took, for the log

	refs      atomic.Int64
	bg        sync.WaitGroup // instance replacements in flight
	closeOnce sync.Once
}

// Info describes a loaded plugin.
type Info struct {
	Name        string
	Version     string
	Description string
	FailureMode FailureMode
	Features    []string
	Reasons     []string
	// Module is the hex SHA-256 of the module file as shipped.
	Module string
}

// listManifests returns the manifests of dir, sorted, and refuses modules
// without one.
func listManifests(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("plugin dir: %w", err)
	}
	var manifests []string
	modules := map[string]bool{}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		switch filepath.Ext(e.Name()) {
		case ".yaml":
			manifests = append(manifests, filepath.Join(dir, e.Name()))
		case ".wasm":
			modules[e.Name()] = true
		}
	}
	for _, m := range manifests {
		// Modules named by a manifest are checked when it loads; a
		// module with the manifest's base name is accounted for here.
		delete(modules, strings.TrimSuffix(filepath.Base(m), ".yaml")+".wasm")
	}
	for name := range modules {
		man, err := moduleNamedBy(manifests, name)
		if err != nil {
			return nil, err
		}
		if !man {
			return nil, fmt.Errorf("plugin dir %s: module %s has no manifest (want %s next to it)",
				dir, name, strings.TrimSuffix(name, ".wasm")+".yaml")
		}
	}
	return manifests, nil
}

// moduleNamedBy reports whether a manifest names module explicitly.
func moduleNamedBy(manifests []string, module string) (bool, error) {
	for _, path := range manifests {
		m, err := readManifest(path)
		if err != nil {
			return false, err
		}
		if m.Module == module {
			return true, nil
		}
	}
	return false, nil
}

// buildSet compiles, instantiates and smoke-tests the plugins of the given
// manifests. On error nothing is left running.
func buildSet(ctx context.Context, cfg *Config, cache wazero.CompilationCache, manifests []string,
	ctrs func(string) *counters) (_ *Set, err error) {
	s := &Set{cfg: cfg, ctx: context.Background()}
	s.refs.Store(1)
	rc := wazero.NewRuntimeConfig().WithCloseOnContextDone(false)
	if cache != nil {
		rc = rc.WithCompilationCache(cache)
	}
	s.rt = wazero.NewRuntimeWithConfig(ctx, rc)
	defer func() {
		if err != nil {
			s.close()
		}
	}()
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, s.rt); err != nil {
		return nil, fmt.Errorf("instantiate WASI: %w", err)
	}
	// Compile in parallel (wazero compiles a Go guest in about a second
	// cold), then check names in manifest order.
	plugins := make([]*plugin, len(manifests))
	if err := parallel(len(manifests), func(i int) (err error) {
		plugins[i], err = s.compilePlugin(ctx, manifests[i])
		return err
	}); err != nil {
		return nil, err
	}
	h := sha256.New()
	for _, p := range plugins {
		for _, q := range s.plugins {
			if q.name == p.name {
				return nil, fmt.Errorf("plugin name %s is used by two manifests", p.name)
			}
		}
		p.ctr = ctrs(p.name)
		p.pool.init(cfg.PoolSize)
		s.plugins = append(s.plugins, p)
		fmt.Fprintf(h, "%s %s %s\n", p.name, p.manifest.Version, p.sum)
	}
	slices.SortFunc(s.plugins, func(a, b *plugin) int { return strings.Compare(a.name, b.name) })
	s.revision = hex.EncodeToString(h.Sum(nil))[:12]
	if len(s.plugins) > 0 { // an empty set (a bundle without plugins) has nothing to watch
		s.wd = startWatchdog(cfg.WatchdogInterval, s.plugins)
	}
	if err := parallel(len(s.plugins), func(i int) error { return s.plugins[i].fillPool(ctx) }); err != nil {
		return nil, err
	}
	return s, nil
}

// parallel runs f(0..n-1) on up to GOMAXPROCS goroutines and returns the
// error of the lowest index that failed.
func parallel(n int, f func(i int) error) error {
	errs := make([]error, n)
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			errs[i] = f(i)
			<-sem
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Score runs every plugin of the set on f for src (whose faults count
// towards quarantine by source), appending one Result per plugin,
// in name order, to out. It does not allocate when out has the capacity
// and its Results' Reasons slices have capacity from an earlier call, so
// reuse out across decisions. Safe for concurrent use.
func (s *Set) Score(f *Features, src Source, out []Result) []Result {
	for _, p := range s.plugins {
		n := len(out)
		if n < cap(out) {
			out = out[:n+1]
		} else {
			out = append(out, Result{})
		}
		p.score(f, src, &out[n])
	}
	return out
}

// Len returns the number of plugins.
func (s *Set) Len() int { return len(s.plugins) }

// Revision identifies the set's contents (manifest names, versions and
// module hashes) for logs and decision records.
func (s *Set) Revision() string { return s.revision }

// Plugins describes the loaded plugins, in name order.
func (s *Set) Plugins() []Info {
	out := make([]Info, len(s.plugins))
	for i, p := range s.plugins {
		m := p.manifest
		out[i] = Info{Name: p.name, Version: m.Version, Description: m.Description, FailureMode: p.mode,
			Features: m.Features, Reasons: m.Reasons, Module: p.sum}
	}
	return out
}

// Stats returns the counters of the set's plugins, in name order.
func (s *Set) Stats() []Stats {
	out := make([]Stats, len(s.plugins))
	for i, p := range s.plugins {
		st := &out[i]
		st.Plugin, st.Version, st.FailureMode = p.name, p.manifest.Version, p.mode
		p.ctr.snapshot(st)
		st.QuarantinedUntil = p.quarantinedUntil()
		st.Instances = p.pool.ready()
	}
	return out
}

// Release gives back a reference obtained from Host.Acquire. The set closes
// when the host has replaced it and the last reference is released.
func (s *Set) Release() {
	if s.refs.Add(-1) == 0 {
		s.close()
	}
}

// close stops the set: pools, replacements in flight, watchdog, runtime.
func (s *Set) close() {
	s.closeOnce.Do(func() {
		for _, p := range s.plugins {
			p.closePool(context.Background())
		}
		s.bg.Wait()
		if s.wd != nil {
			s.wd.close()
		}
		if err := s.rt.Close(context.Background()); err != nil && !errors.Is(err, context.Canceled) {
			s.cfg.Logger.Warn("close plugin runtime", "err", err)
		}
	})
}
