package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp/internal/fleet/fleettest"
)

// TestServeOnRedis: two `pdp serve` processes' worth of sidecars on one
// Redis: a decision works, /metrics shows Redis up; with Redis killed,
// /health/ready stays 200 but reports degraded (Redis unreachable, commits
// failing), decisions keep coming
// (never allow for an unknown subject), and all recovers when Redis is
// back.
func TestServeOnRedis(t *testing.T) {
	r := fleettest.Start(t)
	// A generous budget: the race detector on a loaded machine is slower
	// than the default 2 ms (TestReadBudget in pdp/internal/fleet tests the budget).
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte(opToken+" write alice\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	adminAddr := freeAddr(t)
	s := &sop{sidecar: startSidecar(t, "--config", redisConfig(t, "read_budget: 200ms"), "--redis-addr", r.Addr,
		"--admin-addr", adminAddr, "--admin-token-file", tokens), admin: "http://" + adminAddr}
	blockBody := `{"operator":"alice","reason":"emulator farm","ticket":"RISK-1"}`
	if code, m := s.op("PUT", "/admin/v1/lists/block/device/d-farm", opToken, blockBody); code != 200 {
		t.Fatalf("block on Redis: %d %v", code, m)
	}
	if code, d := s.decide(allowBody); code != 200 || d["outcome"] != "allow" {
		t.Fatalf("decide on Redis: %d %v", code, d)
	}
	if _, m := s.get("/metrics"); !strings.Contains(m, "pdp_redis_up 1") {
		t.Fatalf("metrics without pdp_redis_up 1:\n%.2000s", m)
	}
	r.Stop()
	waitFor(t, func() bool {
		code, body := s.get("/health/ready")
		return code == 200 && strings.Contains(body, "redis unreachable")
	})
	if _, m := s.get("/metrics"); !strings.Contains(m, "pdp_redis_up 0") || !strings.Contains(m, "pdp_redis_outages_total 1") {
		t.Fatalf("metrics during the outage:\n%.3000s", m)
	}
	if code, m := s.op("PUT", "/admin/v1/lists/block/device/d-farm2", opToken, blockBody); code != 500 {
		t.Fatalf("operator write during the outage: %d %v, want 500", code, m)
	}
	code, d := s.decide(strings.Replace(allowBody, `"u-1"`, `"u-new"`, 1))
	if code != 200 || d["outcome"] == "allow" || !strings.Contains(strings.Join(toStrings(d["reasons"]), ","), "state_unavailable") {
		t.Fatalf("unknown subject during the outage: %d %v", code, d)
	}
	// Changes that cannot be committed during the outage stay pending and
	// are reported as degraded like the outage, never as not ready.
	for range 20 {
		if code, body := s.get("/health/ready"); code != 200 {
			t.Fatalf("readiness during the outage: %d %s", code, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.Start()
	waitFor(t, func() bool {
		code, body := s.get("/health/ready")
		return code == 200 && !strings.Contains(body, "redis")
	})
	// The first misses after recovery may still exceed the 2 ms budget
	// while the pool reconnects (race detector, loaded machine).
	waitFor(t, func() bool {
		code, d := s.decide(strings.Replace(allowBody, `"u-1"`, `"u-newer"`, 1))
		return code == 200 && d["outcome"] == "allow"
	})
	if code, m := s.op("PUT", "/admin/v1/lists/block/device/d-farm2", opToken, blockBody); code != 200 {
		t.Fatalf("operator write after recovery: %d %v", code, m)
	}
}

// TestServeRedisFailReadiness: with redis.fail_readiness the outage fails
// /health/ready (503), and a sidecar refuses to start without its Redis.
func TestServeRedisFailReadiness(t *testing.T) {
	r := fleettest.Start(t)
	s := startSidecar(t, "--config", redisConfig(t, "fail_readiness: true", "health_interval: 50ms", "read_budget: 200ms"), "--redis-addr", r.Addr)
	r.Stop()
	waitFor(t, func() bool { code, _ := s.get("/health/ready"); return code == 503 })
	r.Start()
	waitFor(t, func() bool { code, _ := s.get("/health/ready"); return code == 200 })
	s.shutdown()

	r.Stop()
	start := time.Now()
	if code := Run(t.Context(), []string{"serve", "--addr", freeAddr(t), "--redis-addr", r.Addr, "--state", t.TempDir() + "/s.db"}, discard{}, discard{}); code == 0 {
		t.Fatal("started without its Redis")
	}
	if time.Since(start) > 10*time.Second {
		t.Fatal("refusing to start took too long")
	}
}

// redisConfig writes a config file with the given redis settings.
func redisConfig(t *testing.T, settings ...string) string {
	cfg := filepath.Join(t.TempDir(), "pdp.yaml")
	if err := os.WriteFile(cfg, []byte("redis:\n  "+strings.Join(settings, "\n  ")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
