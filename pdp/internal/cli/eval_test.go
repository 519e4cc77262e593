package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/rego"
)

// `pdp eval` prints the input the sidecar builds: OPA's evaluator, given
// that input and the policies, answers what the sidecar decides for the
// same request (a fresh account, device and IP each, so the state both
// read is the same).
func TestEvalInputAnswersAsTheSidecar(t *testing.T) {
	s := startSidecar(t)
	policies := filepath.Join("..", "..", "..", "policies")
	query := func(in any, rule string) []string {
		t.Helper()
		rs, err := rego.New(rego.Query("data.riskpdp."+rule), rego.Load([]string{policies}, nil), rego.Input(in)).Eval(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		if len(rs) == 1 {
			for _, r := range rs[0].Expressions[0].Value.([]any) {
				if m, ok := r.(map[string]any); ok { // {"reason": ..., "warning": ...}
					r = m["reason"]
				}
				out = append(out, r.(string))
			}
		}
		slices.Sort(out)
		return out
	}
	for i, c := range []struct{ stage, amount, country, want string }{
		{"payment", "60", "CN", "allow"},
		{"payment", "6000", "SG", "step_up"},
		{"payment", "60000", "CN", "deny"},
		{"withdrawal", "6000", "SG", "deny"}, // to a destination never used
		{"login", "", "SG", ""},
	} {
		txn := ""
		if c.amount != "" {
			txn = fmt.Sprintf(`,"txn":{"id":"t-%d","amount":%s,"currency":"CNY","category":"digital"}`, i, c.amount)
		}
		body := fmt.Sprintf(`{"stage":%q,"uid":"u-eval-%d","device":{"id":"d-eval-%d","ip":"198.51.100.%d","ip_country":%q}%s,
			"account":{"home_country":"CN","created_at":"2022-01-01T00:00:00Z"}}`, c.stage, i, i, i+1, c.country, txn)
		file := filepath.Join(t.TempDir(), "request.json")
		if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		var out, errb bytes.Buffer
		if code := Run(context.Background(), []string{"eval", "--state", filepath.Join(t.TempDir(), "state.db"), "--log-level", "error", file}, &out, &errb); code != 0 {
			t.Fatalf("pdp eval: %d %s", code, errb.String())
		}
		var in map[string]any
		if err := json.Unmarshal(out.Bytes(), &in); err != nil {
			t.Fatalf("pdp eval printed no JSON: %v\n%s", err, out.String())
		}
		for _, part := range []string{"derived", "velocity", "account_state", "reputation"} {
			if in[part] == nil {
				t.Errorf("%s: input.%s missing", c.stage, part)
			}
		}
		deny, stepUp := query(in, "deny"), query(in, "step_up")
		code, d := s.decide(body)
		if code != 200 {
			t.Fatalf("decide: %d %v", code, d)
		}
		got := toStrings(d["reasons"])
		slices.Sort(got)
		want, outcome := stepUp, "step_up"
		switch {
		case len(deny) > 0: // the answer carries every reason
			want, outcome = slices.Sorted(slices.Values(slices.Concat(deny, stepUp))), "deny"
		case len(stepUp) == 0:
			outcome = "allow"
		}
		if d["outcome"] != outcome || !slices.Equal(got, want) || (c.want != "" && outcome != c.want) {
			t.Errorf("%s %s %s: sidecar %v %v; OPA on pdp eval's input: deny %v step_up %v (want %s)", c.stage, c.amount, c.country,
				d["outcome"], got, deny, stepUp, c.want)
		}
	}
	// Bad input is refused as /v1/decide refuses it.
	file := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(file, []byte(`{"stage":"payment","uid":"u-1","txn":{"id":"t","amount":-1,"currency":"CNY"}}`), 0o644)
	var out, errb bytes.Buffer
	if code := Run(context.Background(), []string{"eval", "--state", filepath.Join(t.TempDir(), "state.db"), "--log-level", "error", file}, &out, &errb); code == 0 ||
		!strings.Contains(errb.String(), "txn.amount") || out.Len() != 0 {
		t.Errorf("a negative amount: %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
}
