package policy

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/riskpdp/riskpdp/pdp/internal/benchutil"
	"github.com/riskpdp/riskpdp/pdp/internal/policy/fastpath"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
)

// provePolicy has a rule of each shape the proof builds inputs for:
// guards, thresholds on either side, a membership, a negation, a call
// compared with a constant, a support rule.
const provePolicy = `package riskpdp

step_up contains "large_usd" if {
	input.txn.currency == "USD"
	input.derived.amount_base >= 700
}

step_up contains "large_cny" if {
	input.txn.currency == "CNY"
	input.derived.amount_base > 5000
}

deny contains "burst" if input.velocity.uid.count_1m > 5

step_up contains "category" if input.txn.category in {"gift_card", "phone"}

step_up contains "model" if input.scores.fraud_model.score >= 0.7

deny contains "no_device" if {
	input.derived.money == true
	not input.device.id
}

step_up contains "twelve" if to_number(input.context.n) == 12

trusted if {
	input.derived.device_known == true
	input.derived.account_age_days >= 730
}

step_up contains "untrusted_large" if {
	input.derived.money == true
	input.derived.amount_base >= 2000
	not trusted
}
`

// TestProofCatchesBrokenPrograms breaks a compiled fast program in the
// ways a compiler bug would (a comparison flipped at its threshold, a
// threshold off by a cent, a guard value or a set member lost, a negation
// dropped, a call compared with the wrong constant, a support rule read
// the wrong way) and requires the inputs built from the program's
// constants to show the difference with OPA, where the unbroken program
// shows none, and where the smoke requests miss all but one.
func TestProofCatchesBrokenPrograms(t *testing.T) {
	type breakage struct {
		apply func(p *fastpath.Program) bool
		// smokeSees: the smoke requests show this one too.
		smokeSees bool
	}
	breaks := map[string]breakage{
		">= read as > at its threshold": {apply: func(p *fastpath.Program) bool {
			return p.BreakCompare("large_usd", "gt", false)
		}},
		"threshold off by a cent": {apply: func(p *fastpath.Program) bool {
			return p.BreakThreshold("large_cny", 5000.01)
		}},
		"> read as >= on a count": {apply: func(p *fastpath.Program) bool {
			return p.BreakCompare("burst", "gte", true) // and the index's copy of the guard
		}},
		"a guard value lost": {apply: func(p *fastpath.Program) bool {
			return p.BreakGuard("USD", "USX")
		}},
		"a set member lost": {apply: func(p *fastpath.Program) bool {
			return p.BreakGuard("phone", "") // the membership is an index guard
		}},
		"a negation dropped": {smokeSees: true, apply: func(p *fastpath.Program) bool {
			return p.BreakNegation("no_device")
		}},
		"a call compared with another constant": {apply: func(p *fastpath.Program) bool {
			return p.BreakCallOutput("twelve", ast.InternedTerm(13))
		}},
		"a support rule's threshold moved": {apply: func(p *fastpath.Program) bool {
			return p.BreakSupportThreshold(730, 731)
		}},
	}
	check := func(t *testing.T, breakIt func(*fastpath.Program) bool) (proofDiff *proofDiff, smokeSees bool) {
		e, _ := newEngine(t, mapSource(map[string]string{"p.rego": provePolicy}), time.Second)
		ps := e.cur.Load()
		if ps.fast == nil {
			t.Fatalf("not on the fast path: %v", ps.notes)
		}
		if breakIt != nil && !breakIt(ps.fast) {
			t.Fatal("nothing to break")
		}
		now := time.Now()
		inputs := ps.fast.ProofInputs(ps.compiler, maxProofInputs, now, testLimits)
		d, checked, _ := e.proveInputs(ps, inputs, "an input built from its constants", now.Add(time.Minute))
		if d == nil && checked != len(inputs) {
			t.Fatalf("checked %d of %d inputs", checked, len(inputs))
		}
		for _, body := range smokeRequests {
			in, err := request.DecodeRequest([]byte(body), now, testLimits)
			if err != nil {
				t.Fatal(err)
			}
			if _, outcome := e.proveOne(context.Background(), ps, fastpath.ProofInput{In: in}); outcome == proofDiffers {
				smokeSees = true
			}
		}
		return d, smokeSees
	}
	if d, _ := check(t, nil); d != nil {
		t.Fatalf("the compiled program differs from OPA on %s: fast %s, OPA %s", d.input, d.fast, d.want)
	}
	for name, b := range breaks {
		t.Run(name, func(t *testing.T) {
			d, smokeSees := check(t, b.apply)
			if d == nil {
				t.Fatal("no input built from the program's constants shows the break")
			}
			if smokeSees != b.smokeSees {
				t.Errorf("the smoke requests see the break: %v, want %v", smokeSees, b.smokeSees)
			}
			t.Logf("%s: fast %s, OPA %s", d.input, d.fast, d.want)
		})
	}
}

// TestProofInputsFromConstants: the inputs hold each guard value, each
// threshold and its neighbours under the rule's guard, the field missing,
// and stay within the budget.
func TestProofInputsFromConstants(t *testing.T) {
	e, _ := newEngine(t, mapSource(map[string]string{"p.rego": provePolicy}), time.Second)
	ps := e.cur.Load()
	p := ps.fast
	inputs := p.ProofInputs(ps.compiler, maxProofInputs, time.Now(), testLimits)
	has := func(what string, ok func(in *request.Input) bool) {
		t.Helper()
		if !slices.ContainsFunc(inputs, func(pi fastpath.ProofInput) bool { return ok(pi.In) }) {
			t.Errorf("no input with %s", what)
		}
	}
	for _, a := range []float64{699, 699.99, 700, 700.01, 701} {
		has("USD and amount_base "+ast.FloatNumberTerm(a).String(), func(in *request.Input) bool {
			return in.Req.Txn.Currency == "USD" && in.Derived.AmountBase == a
		})
	}
	for _, a := range []float64{4999.99, 5000, 5000.01} {
		has("CNY and amount_base "+ast.FloatNumberTerm(a).String(), func(in *request.Input) bool {
			return in.Req.Txn.Currency == "CNY" && in.Derived.AmountBase == a
		})
	}
	has("another currency", func(in *request.Input) bool { return in.Req.Txn.Currency == "USE" })
	for _, c := range []uint32{4, 5, 6} {
		has("count_1m", func(in *request.Input) bool { return in.Enrich.Velocity != nil && in.Enrich.Velocity.UID.Count1m == c })
	}
	has("no velocity", func(in *request.Input) bool { return in.Enrich.Velocity == nil && in.Req.Stage.NeedsTxn() })
	for _, c := range []string{"gift_card", "phone"} {
		has("category "+c, func(in *request.Input) bool { return in.Req.Txn.Category == c })
	}
	has("score 0.7", func(in *request.Input) bool { return len(in.Enrich.Scores) == 1 && in.Enrich.Scores[0].Score == 0.7 })
	has("score 0.69", func(in *request.Input) bool { return len(in.Enrich.Scores) == 1 && in.Enrich.Scores[0].Score == 0.69 })
	has("a device id on a money stage", func(in *request.Input) bool { return in.Req.Device.ID != "" && in.Req.Stage.NeedsTxn() })
	has(`context.n "12"`, func(in *request.Input) bool { return bytes.Contains(in.Body, []byte(`"n":"12"`)) })
	has(`context.n 12`, func(in *request.Input) bool { return bytes.Contains(in.Body, []byte(`"n":12`)) })
	has("a trusted account with a large amount", func(in *request.Input) bool {
		return in.Derived.DeviceKnown && in.Derived.AccountAgeDays >= 730 && in.Derived.AmountBase >= 2000
	})
	if few := p.ProofInputs(ps.compiler, 10, time.Now(), testLimits); len(few) != 10 {
		t.Errorf("a budget of 10 gave %d inputs", len(few))
	}
}

// TestReferenceProofCoversEveryReason: on the reference policy, the
// inputs built from the fast program's constants make every reason the
// program can give fire at least once, within the budget.
func TestReferenceProofCoversEveryReason(t *testing.T) {
	e, _ := newEngine(t, testSource(), time.Second)
	ps := e.cur.Load()
	p := ps.fast
	if p == nil {
		t.Fatal("reference policy not on the fast path")
	}
	inputs := p.ProofInputs(ps.compiler, maxProofInputs, time.Now(), testLimits)
	fired := map[string]bool{}
	for _, pi := range inputs {
		hits, err := p.Hits(context.Background(), pi.In, nil)
		if err != nil {
			continue
		}
		for _, h := range hits.Value.(ast.Set).Slice() {
			fired[h.String()] = true
		}
	}
	var missed []string
	for _, key := range p.Shape().Heads {
		if !fired[key.String()] && !slices.Contains(missed, key.String()) {
			missed = append(missed, key.String())
		}
	}
	t.Logf("%d inputs, %d hits fired", len(inputs), len(fired))
	if len(missed) > 0 {
		t.Errorf("never fired: %s", strings.Join(missed, "\n"))
	}
}

// TestLoggedInputsReplayedAtLoad: the inputs Options.RecentInputs returns
// are replayed at every load; one the fast program answers differently
// refuses it for the set (served by OPA's evaluator on the specialized
// rules, a note and a log line naming the input).
func TestLoggedInputsReplayedAtLoad(t *testing.T) {
	ring := request.NewInputRing(4)
	var logs bytes.Buffer
	e, err := New(Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Source: mapSource(map[string]string{"p.rego": provePolicy}),
		Package: "riskpdp", EvalTimeout: time.Second, Limits: testLimits, RecentInputs: ring.Inputs})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ps := e.cur.Load()
	if ps.fast == nil {
		t.Fatalf("not on the fast path: %v", ps.notes)
	}
	body := []byte(`{"stage":"payment","uid":"u","device":{"id":"d"},"txn":{"id":"t","amount":700,"currency":"USD"}}`)
	in, err := request.DecodeRequest(body, time.Now(), testLimits)
	if err != nil {
		t.Fatal(err)
	}
	enr, err := in.AppendEnrichment(nil)
	if err != nil {
		t.Fatal(err)
	}
	ring.Add(body, enr, in.Now)
	if err := e.Reload(); err != nil {
		t.Fatal(err)
	}
	if ps := e.cur.Load(); ps.fast == nil || ps.proved == 0 {
		t.Fatalf("reload: fast path %v, %d inputs proved: %v", ps.fast != nil, ps.proved, ps.notes)
	}
	// A fast program that reads >= 700 as > 700 (a compiler bug): the
	// inputs built from its constants are remembered as proved for these
	// files, the logged input is replayed anyway.
	ps = e.cur.Load()
	if !ps.fast.BreakCompare("large_usd", "gt", false) {
		t.Fatal("no comparison to break")
	}
	e.prove(ps, time.Now())
	if ps.fast != nil {
		t.Fatal("the fast program that differs on a logged input still serves")
	}
	if !ps.optimized || len(ps.notes) == 0 || !strings.Contains(ps.notes[0], "a logged input") || !strings.Contains(ps.notes[0], `"amount":700`) {
		t.Fatalf("optimized %v, notes %v", ps.optimized, ps.notes)
	}
	if !strings.Contains(logs.String(), "fast path refused") {
		t.Fatalf("no log line: %s", logs.String())
	}
	r, _, err := e.Evaluate(context.Background(), in)
	if err != nil || r.Evaluator != EvaluatorOptimized || !slices.Equal(r.Reasons, []string{"large_usd"}) {
		t.Fatalf("after the refusal: %+v %v", r, err)
	}
}

// BenchmarkLoadReference measures loading the reference policy: the
// first load of its files in the process (the proof at load runs) and a
// load of the same files again (the proof is remembered; only logged
// inputs, none here, are replayed).
func BenchmarkLoadReference(b *testing.B) {
	for _, again := range []bool{false, true} {
		name := "first"
		if again {
			name = "again"
		}
		b.Run(name, func(b *testing.B) {
			benchutil.CPUTime(b)
			for range b.N {
				if !again {
					proofs.Lock()
					clear(proofs.m)
					proofs.Unlock()
				}
				e, err := New(Options{Logger: quiet, Source: testSource(), Package: "riskpdp", EvalTimeout: time.Second, Limits: testLimits})
				if err != nil {
					b.Fatal(err)
				}
				e.Close()
			}
		})
	}
}
