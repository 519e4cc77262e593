package plugin

import (
	"context"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/riskpdp/riskpdp/pdp/plugin/abi"
)

// benchFeatures is a realistic record that exercises most branches.
func benchFeatures() *Features {
	f, err := DecodeFeaturesJSON([]byte(`{"stage": "payment", "amount": 1200, "category_code": "digital",
		"habit_amount_mean": 40, "habit_amount_std": 15, "habit_count": 180, "habit_category_share": 0.02,
		"device_new": 1, "ip_foreign": 1, "device_uids_1h": 2, "uid_devices_1h": 1, "uid_count_1h": 3,
		"payment_failures_1h": 1, "hours_since_sensitive_change": 5, "payment_method_code": "card",
		"account_age_days": 400, "hour_of_day": 3, "uid_count_1m": 2, "uid_amount_1m": 1300}`))
	if err != nil {
		panic(err)
	}
	return &f
}

// BenchmarkScore: one Set.Score over each example plugin alone, and over
// the three Go examples together; per-call cost includes writing the
// features, the call and checking the result. Must not allocate.
func BenchmarkScore(b *testing.B) {
	dir := goExampleDir(b)
	for _, name := range []string{"habit_deviation", "device_risk", "fraud_model", "all"} {
		b.Run(name, func(b *testing.B) {
			d := dir
			if name != "all" {
				d = b.TempDir()
				for _, ext := range []string{".wasm", ".yaml"} {
					raw, _ := os.ReadFile(filepath.Join(dir, name+ext))
					os.WriteFile(filepath.Join(d, name+ext), raw, 0o644)
				}
			}
			h := newHost(b, testConfig(b), d)
			s := h.Acquire()
			defer s.Release()
			f := benchFeatures()
			out := s.Score(f, Source{}, nil)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				out = s.Score(f, Source{}, out[:0])
			}
			b.StopTimer()
			for _, r := range out {
				if r.Err != nil {
					b.Fatal(r.Plugin, r.Err)
				}
			}
		})
	}
}

// BenchmarkScoreParallel: the three Go examples from GOMAXPROCS goroutines.
func BenchmarkScoreParallel(b *testing.B) {
	h := newHost(b, testConfig(b), goExampleDir(b))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		f := benchFeatures()
		out := h.Score(f, Source{}, nil)
		for pb.Next() {
			out = h.Score(f, Source{}, out[:0])
		}
	})
}

// BenchmarkCall compares ways of calling the same Go guest's score export,
// without the host's bookkeeping: bare (no instrumentation, no bound),
// instrumented (fuel set per call, as the host does) and wazero's
// WithCloseOnContextDone with a background context (the alternative the
// RATIONALE in doc.go rejects).
func BenchmarkCall(b *testing.B) {
	wasm, err := os.ReadFile(filepath.Join(goExampleDir(b), "habit_deviation.wasm"))
	if err != nil {
		b.Fatal(err)
	}
	for _, mode := range []string{"bare", "instrumented", "close-on-context-done"} {
		b.Run(mode, func(b *testing.B) {
			ctx := context.Background()
			cache, _ := wazero.NewCompilationCacheWithDir(testCacheDir(b))
			rc := wazero.NewRuntimeConfig().WithCompilationCache(cache).WithCloseOnContextDone(mode == "close-on-context-done")
			rt := wazero.NewRuntimeWithConfig(ctx, rc)
			defer rt.Close(ctx)
			wasi_snapshot_preview1.MustInstantiate(ctx, rt)
			code := wasm
			if mode == "instrumented" {
				if code, err = instrument(wasm, 256); err != nil {
					b.Fatal(err)
				}
			}
			cm, err := rt.CompileModule(ctx, code)
			if err != nil {
				b.Fatal(err)
			}
			m, err := rt.InstantiateModule(ctx, cm, wazero.NewModuleConfig().WithStartFunctions())
			if err != nil {
				b.Fatal(err)
			}
			var fuel api.MutableGlobal
			if mode == "instrumented" {
				fuel = m.ExportedGlobal(fuelExport).(api.MutableGlobal)
				fuel.Set(initFuel)
			}
			if _, err := m.ExportedFunction("_initialize").Call(ctx); err != nil {
				b.Fatal(err)
			}
			fn := m.ExportedFunction(abi.ScoreExport)
			stack := make([]uint64, 1)
			if err := m.ExportedFunction(abi.BufferExport).CallWithStack(ctx, stack); err != nil {
				b.Fatal(err)
			}
			view, _ := m.Memory().Read(uint32(stack[0]), abi.BufferSize)
			for i, x := range benchFeatures() {
				binary.LittleEndian.PutUint64(view[8*i:], math.Float64bits(x))
			}
			b.ReportAllocs()
			for b.Loop() {
				if fuel != nil {
					fuel.Set(fuelFor(DefaultFuel))
				}
				if err := fn.CallWithStack(ctx, stack); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOverhead isolates the host's per-call cost on a guest that does
// nothing (returns a constant): Set.Score against a bare CallWithStack of
// the same module without instrumentation.
func BenchmarkOverhead(b *testing.B) {
	ctx := context.Background()
	mod := tinyModule{version: 1}
	b.Run("bare-call", func(b *testing.B) {
		rt := wazero.NewRuntime(ctx)
		defer rt.Close(ctx)
		m, err := rt.Instantiate(ctx, mod.bytes())
		if err != nil {
			b.Fatal(err)
		}
		fn := m.ExportedFunction(abi.ScoreExport)
		stack := make([]uint64, 1)
		b.ReportAllocs()
		for b.Loop() {
			if err := fn.CallWithStack(ctx, stack); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("set-score", func(b *testing.B) {
		h := newHost(b, testConfig(b), writeTiny(b, mod, tinyManifest))
		s := h.Acquire()
		defer s.Release()
		f := benchFeatures()
		out := s.Score(f, Source{}, nil)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			out = s.Score(f, Source{}, out[:0])
		}
	})
}

// BenchmarkMarshal compares writing only the declared features (what the
// host does) with writing the whole record, into a buffer like the guest's.
func BenchmarkMarshal(b *testing.B) {
	f := benchFeatures()
	view := make([]byte, abi.BufferSize)
	declared := []abi.Feature{abi.Amount, abi.Stage, abi.CategoryCode, abi.HabitAmountMean, abi.HabitAmountStd,
		abi.HabitCount, abi.HabitCategoryShare}
	b.Run("declared-7", func(b *testing.B) {
		for b.Loop() {
			for _, i := range declared {
				binary.LittleEndian.PutUint64(view[8*int(i):], math.Float64bits(f[i]))
			}
		}
	})
	b.Run("whole-record", func(b *testing.B) {
		for b.Loop() {
			for i := range f {
				binary.LittleEndian.PutUint64(view[8*i:], math.Float64bits(f[i]))
			}
		}
	})
}

// BenchmarkLoad measures loading the three Go examples (read, instrument,
// compile, instantiate the pools, smoke-test) with a cold compilation cache
// (a new directory each time) and a warm one. Run with -benchtime=3x.
func BenchmarkLoad(b *testing.B) {
	dir := goExampleDir(b)
	for _, warm := range []bool{false, true} {
		name := "cold"
		if warm {
			name = "warm"
		}
		b.Run(name, func(b *testing.B) {
			cfg := testConfig(b)
			cacheDir := b.TempDir()
			if warm {
				cfg.CacheDir = cacheDir
				h, _ := New(cfg)
				if err := h.Load(context.Background(), dir); err != nil { // fill the cache
					b.Fatal(err)
				}
				h.Close()
			}
			for b.Loop() {
				if !warm {
					cfg.CacheDir = b.TempDir()
				}
				h, err := New(cfg)
				if err != nil {
					b.Fatal(err)
				}
				if err := h.Load(context.Background(), dir); err != nil {
					b.Fatal(err)
				}
				h.Close()
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N)/3, "ms/plugin")
		})
	}
}
