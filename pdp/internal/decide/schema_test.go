package decide

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
)

// TestPolicyInputSchema: every policy input the sidecar builds validates
// against the JSON Schema shipped next to the policies
// (policies/riskpdp/schemas/input.json, which `make policy-test` hands to
// `opa check --schema`), and the schema declares no part the sidecar never
// builds: generated requests over an account with state (frozen, limited,
// on probation, with flags), velocity, a pending verification and the
// example plugins' scores.
func TestPolicyInputSchema(t *testing.T) {
	path := filepath.Join("..", "..", "..", "policies", "riskpdp", "schemas", "input.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("input.json", doc); err != nil {
		t.Fatal(err)
	}
	c.AssertFormat()
	schema, err := c.Compile("input.json")
	if err != nil {
		t.Fatal(err)
	}
	s, st, clk := newStateService(t, Options{Plugins: pluginHost(t, "", "fraud_model", "device_risk", "habit_deviation")})
	now := clk.Now()
	for i := range 50 {
		uid := fmt.Sprintf("u-%d", i)
		setAccount(t, st, uid, func(a *pdp.AccountState) {
			switch i % 4 {
			case 0:
				a.Freezes = []pdp.Freeze{{Kind: pdp.FreezeTemporary, Since: now, Until: now.Add(time.Hour)},
					{Kind: pdp.FreezeReview, Since: now, Functions: []pdp.Stage{pdp.StageWithdrawal}}}
			case 1:
				a.Limits = []pdp.Limit{{DailyAmount: 500, MaxAmount: 100, Currency: "CNY"}}
				a.Probation = pdp.Probation{Since: now, Until: now.Add(time.Hour)}
			case 2:
				a.Flags = []pdp.CaseFlag{{Kind: "key_tracking", Reason: "large_amount", DecisionID: "d", At: now}}
				a.Devices = []pdp.KnownDevice{{ID: "d-1", FirstSeen: now.Add(-time.Hour), LastSeen: now}}
			}
		})
	}
	seen := map[string]bool{}
	for seed := range uint64(600) {
		body := request.GenRequest(seed)
		if seed%5 == 0 { // a step-up to verify: the next input carries it
			if d, err := s.Decide(context.Background(), []byte(body), ""); err == nil && d.StepUp != nil {
				verify(t, s, d.StepUp.ChallengeID, d.StepUp.Methods[0], "passed")
			}
		}
		in, err := s.PolicyInput([]byte(body))
		if err != nil {
			continue // a request the generator made invalid on purpose
		}
		v, err := ast.JSON(in.Term().Value)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(v)
		inst, _ := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err := schema.Validate(inst); err != nil {
			t.Fatalf("seed %d: the input does not match %s:\n%v\n%s", seed, path, err, b)
		}
		walkKeys("", v, seen)
	}
	// Every property the schema declares appears in some input (but the
	// parts only a fault or a caller's optional field makes).
	var declared []string
	walkSchema("", doc, &declared)
	optional := map[string]bool{"state_unknown": true, "scores_unavailable": true, "request_id": true, "challenge_id": true,
		"locale": true}
	for _, p := range declared {
		if !seen[p] && !optional[p] && !optionalRequestField(p) {
			t.Errorf("the schema declares %s; no input the sidecar built has it", p)
		}
	}
}

// optionalRequestField: a caller's field the generator does not send.
func optionalRequestField(p string) bool {
	for _, prefix := range []string{"device.", "txn.", "account.", "context."} {
		if len(p) > len(prefix) && p[:len(prefix)] == prefix {
			return true
		}
	}
	return false
}

func walkKeys(prefix string, v any, seen map[string]bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	for k, x := range m {
		p := prefix + k
		if prefix == "scores." {
			p = "scores.*"
		}
		seen[p] = true
		walkKeys(p+".", x, seen)
	}
}

func walkSchema(prefix string, s any, out *[]string) {
	m, _ := s.(map[string]any)
	props, _ := m["properties"].(map[string]any)
	for k, x := range props {
		*out = append(*out, prefix+k)
		walkSchema(prefix+k+".", x, out)
	}
}
