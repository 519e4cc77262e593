package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServeWatchesTheFastPath: with policies.verify_sample_rate 1 every
// decision the fast path answers is evaluated again by OPA's evaluator on
// the policy as written (the reference policy: no divergence), /metrics
// says which evaluator serves and counts the checks, and every decision
// record names the evaluator that answered.
func TestServeWatchesTheFastPath(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "pdp.yaml")
	// A budget no loaded machine (race detector on) runs out of: a check
	// OPA's evaluator runs out of time on is skipped, not counted.
	if err := os.WriteFile(cfg, []byte("policies:\n  verify_sample_rate: 1\n  verify_queue: 64\n  eval_timeout: 30s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dlog := filepath.Join(dir, "decisions.jsonl")
	s := startSidecar(t, "--config", cfg, "--decision-log", dlog)
	bodies := []string{allowBody, stepUpBody, denyBody, warnBody}
	for _, b := range bodies {
		if code, d := s.decide(b); code != 200 {
			t.Fatalf("%d %v", code, d)
		}
	}
	var m string
	for deadline := time.Now().Add(60 * time.Second); !strings.Contains(m, "pdp_fast_path_verifications_total 4\n"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("4 decisions not verified:\n%s", m)
		}
		_, m = s.get("/metrics")
	}
	for _, want := range []string{
		`pdp_policy_evaluator{evaluator="fast"} 1`,
		`pdp_policy_evaluator{evaluator="opa"} 0`,
		`pdp_fast_path_divergences_total 0`,
		`pdp_fast_path_reevaluations_total 0`,
		`pdp_fast_path_verifications_skipped_total{reason="queue_full"} 0`,
	} {
		if !strings.Contains(m, want+"\n") {
			t.Errorf("metrics lack %s", want)
		}
	}
	if code := s.shutdown(); code != 0 {
		t.Fatalf("exit %d:\n%s", code, s.logs)
	}
	b, err := os.ReadFile(dlog)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for sc := bufio.NewScanner(bytes.NewReader(b)); sc.Scan(); n++ {
		var rec struct {
			Result map[string]any `json:"result"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Result["evaluator"] != "fast" || rec.Result["reevaluated"] != nil {
			t.Errorf("record names evaluator %v (re-evaluated %v): %s", rec.Result["evaluator"], rec.Result["reevaluated"], sc.Bytes())
		}
	}
	if n != len(bodies) {
		t.Fatalf("%d records, want %d", n, len(bodies))
	}
}
