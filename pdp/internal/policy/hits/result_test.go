package hits

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
	return Parse(ast.SetTerm(ast.ArrayTerm(ast.StringTerm("decision"), doc)), nil)
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
		{`{"step_up": [{"reason": "said", "warning": "anti_fraud", "methods": ["face"]}, "b"]}`, pdp.StepUp, "b,said", "face,sms", "anti_fraud"},
		{`{"deny": [{"reason": "x", "warning": "w1"}], "step_up": [{"reason": "a", "warning": "w2"}]}`, pdp.Deny, "a,x", "", "w1"},
		{`{"deny": ["x"], "step_up": [{"reason": "a", "warning": "w2"}]}`, pdp.Deny, "a,x", "", "w2"},
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

// TestStepUpWarningOnlyWhileOpen: a step-up's warning is shown while the
// user is asked to verify, and not on the release a passed check gives.
func TestStepUpWarningOnlyWhileOpen(t *testing.T) {
	doc := ast.SetTerm(ast.ArrayTerm(ast.StringTerm("decision"),
		ast.MustParseTerm(`{"step_up": [{"reason": "said", "warning": "anti_fraud", "methods": ["face"]}]}`)))
	open, err := Parse(doc, nil)
	if err != nil || open.Outcome != pdp.StepUp || open.Warning != "anti_fraud" {
		t.Fatalf("open: %+v %v", open, err)
	}
	done, err := Parse(doc, []string{"face"})
	if err != nil || done.Outcome != pdp.Allow || done.Warning != "" {
		t.Fatalf("verified: %+v %v", done, err)
	}
}

func TestVerificationSatisfiesStepUps(t *testing.T) {
	doc := ast.MustParseTerm(`{"step_up": [{"reason": "large_amount", "methods": ["face"]}, {"reason": "probation", "methods": ["face", "sms"]}]}`)
	wrap := ast.SetTerm(ast.ArrayTerm(ast.StringTerm("decision"), doc))
	for _, c := range []struct {
		passed                      []string
		outcome                     pdp.Outcome
		reasons, satisfied, methods string
	}{
		{nil, pdp.StepUp, "large_amount,probation", "", "face,sms"},
		{[]string{"face"}, pdp.StepUp, "probation", "large_amount", "face,sms"},
		{[]string{"face", "sms"}, pdp.Allow, "step_up_verified", "large_amount,probation", ""},
	} {
		r, err := Parse(wrap, c.passed)
		if err != nil {
			t.Fatal(err)
		}
		if r.Outcome != c.outcome || strings.Join(r.Reasons, ",") != c.reasons ||
			strings.Join(r.Satisfied, ",") != c.satisfied || strings.Join(r.Methods, ",") != c.methods {
			t.Errorf("passed %v: %+v", c.passed, r)
		}
	}
	// A deny is never answered by a verification.
	r, _ := Parse(ast.SetTerm(ast.ArrayTerm(ast.StringTerm("decision"),
		ast.MustParseTerm(`{"deny": ["blocked"], "step_up": [{"reason": "x", "methods": ["face"]}]}`))), []string{"face"})
	if r.Outcome != pdp.Deny {
		t.Errorf("deny answered by a verification: %+v", r)
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
	o := map[pdp.ObligationType]pdp.Obligation{}
	for _, x := range r.Obligations {
		o[x.Type] = x
	}
	if len(r.Obligations) != 5 || o[pdp.ObligationFreeze].Duration != 30*time.Minute ||
		o[pdp.ObligationRestrict].Functions[0] != pdp.StageWithdrawal || o[pdp.ObligationRestrict].Duration != time.Hour ||
		o[pdp.ObligationLimit].Limit.DailyAmount != 5000 || o[pdp.ObligationLimit].Limit.Duration != 24*time.Hour ||
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
