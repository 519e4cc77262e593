package plugin

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/riskpdp/riskpdp/pdp/plugin/abi"
)

// maxModuleBytes bounds the size of a module file.
const maxModuleBytes = 64 << 20

// readManifest reads and decodes the manifest at path.
func readManifest(path string) (*Manifest, error) {
	b, err := readFileLimit(path, maxManifestBytes)
	if err != nil {
		return nil, err
	}
	m, err := DecodeManifest(b)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", path, err)
	}
	return m, nil
}

func readFileLimit(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	return b, nil
}

// modulePath returns the module file a manifest at path names.
func modulePath(path string, m *Manifest) string {
	if m.Module != "" {
		return filepath.Join(filepath.Dir(path), m.Module)
	}
	return strings.TrimSuffix(path, filepath.Ext(path)) + ".wasm"
}

// compilePlugin checks a manifest against the configuration, then reads,
// instruments, compiles and checks its module. No guest code runs here.
func (s *Set) compilePlugin(ctx context.Context, path string) (*plugin, error) {
	cfg := s.cfg
	m, err := readManifest(path)
	if err != nil {
		return nil, err
	}
	p := &plugin{name: m.Name, manifest: m, mode: m.FailureMode, feats: m.features, reasons: m.Reasons, set: s}
	if mode, ok := cfg.FailureModes[m.Name]; ok {
		p.mode = mode
	}
	if len(m.Reasons) == abi.MaxReasons {
		p.validMask = ^uint64(0)
	} else {
		p.validMask = 1<<len(m.Reasons) - 1
	}
	var missing []string
	for _, c := range m.Requires {
		if !cfg.granted(m.Name, c) {
			missing = append(missing, string(c))
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("plugin %s requires %s, which the configuration does not grant (plugins.grants)",
			m.Name, strings.Join(missing, ", "))
	}
	budget, _ := m.Limits.time()
	mem, _ := m.Limits.memory()
	switch {
	case budget > cfg.TimeBudget:
		return nil, fmt.Errorf("plugin %s asks for a time budget of %s, over the configured %s", m.Name, budget, cfg.TimeBudget)
	case m.Limits.Fuel > cfg.Fuel:
		return nil, fmt.Errorf("plugin %s asks for %d fuel, over the configured %d", m.Name, m.Limits.Fuel, cfg.Fuel)
	case mem > cfg.MemoryLimit:
		return nil, fmt.Errorf("plugin %s asks for %d bytes of memory, over the configured %d", m.Name, mem, cfg.MemoryLimit)
	}
	p.budget, p.fuel, p.memLimit = cmpOr(budget, cfg.TimeBudget), cmpOr(m.Limits.Fuel, cfg.Fuel), cmpOr(mem, cfg.MemoryLimit)

	mpath := modulePath(path, m)
	wasm, err := readFileLimit(mpath, maxModuleBytes)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %w", m.Name, err)
	}
	sum := sha256.Sum256(wasm)
	p.sum = hex.EncodeToString(sum[:])
	inst, err := instrument(wasm, uint32(p.memLimit/pageSize))
	if err != nil {
		return nil, fmt.Errorf("plugin %s: module %s: %w", m.Name, mpath, err)
	}
	p.code, err = s.rt.CompileModule(ctx, inst)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: module %s is not valid WebAssembly: %w", m.Name, mpath, err)
	}
	if err := checkModule(p.code); err != nil {
		return nil, fmt.Errorf("plugin %s: module %s: %w", m.Name, mpath, err)
	}
	_, p.hasInit = p.code.ExportedFunctions()[abi.InitializeExport]
	p.modCfg = s.moduleConfig(p)
	return p, nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

var (
	i32 = []api.ValueType{api.ValueTypeI32}
	f64 = []api.ValueType{api.ValueTypeF64}
)

// checkModule checks the exports and imports of a compiled module against
// ABI v1.
func checkModule(code wazero.CompiledModule) error {
	fns := code.ExportedFunctions()
	for _, want := range []struct {
		name    string
		results []api.ValueType
	}{{abi.VersionExport, i32}, {abi.BufferExport, i32}, {abi.ScoreExport, f64}} {
		def, ok := fns[want.name]
		if !ok {
			return fmt.Errorf("lacks the export %s (ABI v%d)", want.name, abi.Version)
		}
		if len(def.ParamTypes()) != 0 || !slices.Equal(def.ResultTypes(), want.results) {
			return fmt.Errorf("export %s has signature %v -> %v, want () -> %v",
				want.name, def.ParamTypes(), def.ResultTypes(), want.results)
		}
	}
	if def, ok := fns[abi.InitializeExport]; ok && (len(def.ParamTypes()) != 0 || len(def.ResultTypes()) != 0) {
		return fmt.Errorf("export %s must take and return nothing", abi.InitializeExport)
	}
	if _, ok := code.ExportedMemories()[abi.MemoryExport]; !ok {
		return fmt.Errorf("lacks the export %q (its linear memory)", abi.MemoryExport)
	}
	for _, def := range code.ImportedFunctions() {
		mod, name, _ := def.Import()
		if mod != wasi_snapshot_preview1.ModuleName {
			return fmt.Errorf("imports %s.%s: a plugin may import only %s", mod, name, wasi_snapshot_preview1.ModuleName)
		}
	}
	return nil
}

// moduleConfig is the sandbox of p's instances: no arguments, environment,
// files or start function; clocks, randomness and stderr only when
// granted.
func (s *Set) moduleConfig(p *plugin) wazero.ModuleConfig {
	mc := wazero.NewModuleConfig().WithName("").WithStartFunctions().WithEnv("GOTRACEBACK", "none")
	for _, c := range p.manifest.Requires {
		switch c {
		case CapClock:
			mc = mc.WithSysWalltime().WithSysNanotime()
		case CapRandom:
			mc = mc.WithRandSource(rand.Reader)
		case CapStderr:
			mc = mc.WithStderr(&logWriter{log: s.cfg.Logger, plugin: p.name})
		}
	}
	return mc
}

// logWriter turns guest stderr into one log record per line (Go guests
// write a line in many pieces). Lines are cut at 4 KiB.
type logWriter struct {
	log    *slog.Logger
	plugin string
	mu     sync.Mutex
	line   []byte
}

func (w *logWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, c := range b {
		if c == '\n' || len(w.line) >= 4<<10 {
			w.log.Info("plugin stderr", "plugin", w.plugin, "line", string(w.line))
			w.line = w.line[:0]
			if c == '\n' {
				continue
			}
		}
		w.line = append(w.line, c)
	}
	return len(b), nil
}

// fillPool instantiates the pool and smoke-tests the plugin.
func (p *plugin) fillPool(ctx context.Context) error {
	for i := 0; i < p.pool.size; i++ {
		in, err := p.newInstance(ctx)
		if err != nil {
			return fmt.Errorf("plugin %s: %w", p.name, err)
		}
		p.pool.mu.Lock()
		p.pool.count++
		p.pool.mu.Unlock()
		p.release(in)
	}
	return p.smoke()
}

// smoke calls the plugin on the neutral record and on each smoke case of
// its manifest; any fault or unmet expectation refuses the set.
func (p *plugin) smoke() error {
	cases := append([]SmokeCase{{}}, p.manifest.Smoke...)
	for i, sc := range cases {
		f, err := featuresFromMap(sc.Features)
		if err != nil {
			return err // checked by DecodeManifest
		}
		in := p.acquire()
		if in == nil {
			return fmt.Errorf("plugin %s: smoke test: no instance", p.name)
		}
		score, mask, fk := p.call(in, &f)
		if fk == 0 {
			p.release(in)
		} // else the set is refused and closes the instance with the pool
		what := "neutral record"
		if i > 0 {
			what = fmt.Sprintf("smoke[%d]", i-1)
		}
		if fk != 0 {
			return fmt.Errorf("plugin %s: smoke test on the %s: %v", p.name, what, fk)
		}
		if len(sc.Score) == 2 && (score < sc.Score[0] || score > sc.Score[1]) {
			return fmt.Errorf("plugin %s: smoke test %s: score %v outside %v", p.name, what, score, sc.Score)
		}
		if sc.Reasons != nil {
			var got []string
			for j, r := range p.reasons {
				if mask&(1<<j) != 0 {
					got = append(got, r)
				}
			}
			if !sameSet(got, sc.Reasons) {
				return fmt.Errorf("plugin %s: smoke test %s: reasons %v, want %v", p.name, what, got, sc.Reasons)
			}
		}
	}
	return nil
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}
