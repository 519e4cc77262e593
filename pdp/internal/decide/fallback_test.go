package decide

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/metrics"
	"github.com/riskpdp/riskpdp/pdp/internal/policy"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
)

// Internal faults never allow: a policy that fails at evaluation, answers
// garbage or runs past its budget gets the configured
// fallback outcome (step_up by default, or deny), reason pdp_error,
// "fallback": true, counted by cause.
func TestFallback(t *testing.T) {
	// Each fault strikes only for u-fault, so the policy passes the load
	// checks (compile and smoke evaluations) and fails at decision time.
	for cause, rego := range map[string]string{
		"eval_error": `package riskpdp
deny contains {"reason": "x"} if {
	input.uid == "u-fault"
	1 / (input.txn.amount - input.txn.amount) > 1
}`,
		"invalid_decision": "package riskpdp\ndeny contains 42 if input.uid == \"u-fault\"\n",
		"timeout": `package riskpdp
deny contains {"reason": "x"} if {
	input.uid == "u-fault"
	some i in numbers.range(1, 100000000)
	i < 0
}`,
	} {
		for _, fallback := range []pdp.Outcome{0, pdp.StepUp, pdp.Deny} {
			t.Run(cause+"/"+fallback.String(), func(t *testing.T) {
				files := fstest.MapFS{"riskpdp/policy.rego": {Data: []byte(rego)}}
				limits := request.Limits{MaxDepth: 16, MaxAmount: 1e12}
				eng, err := policy.New(policy.Options{Source: policy.Source{FS: files, Label: "test"}, Package: "riskpdp",
					EvalTimeout: 50 * time.Millisecond, Limits: limits, Logger: quiet})
				if err != nil {
					t.Fatal(err)
				}
				defer eng.Close()
				m := metrics.New()
				s, err := New(Options{Engine: eng, Metrics: m, Limits: limits, Logger: quiet, Fallback: fallback})
				if err != nil {
					t.Fatal(err)
				}
				want := fallback
				if want == 0 {
					want = pdp.StepUp
				}
				if d := mustDecide(t, s, cleanPayment); d.Fallback {
					t.Fatalf("the policy works for others: %+v", d)
				}
				d := mustDecide(t, s, strings.Replace(cleanPayment, `"uid":"u-1"`, `"uid":"u-fault"`, 1))
				if d.Outcome != want || !d.Fallback || !slices.Equal(d.Reasons, []string{ReasonPDPError}) {
					t.Fatalf("decision %+v, want %v fallback", d, want)
				}
				if want == pdp.StepUp && (d.StepUp == nil || len(d.StepUp.Methods) == 0) {
					t.Fatalf("step-up fallback without methods: %+v", d.StepUp)
				}
				var buf bytes.Buffer
				m.Write(&buf)
				if line := `pdp_decision_fallbacks_total{cause="` + cause + `"} 1`; !strings.Contains(buf.String(), line) {
					t.Fatalf("no %s in\n%s", line, grepLines(buf.String(), "fallback"))
				}
			})
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
