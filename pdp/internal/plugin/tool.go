package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/riskpdp/riskpdp/pdp/plugin/abi"
)

// The functions in this file back `pdp plugin test` and `pdp plugin bench`.
// They load one module with its manifest (NAME.yaml next to NAME.wasm),
// grant it what its manifest requires (the operator pointed the tool at
// it) and use the default compilation cache.

// loadOne builds a single-plugin set from a module path.
func loadOne(ctx context.Context, wasmPath string, cfg Config) (*Set, error) {
	manifest := strings.TrimSuffix(wasmPath, filepath.Ext(wasmPath)) + ".yaml"
	m, err := readManifest(manifest)
	if err != nil {
		return nil, err
	}
	if m.Module != "" && m.Module != filepath.Base(wasmPath) {
		return nil, fmt.Errorf("manifest %s names module %s, not %s", manifest, m.Module, filepath.Base(wasmPath))
	}
	cfg.Grants = map[string][]Capability{m.Name: m.Requires}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	h, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return buildSet(ctx, &h.cfg, h.cache, []string{manifest}, func(string) *counters { return &counters{} })
}

// TestModule loads the module at wasmPath, scores the features in
// featuresJSON (see DecodeFeaturesJSON) once, and prints the plugin, the
// score, the reasons and the time taken to w. A fault is printed and
// returned as an error.
func TestModule(ctx context.Context, wasmPath string, featuresJSON []byte, w io.Writer) error {
	f, err := DecodeFeaturesJSON(featuresJSON)
	if err != nil {
		return err
	}
	start := time.Now()
	s, err := loadOne(ctx, wasmPath, Config{CacheDir: "", PoolSize: 1})
	if err != nil {
		return err
	}
	defer s.close()
	loaded := time.Since(start)
	p := s.plugins[0]
	m := p.manifest
	fmt.Fprintf(w, "plugin   %s %s (ABI v%d, failure mode %s)\n", m.Name, m.Version, m.ABI, p.mode)
	fmt.Fprintf(w, "load     %s (compile, instantiate, smoke test)\n", loaded.Round(time.Microsecond))
	var ignored []string
	for i := range abi.NumFeatures {
		if f[i] != NewFeatures()[i] && !slices.Contains(p.feats, abi.Feature(i)) {
			ignored = append(ignored, abi.Feature(i).String())
		}
	}
	if len(ignored) > 0 {
		fmt.Fprintf(w, "note     not declared by the manifest, so not passed: %s\n", strings.Join(ignored, ", "))
	}
	start = time.Now()
	out := s.Score(&f, Source{}, nil)
	took := time.Since(start)
	r := out[0]
	if r.Err != nil {
		what := "ignored (failure mode open)"
		if r.FailClosed {
			what = "decision falls back to step_up (failure mode closed)"
		}
		fmt.Fprintf(w, "fault    %s: %s\n", r.Err.(FaultKind), what)
		return fmt.Errorf("plugin %s: %w", m.Name, r.Err)
	}
	fmt.Fprintf(w, "score    %.6g\n", r.Score)
	if len(r.Reasons) == 0 {
		fmt.Fprintf(w, "reasons  (none)\n")
	} else {
		fmt.Fprintf(w, "reasons  %s\n", strings.Join(r.Reasons, ", "))
	}
	fmt.Fprintf(w, "took     %s (first call on a fresh instance)\n", took)
	return nil
}

// BenchModule loads the module at wasmPath and times n calls in isolation
// (one goroutine, one instance) on the first smoke case of its manifest, or
// on the neutral record when it has none, and prints the load time, the
// mean and the percentiles per call to w.
func BenchModule(ctx context.Context, wasmPath string, n int, w io.Writer) error {
	if n < 1 {
		return errors.New("plugin bench: n must be at least 1")
	}
	start := time.Now()
	s, err := loadOne(ctx, wasmPath, Config{CacheDir: "", PoolSize: 1})
	if err != nil {
		return err
	}
	defer s.close()
	loaded := time.Since(start)
	p := s.plugins[0]
	f := NewFeatures()
	input := "the neutral record"
	if len(p.manifest.Smoke) > 0 {
		if f, err = featuresFromMap(p.manifest.Smoke[0].Features); err != nil {
			return err
		}
		input = "smoke[0]"
	}
	out := make([]Result, 0, 1)
	for range min(n, 1000) { // warm up
		out = s.Score(&f, Source{}, out[:0])
	}
	lat := make([]time.Duration, min(n, 100000))
	var faults, timeouts, quarantined int
	begin := time.Now()
	for i := 0; i < n; i++ {
		t0 := time.Now()
		out = s.Score(&f, Source{}, out[:0])
		if i < len(lat) {
			lat[i] = time.Since(t0)
		}
		switch {
		case out[0].Err == FaultTimeout:
			timeouts++ // over budget: a slow plugin, or a busy machine
		case out[0].Err == FaultQuarantined:
			quarantined++ // after repeated faults or timeouts, counted above
		case out[0].Err != nil:
			faults++
		}
	}
	total := time.Since(begin)
	slices.Sort(lat)
	pct := func(q float64) time.Duration { return lat[int(q*float64(len(lat)-1))] }
	fmt.Fprintf(w, "plugin   %s %s, input %s\n", p.name, p.manifest.Version, input)
	fmt.Fprintf(w, "load     %s (compile with cache, instantiate, smoke test)\n", loaded.Round(time.Microsecond))
	fmt.Fprintf(w, "calls    %d, faults %d, timeouts %d, quarantined %d\n", n, faults, timeouts, quarantined)
	fmt.Fprintf(w, "mean     %s per call (including feature marshaling)\n", total/time.Duration(n))
	fmt.Fprintf(w, "p50      %s   p99 %s   max %s (each includes ~30ns of clock reads)\n", pct(0.5), pct(0.99), lat[len(lat)-1])
	if faults > 0 {
		return fmt.Errorf("plugin %s: %d of %d calls faulted", p.name, faults, n)
	}
	return nil
}
