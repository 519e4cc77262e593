package plugin

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/tetratelabs/wazero"
)

// TestInstrumentCompiles: instrumented modules are valid for wazero, the
// memory maximum is capped, and a module cannot be instrumented twice.
func TestInstrumentCompiles(t *testing.T) {
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	for _, m := range []tinyModule{{version: 1}, {version: 1, score: bodyLoopForever}, {version: 1, memMax: 1000}} {
		out, err := instrument(m.bytes(), 16)
		if err != nil {
			t.Fatal(err)
		}
		cm, err := rt.CompileModule(ctx, out)
		if err != nil {
			t.Fatalf("instrumented module does not compile: %v", err)
		}
		if max, ok := cm.ExportedMemories()["memory"].Max(); !ok || max > 16 {
			t.Errorf("memory max %d %v, want capped at 16", max, ok)
		}
		if _, err := instrument(out, 16); err == nil {
			t.Error("instrumented a module twice")
		}
	}
}

// TestInstrumentGoGuest: the instrumenter handles everything the Go
// compiler emits, and leaves non-code sections alone.
func TestInstrumentGoGuest(t *testing.T) {
	wasm, err := os.ReadFile(faultyModule(t))
	if err != nil {
		t.Fatal(err)
	}
	out, err := instrument(wasm, 256)
	if err != nil {
		t.Fatal(err)
	}
	in, _ := splitSections(wasm)
	got, _ := splitSections(out)
	for i, s := range in {
		if s.id == secData && !bytes.Equal(s.payload, got[i].payload) {
			t.Error("data section changed")
		}
	}
}

func FuzzInstrument(f *testing.F) {
	f.Add(tinyModule{version: 1}.bytes())
	f.Add(tinyModule{version: 1, score: bodyLoopForever, importEnv: true}.bytes())
	f.Add(tinyModule{version: 1, memMax: 3}.bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		out, err := instrument(b, 16) // must never panic
		if err != nil {
			return
		}
		if _, err := splitSections(out); err != nil {
			t.Fatalf("instrument produced an unsplittable module: %v", err)
		}
	})
}
