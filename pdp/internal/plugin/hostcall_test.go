package plugin

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// hostCalls counts calls into WASI host functions.
type hostCalls struct{ n atomic.Int64 }

func (h *hostCalls) NewFunctionListener(def api.FunctionDefinition) experimental.FunctionListener {
	if def.ModuleName() != wasi_snapshot_preview1.ModuleName {
		return nil
	}
	return experimental.FunctionListenerFunc(func(context.Context, api.Module, api.FunctionDefinition, []uint64,
		experimental.StackIterator) {
		h.n.Add(1)
	})
}

// TestNoHostCallsPerScore: after instantiation, scoring a Go guest makes
// no call into the host (the ABI's "no per-call host calls"), although its
// runtime calls WASI while it initializes.
func TestNoHostCallsPerScore(t *testing.T) {
	var calls hostCalls
	ctx := experimental.WithFunctionListenerFactory(context.Background(), &calls)
	cfg := testConfig(t)
	cfg.CacheDir = CacheOff // listeners change the compiled code
	// A generous budget: on a loaded machine a descheduled call could
	// overrun a tight one, and replacing that instance (whose
	// initialization does make host calls) is not what this test is about.
	cfg.TimeBudget = time.Second
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	dir := t.TempDir()
	for _, ext := range []string{".wasm", ".yaml"} {
		b, _ := os.ReadFile(filepath.Join(goExampleDir(t), "habit_deviation"+ext))
		if ext == ".yaml" {
			b = regexp.MustCompile(`(?m)^  time: .*$`).ReplaceAll(b, []byte("  time: 1s"))
		}
		os.WriteFile(filepath.Join(dir, "habit_deviation"+ext), b, 0o644)
	}
	if err := h.Load(ctx, dir); err != nil {
		t.Fatal(err)
	}
	if calls.n.Load() == 0 {
		t.Fatal("the listener saw no host call at all: it is not attached")
	}
	before := calls.n.Load()
	out := h.Score(benchFeatures(), Source{}, nil)
	for range 1000 {
		out = h.Score(benchFeatures(), Source{}, out[:0])
	}
	for _, r := range out {
		if r.Err != nil {
			t.Fatal(r.Plugin, r.Err)
		}
	}
	if n := calls.n.Load() - before; n != 0 {
		t.Fatalf("%d host calls during 1001 decisions", n)
	}
}
