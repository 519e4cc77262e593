package plugin

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestTinyModuleScores(t *testing.T) {
	h := newHost(t, testConfig(t), writeTiny(t, tinyModule{version: 1}, tinyManifest))
	r, _ := scoreOne(t, h, behave(0, 1))
	if r.Err != nil || r.Score != 0.5 || r.Plugin != "tiny" {
		t.Fatalf("got %+v", r)
	}
}

// TestLoadRefuses: every module or manifest the host must refuse at load,
// with the words the error must contain.
func TestLoadRefuses(t *testing.T) {
	other := strings.Replace(tinyManifest, "abi: 1", "abi: 2", 1)
	tests := []struct {
		name     string
		module   []byte
		manifest string
		cfg      func(*Config)
		want     string
	}{
		{"not wasm", []byte("\x7fELF garbage"), tinyManifest, nil, "not a WebAssembly module"},
		{"empty file", []byte{}, tinyManifest, nil, "not a WebAssembly module"},
		{"truncated", tinyModule{version: 1}.bytes()[:40], tinyManifest, nil, "malformed"},
		{"manifest abi", tinyModule{version: 1}.bytes(), other, nil, "abi 2: this host implements ABI version 1"},
		{"module abi", tinyModule{version: 2}.bytes(), tinyManifest, nil, "riskpdp_abi_version returned 2"},
		{"no score export", tinyModule{version: 1, noExport: "riskpdp_score"}.bytes(), tinyManifest, nil,
			"lacks the export riskpdp_score"},
		{"no buffer export", tinyModule{version: 1, noExport: "riskpdp_buffer"}.bytes(), tinyManifest, nil,
			"lacks the export riskpdp_buffer"},
		{"no memory export", tinyModule{version: 1, noExport: "memory"}.bytes(), tinyManifest, nil,
			`lacks the export "memory"`},
		{"foreign import", tinyModule{version: 1, importEnv: true}.bytes(), tinyManifest, nil,
			"imports env.host_fn: a plugin may import only wasi_snapshot_preview1"},
		{"imported memory", tinyModule{version: 1, importMem: true}.bytes(), tinyManifest, nil,
			"imports memory env.memory"},
		{"reserved export", tinyModule{version: 1, extraExp: "__riskpdp_fuel"}.bytes(), tinyManifest, nil,
			"reserved prefix"},
		{"initial memory over cap", tinyModule{version: 1, memMin: 100}.bytes(), tinyManifest,
			func(c *Config) { c.MemoryLimit = 1 << 20 }, "over the plugin's limit"},
		{"capability not granted", tinyModule{version: 1}.bytes(), tinyManifest + "requires: [clock]\n", nil,
			"requires clock, which the configuration does not grant"},
		{"network", tinyModule{version: 1}.bytes(), tinyManifest + "requires: [network]\n", nil,
			"offers no network access"},
		{"time over budget", tinyModule{version: 1}.bytes(), tinyManifest + "limits: {time: 1s}\n", nil,
			"time budget of 1s, over the configured 2ms"},
		{"memory over cap", tinyModule{version: 1}.bytes(), tinyManifest + "limits: {memory: 1GiB}\n", nil,
			"bytes of memory, over the configured"},
		{"smoke fails", tinyModule{version: 1, score: bodyTrap}.bytes(), tinyManifest, nil,
			"smoke test on the neutral record: plugin fault: trap"},
		{"smoke expectation", tinyModule{version: 1}.bytes(),
			tinyManifest + "smoke:\n  - features: {amount: 3}\n    score: [0.9, 1]\n", nil, "score 0.5 outside [0.9 1]"},
		{"garbage score", tinyModule{version: 1, score: f64Const(7)}.bytes(), tinyManifest, nil, "garbage"},
		{"unknown manifest field", tinyModule{version: 1}.bytes(), tinyManifest + "colour: red\n", nil,
			"field colour not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "tiny.wasm"), tt.module, 0o644)
			os.WriteFile(filepath.Join(dir, "tiny.yaml"), []byte(tt.manifest), 0o644)
			cfg := testConfig(t)
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			h, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close()
			err = h.Load(context.Background(), dir)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load error = %v, want it to contain %q", err, tt.want)
			}
			if h.Acquire() != nil {
				t.Fatal("a refused set became current")
			}
		})
	}
}

func TestLoadGrantedCapability(t *testing.T) {
	cfg := testConfig(t)
	cfg.Grants = map[string][]Capability{"tiny": {CapClock}}
	newHost(t, cfg, writeTiny(t, tinyModule{version: 1}, tinyManifest+"requires: [clock]\n"))
	cfg.Grants = map[string][]Capability{"*": {CapClock, CapRandom}}
	newHost(t, cfg, writeTiny(t, tinyModule{version: 1}, tinyManifest+"requires: [clock, random]\n"))
}

func TestLoadStrayModule(t *testing.T) {
	dir := writeTiny(t, tinyModule{version: 1}, tinyManifest)
	os.WriteFile(filepath.Join(dir, "stray.wasm"), tinyModule{version: 1}.bytes(), 0o644)
	h, _ := New(testConfig(t))
	defer h.Close()
	if err := h.Load(context.Background(), dir); err == nil || !strings.Contains(err.Error(), "stray.wasm has no manifest") {
		t.Fatalf("got %v", err)
	}
}

func TestLoadDuplicateName(t *testing.T) {
	dir := writeTiny(t, tinyModule{version: 1}, tinyManifest)
	os.WriteFile(filepath.Join(dir, "tiny2.wasm"), tinyModule{version: 1}.bytes(), 0o644)
	os.WriteFile(filepath.Join(dir, "tiny2.yaml"), []byte(tinyManifest), 0o644)
	h, _ := New(testConfig(t))
	defer h.Close()
	if err := h.Load(context.Background(), dir); err == nil || !strings.Contains(err.Error(), "used by two manifests") {
		t.Fatalf("got %v", err)
	}
}

// TestReloadRefusedKeepsOldSet: a broken set is refused and the old one
// keeps serving; a good one replaces it, and a set acquired before the swap
// keeps working until released.
func TestReloadRefusedKeepsOldSet(t *testing.T) {
	ctx := context.Background()
	dir := writeTiny(t, tinyModule{version: 1}, tinyManifest)
	h := newHost(t, testConfig(t), dir)
	rev := h.Acquire()
	rev.Release()

	for _, bad := range [][]byte{[]byte("not wasm"), tinyModule{version: 2}.bytes(), tinyModule{version: 1, score: bodyTrap}.bytes()} {
		os.WriteFile(filepath.Join(dir, "tiny.wasm"), bad, 0o644)
		if err := h.Reload(ctx); err == nil {
			t.Fatal("reload of a broken module succeeded")
		}
		r, _ := scoreOne(t, h, behave(0, 1))
		if r.Err != nil || r.Score != 0.5 {
			t.Fatalf("old set stopped serving: %+v", r)
		}
	}

	held := h.Acquire()
	os.WriteFile(filepath.Join(dir, "tiny.wasm"), tinyModule{version: 1, score: f64Const(0.25)}.bytes(), 0o644)
	if err := h.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if r, _ := scoreOne(t, h, behave(0, 1)); r.Score != 0.25 {
		t.Fatalf("new set not serving: %+v", r)
	}
	// The old set still answers for the holder, then closes on release.
	if out := held.Score(behave(0, 1), Source{}, nil); out[0].Err != nil || out[0].Score != 0.5 {
		t.Fatalf("held old set: %+v", out[0])
	}
	held.Release()
	deadline := time.Now().Add(5 * time.Second)
	for held.plugins[0].pool.ready() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("old set not closed after its last release")
		}
		time.Sleep(time.Millisecond)
	}
	if out := held.Score(behave(0, 1), Source{}, nil); out[0].Err != FaultUnavailable {
		t.Fatalf("closed set scored: %+v", out[0])
	}
}

func TestLogWriterLines(t *testing.T) {
	var buf strings.Builder
	w := &logWriter{log: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == "time" {
				return slog.Attr{}
			}
			return a
		}})), plugin: "p"}
	for _, s := range []string{"pan", "ic: ", "boom\nsecond", " line\n"} {
		w.Write([]byte(s))
	}
	want := "level=INFO msg=\"plugin stderr\" plugin=p line=\"panic: boom\"\n" +
		"level=INFO msg=\"plugin stderr\" plugin=p line=\"second line\"\n"
	if buf.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", buf.String(), want)
	}
}
