package metrics

import (
	"bytes"
	"strings"
	"testing"

	"github.com/riskpdp/riskpdp/pdp/internal/policy"
)

// TestEngineCollector: the evaluator gauge names the active evaluator (the
// others at 0) and the engine's counters are exported under their names.
func TestEngineCollector(t *testing.T) {
	m := New()
	stats := policy.Stats{Evaluator: policy.EvaluatorFast, Reevaluations: 2, Verified: 30, Divergences: 1,
		VerifyShed: 4, VerifyTimeouts: 5, Unguarded: 6}
	m.Register(EngineCollector(func() policy.Stats { return stats }))
	scrape := func() string {
		var buf bytes.Buffer
		if err := m.Write(&buf); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	out := scrape()
	for _, want := range []string{
		`pdp_policy_evaluator{evaluator="fast"} 1`,
		`pdp_policy_evaluator{evaluator="opa_optimized"} 0`,
		`pdp_policy_evaluator{evaluator="opa"} 0`,
		`pdp_fast_path_reevaluations_total 2`,
		`pdp_fast_path_verifications_total 30`,
		`pdp_fast_path_divergences_total 1`,
		`pdp_fast_path_verifications_skipped_total{reason="queue_full"} 4`,
		`pdp_fast_path_verifications_skipped_total{reason="timeout"} 5`,
		`pdp_policy_evaluations_unguarded_total 6`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("metrics lack %s", want)
		}
	}
	stats.Evaluator = policy.EvaluatorOPA // a divergence
	if out := scrape(); !strings.Contains(out, `pdp_policy_evaluator{evaluator="opa"} 1`) || !strings.Contains(out, `pdp_policy_evaluator{evaluator="fast"} 0`) {
		t.Errorf("after the switch:\n%s", out)
	}
}
