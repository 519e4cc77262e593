package policy

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/riskpdp/riskpdp/pdp/internal/policy/hits"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
)

// TestExplainAnswersAsTheFastPath: on generated inputs, the decision an
// explanation gives is the one the fast path serves, and its fired rules
// are exactly the decision's hits, each with the location of a definition.
func TestExplainAnswersAsTheFastPath(t *testing.T) {
	n := 600
	if testing.Short() || raceEnabled {
		n = 150
	}
	e, _ := newEngine(t, testSource(), time.Second)
	ps := e.cur.Load()
	if ps.fast == nil {
		t.Fatalf("reference policy not on the fast path: %v", ps.notes)
	}
	ctx := context.Background()
	rules := 0
	for seed := uint64(0); seed < uint64(n); seed++ {
		body := request.GenRequest(seed)
		in, err := request.DecodeRequest([]byte(body), time.Now(), testLimits)
		if err != nil {
			t.Fatal(err)
		}
		request.GenEnrichment(seed, in)
		want, _, err := e.Evaluate(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if want.Evaluator != EvaluatorFast {
			t.Fatalf("served by %s", want.Evaluator)
		}
		x, rev, err := e.Explain(ctx, in)
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		if rev != ps.revision || x.Result.Evaluator != EvaluatorOPA {
			t.Fatalf("revision %q evaluator %q", rev, x.Result.Evaluator)
		}
		if !sameAnswer(x.Result, want) {
			t.Fatalf("%s\n explained: %+v\n fast:      %+v", body, x.Result, want)
		}
		// Every hit is explained by a rule, and every rule is a hit.
		hitsTerm, err := e.evalTerm(ctx, ps, ps.refQuery, in.Term(), in.Now)
		if err != nil {
			t.Fatal(err)
		}
		wantHits := map[string]bool{}
		hitsTerm.Value.(ast.Set).Foreach(func(h *ast.Term) {
			if a, ok := h.Value.(*ast.Array); ok {
				wantHits[a.String()] = true
			}
		})
		gotHits := map[string]bool{}
		for _, r := range x.Rules {
			v, err := ast.InterfaceToValue(r.Value)
			if err != nil {
				t.Fatal(err)
			}
			gotHits[ast.NewArray(ast.StringTerm(r.Rule), ast.NewTerm(v)).String()] = true
			if r.Location == "" || !slices.Contains(append(slices.Clone(hits.ReasonSets), hits.CompleteRules...), r.Rule) {
				t.Fatalf("rule %+v", r)
			}
			rules++
		}
		for h := range wantHits {
			if !gotHits[h] {
				t.Fatalf("%s: hit %s not explained by any rule: %+v", body, h, x.Rules)
			}
		}
		for h := range gotHits {
			if !wantHits[h] {
				t.Fatalf("%s: rule value %s is no hit", body, h)
			}
		}
	}
	if rules < n {
		t.Errorf("only %d fired rules over %d inputs: the generator or the tracer is off", rules, n)
	}
}

// A 6000 CNY payment from a device the account never used, from abroad,
// by a four-year-old account steps up for large_amount and
// new_device_foreign_ip; the explanation names both rules, where they
// are, and the input values that made them hold.
func TestExplainStepUp(t *testing.T) {
	e, _ := newEngine(t, testSource(), time.Second)
	body := `{"stage":"payment","uid":"u-1","device":{"id":"d-1","ip":"198.51.100.7","ip_country":"SG"},
		"txn":{"id":"t-1","amount":6000,"currency":"CNY","category":"digital"},
		"account":{"home_country":"CN","created_at":"2022-01-01T00:00:00Z"}}`
	in, err := request.DecodeRequest([]byte(body), time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), testLimits)
	if err != nil {
		t.Fatal(err)
	}
	x, _, err := e.Explain(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if x.Result.Outcome.String() != "step_up" || !slices.Equal(x.Result.Reasons, []string{"large_amount", "new_device_foreign_ip"}) {
		t.Fatalf("decision %+v", x.Result)
	}
	byValue := map[string]FiredRule{}
	for _, r := range x.Rules {
		if s, ok := r.Value.(string); ok {
			byValue[s] = r
		}
	}
	large, ok := byValue["large_amount"]
	if !ok || large.Rule != "step_up" {
		t.Fatalf("no large_amount rule: %+v", x.Rules)
	}
	if !hasRef(large.Inputs, "input.derived.money", true) {
		t.Errorf("large_amount inputs %+v", large.Inputs)
	}
	if !hasRef(large.Refs, "data.riskpdp.amount", 6000.0) && !hasRef(large.Refs, "data.riskpdp.amount", 6000) {
		t.Errorf("large_amount refs %+v", large.Refs)
	}
	if !hasUndefined(large.Refs, "data.riskpdp.trusted") {
		t.Errorf("large_amount: not trusted should read an undefined trusted: %+v", large.Refs)
	}
	dev, ok := byValue["new_device_foreign_ip"]
	if !ok || dev.Location == "" {
		t.Fatalf("no new_device_foreign_ip rule: %+v", x.Rules)
	}
	if !hasRef(dev.Inputs, "input.derived.device_known", false) || !hasRef(dev.Inputs, "input.derived.ip_domestic", false) {
		t.Errorf("new_device_foreign_ip inputs %+v", dev.Inputs)
	}
	t.Logf("%+v", x.Rules)
}

func hasRef(rs []RefValue, ref string, v any) bool {
	for _, r := range rs {
		if r.Ref == ref && !r.Undefined {
			if jv, err := ast.InterfaceToValue(r.Value); err == nil {
				if w, err := ast.InterfaceToValue(v); err == nil && jv.Compare(w) == 0 {
					return true
				}
			}
		}
	}
	return false
}

func hasUndefined(rs []RefValue, ref string) bool {
	for _, r := range rs {
		if r.Ref == ref && r.Undefined {
			return true
		}
	}
	return false
}
