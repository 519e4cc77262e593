package bundle

import (
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	"github.com/riskpdp/riskpdp/pdp/internal/plugin"
	"github.com/riskpdp/riskpdp/pdp/internal/plugin/plugintest"
)

func newHost(t *testing.T) *plugin.Host {
	t.Helper()
	// The compilation cache the plugin tests share: only the first run on
	// a machine compiles the guest.
	cache := plugin.CacheOff
	if d, err := os.UserCacheDir(); err == nil {
		cache = filepath.Join(d, "riskpdp-test", "wazero")
	}
	h, err := plugin.New(plugin.Config{CacheDir: cache, PoolSize: 1, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

func pluginCount(h *plugin.Host) int {
	s := h.Acquire()
	if s == nil {
		return -1
	}
	defer s.Release()
	return s.Len()
}

func TestBundleOwnsThePluginSet(t *testing.T) {
	good, _ := testKeys(t)
	e, h := newEngine(t), newHost(t)

	// A bundle without plugins activates an empty set.
	srv := newServer(t, build(t, policyFS(t, nil), nil, "rev-1", good.priv))
	// Compiling a Go guest under the race detector on a busy machine takes
	// a while: the poll's timeout must cover it.
	l := newLoader(t, srv.url(), good.pubFile, "", e, func(c *Config) { c.Plugins, c.Timeout = h, 3*time.Minute })
	if err := l.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := pluginCount(h); n != 0 {
		t.Fatalf("plugins = %d, want an empty set", n)
	}

	// A bundle with the device plugin.
	wasm, err := os.ReadFile(plugintest.BuildGo(t, "plugins/examples/device"))
	if err != nil {
		t.Fatal(err)
	}
	man, err := os.ReadFile(plugintest.Root(t) + "/plugins/examples/device/manifest.yaml")
	if err != nil {
		t.Fatal(err)
	}
	plugins := fstest.MapFS{"device.yaml": {Data: man}, "device.wasm": {Data: wasm}}
	srv.set(build(t, policyFS(t, nil), plugins, "rev-2", good.priv), 0)
	if err := l.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := pluginCount(h); n != 1 || l.Status().Plugins != 1 {
		t.Fatalf("plugins = %d (status %d), want 1", n, l.Status().Plugins)
	}
	before := h.Acquire()
	before.Release()

	// Same plugins, new policy revision: the plugin set is kept.
	srv.set(build(t, policyFS(t, withLarge(t, "704")), plugins, "rev-3", good.priv), 0)
	if err := l.Poll(t.Context()); err != nil {
		t.Fatal(err)
	}
	after := h.Acquire()
	after.Release()
	if after != before || decide(t, e) != "rev-3" {
		t.Fatal("unchanged plugins were rebuilt, or the policy did not switch")
	}

	// A broken plugin refuses the whole bundle: neither part switches.
	broken := fstest.MapFS{"device.yaml": {Data: man}, "device.wasm": {Data: []byte("\x00asm\x01\x00\x00\x00garbage")}}
	srv.set(build(t, policyFS(t, withLarge(t, "705")), broken, "rev-4", good.priv), 0)
	if err := l.Poll(t.Context()); err == nil {
		t.Fatal("broken plugin: want an error")
	}
	cur := h.Acquire()
	cur.Release()
	if cur != before || decide(t, e) != "rev-3" || large(t, e) != "704" || l.Status().Failures[CauseActivation] != 1 {
		t.Fatalf("after a broken plugin: revision %s, status %+v", decide(t, e), l.Status())
	}

	// Without a plugin host, a bundle with plugins is refused.
	l2 := newLoader(t, srv.url(), good.pubFile, "", newEngine(t), nil)
	srv.set(build(t, policyFS(t, nil), plugins, "rev-5", good.priv), 0)
	if err := l2.Poll(t.Context()); err == nil || l2.Status().Failures[CauseInvalid] != 1 {
		t.Fatalf("plugins without a host: %v, %+v", err, l2.Status())
	}
}
