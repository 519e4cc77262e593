package engine

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/riskpdp/riskpdp/pdp"
)

// parseResult reads a decision document as if the package defined it as
// its decision rule.
func parseResult(doc *ast.Term) (Result, error) {
	return parseHits(ast.SetTerm(ast.ArrayTerm(ast.StringTerm("decision"), doc)))
}

func TestParseResult(t *testing.T) {
	cases := []struct {
		doc                       string
		outcome                   pdp.Outcome
		reasons, methods, warning string
	}{
		{`{}`, pdp.Allow, "", "", ""},
		{`{"deny": set(), "step_up": set()}`, pdp.Allow, "", "", ""},
		{`{"step_up": {"b", "a"}}`, pdp.StepUp, "a,b", "sms", ""},
		{`{"step_up": ["a"], "methods": {"a": ["face"], "b": ["sms"]}}`, pdp.StepUp, "a", "face", ""},
		{`{"step_up": [{"reason": "a", "methods": ["sms", "face"]}, "b"], "methods": {"b": ["face"]}}`, pdp.StepUp, "a,b", "face,sms", ""},
		{`{"deny": {"x"}, "step_up": {"a"}, "methods": {"a": ["face"]}}`, pdp.Deny, "a,x", "", ""},
		{`{"deny": [{"reason": "scam", "warning": "anti_fraud"}]}`, pdp.Deny, "scam", "", "anti_fraud"},
		{`{"outcome": "allow", "deny": ["x"]}`, pdp.Deny, "x", "", ""},
		{`{"outcome": "step_up", "reasons": ["manual"]}`, pdp.StepUp, "manual", "sms", ""},
		{`{"outcome": "deny", "limit": {}}`, pdp.Deny, "", "", ""},
		{`{"step_up": ["a", "a"], "reasons": ["a"]}`, pdp.StepUp, "a", "sms", ""},
	}
	for _, c := range cases {
		r, err := parseResult(ast.MustParseTerm(c.doc))
		if err != nil {
			t.Errorf("%s: %v", c.doc, err)
			continue
		}
		if r.Outcome != c.outcome || strings.Join(r.Reasons, ",") != c.reasons ||
			strings.Join(r.Methods, ",") != c.methods || r.Warning != c.warning {
			t.Errorf("%s: got %+v", c.doc, r)
		}
	}
}

func TestParseObligationsAndLimits(t *testing.T) {
	r, err := parseResult(ast.MustParseTerm(`{"obligations": [
		{"type": "freeze", "kind": "temporary", "duration": "30m", "reason": "velocity"},
		{"type": "restrict", "functions": ["withdrawal"], "duration": 3600},
		{"type": "limit", "limit": {"daily_amount": 5000, "currency": "CNY", "duration": "24h"}},
		{"type": "probation"}, {"type": "flag", "kind": "key_tracking"}],
		"limit": {"max_amount": 100, "currency": "CNY"}}`))
	if err != nil {
		t.Fatal(err)
	}
	o := r.Obligations
	if len(o) != 5 || o[0].Duration != 30*time.Minute || o[1].Functions[0] != pdp.StageWithdrawal ||
		o[1].Duration != time.Hour || o[2].Limit.DailyAmount != 5000 || o[2].Limit.Duration != 24*time.Hour ||
		r.Limit.MaxAmount != 100 {
		t.Fatalf("%+v", r)
	}
	for _, bad := range []string{
		`{"outcome": "maybe"}`, `[]`, `{"deny": "x"}`, `{"deny": [1]}`, `{"step_up": [{"why": "x"}]}`,
		`{"methods": ["face"]}`, `{"obligations": [{"type": "explode"}]}`,
		`{"obligations": [{"type": "freeze", "kind": "temporary"}]}`,
		`{"obligations": [{"type": "restrict", "functions": ["teleport"]}]}`,
		`{"obligations": [{"type": "limit"}]}`, `{"limit": {"max_amount": -1}}`, `{"unknown": 1}`,
	} {
		if _, err := parseResult(ast.MustParseTerm(bad)); !errors.Is(err, ErrInvalidDecision) {
			t.Errorf("%s: want ErrInvalidDecision, got %v", bad, err)
		}
	}
}
