package hits

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/riskpdp/riskpdp/pdp"
)

// FuzzParseHits decodes a policy's answer (the hits set: [rule, value]
// pairs, given here as a JSON array) with the methods a verification
// passed (comma-separated). Whatever a policy returns, the sidecar either
// refuses it (ErrInvalidDecision: the decision falls back) or folds it into
// the outcome the reasons imply: any deny reason or an explicit "deny"
// denies; any unsatisfied step-up reason steps up; allow needs every
// step-up reason answered by a passed verification.
func FuzzParseHits(f *testing.F) {
	for _, seed := range []struct{ hits, passed string }{
		{`[]`, ``},
		{`[["deny","blocklisted_uid"]]`, ``},
		{`[["step_up","large_amount"],["methods",{"large_amount":["face"]}]]`, ``},
		{`[["step_up","large_amount"],["methods",{"large_amount":["face"]}]]`, `face`},
		{`[["step_up",{"reason":"a","methods":["sms","face"]}],["step_up","b"]]`, `sms,face`},
		{`[["deny",{"reason":"scam","warning":"anti_fraud","flag":"key_tracking"}]]`, ``},
		{`[["outcome","deny"],["reasons",["manual"]]]`, ``},
		{`[["outcome","step_up"]]`, `sms`},
		{`[["outcome","allow"],["deny","x"]]`, ``},
		{`[["limit",{"daily_amount":5000,"currency":"CNY","duration":"24h"}]]`, ``},
		{`[["obligations",{"type":"freeze","kind":"temporary","duration":"30m","reason":"r"}]]`, ``},
		{`[["obligations",{"type":"freeze","kind":"temporary","duration":1e300}]]`, ``},
		{`[["obligations",{"type":"probation","probation":1e300}]]`, ``},
		{`[["obligations",{"type":"restrict","functions":["withdrawal"]}],["obligations",{"type":"probation","probation":"24h"}]]`, ``},
		{`[["decision",{"deny":["x"],"step_up":["y"],"methods":{"y":["face"]}}]]`, `face`},
		{`[["decision",{"outcome":"maybe"}]]`, ``},
		{`[["deny",{"reason":""}]]`, ``},
		{`["__never",["unknown_rule",1]]`, ``},
		{`[["step_up",7]]`, ``},
	} {
		f.Add([]byte(seed.hits), seed.passed)
	}
	f.Fuzz(func(t *testing.T, hits []byte, passedList string) {
		dec := json.NewDecoder(bytes.NewReader(hits))
		dec.UseNumber()
		var elems []any
		if dec.Decode(&elems) != nil {
			return
		}
		terms := make([]*ast.Term, 0, len(elems))
		for _, e := range elems {
			v, err := ast.InterfaceToValue(e)
			if err != nil {
				return
			}
			terms = append(terms, ast.NewTerm(v))
		}
		var passed []string
		if passedList != "" {
			passed = strings.Split(passedList, ",")
		}
		r, err := Parse(ast.SetTerm(terms...), passed)
		if err != nil {
			if !errors.Is(err, ErrInvalidDecision) {
				t.Fatalf("error is not ErrInvalidDecision: %v", err)
			}
			return
		}
		want := expectedOutcome(elems)
		switch {
		case !r.Outcome.Valid():
			t.Fatalf("invalid outcome %v", r.Outcome)
		case want == pdp.Deny && r.Outcome != pdp.Deny:
			t.Fatalf("deny reasons gave %v: %s", r.Outcome, hits)
		case want == pdp.StepUp && len(passed) == 0 && r.Outcome != pdp.StepUp:
			t.Fatalf("step-up reasons without a verification gave %v: %s", r.Outcome, hits)
		case want == pdp.StepUp && r.Outcome == pdp.Allow && (len(r.Satisfied) == 0 || !slices.Contains(r.Reasons, ReasonStepUpVerified)):
			t.Fatalf("step-up reasons released without a satisfied one: %+v: %s", r, hits)
		case want == pdp.Allow && r.Outcome != pdp.Allow:
			t.Fatalf("no reason gave %v: %s", r.Outcome, hits)
		case (r.Outcome == pdp.StepUp) != (len(r.Methods) > 0):
			t.Fatalf("outcome %v with methods %v", r.Outcome, r.Methods)
		}
		for _, o := range r.Obligations {
			if o.Duration < 0 || o.Probation < 0 || o.Limit != nil && o.Limit.Duration < 0 {
				t.Fatalf("negative duration in %+v: %s", o, hits)
			}
		}
	})
}

// expectedOutcome is the outcome the hits imply before verifications: an
// oracle written apart from the collector.
func expectedOutcome(elems []any) pdp.Outcome {
	out := pdp.Allow
	raise := func(o pdp.Outcome) { out = pdp.Stricter(out, o) }
	var visit func(name string, v any)
	visit = func(name string, v any) {
		switch name {
		case "deny", "step_up":
			o := pdp.Deny
			if name == "step_up" {
				o = pdp.StepUp
			}
			if list, ok := v.([]any); ok {
				if len(list) > 0 {
					raise(o)
				}
			} else {
				raise(o)
			}
		case "outcome":
			if s, ok := v.(string); ok {
				if o, ok := pdp.ParseOutcome(s); ok {
					raise(o)
				}
			}
		case "decision":
			if m, ok := v.(map[string]any); ok {
				for k, sub := range m {
					if k == "deny" || k == "step_up" {
						if list, ok := sub.([]any); ok && len(list) > 0 {
							raise(map[string]pdp.Outcome{"deny": pdp.Deny, "step_up": pdp.StepUp}[k])
						}
						continue
					}
					visit(k, sub)
				}
			}
		}
	}
	for _, e := range elems {
		if pair, ok := e.([]any); ok && len(pair) == 2 {
			if name, ok := pair[0].(string); ok {
				visit(name, pair[1])
			}
		}
	}
	return out
}
