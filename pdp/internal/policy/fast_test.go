package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/policy/hits"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
)

// TestFastPathMatchesTopdown holds the fast program, topdown on the
// optimized rules and topdown on the policy as written to the same answers.
func TestFastPathMatchesTopdown(t *testing.T) {
	n := 4000
	if testing.Short() || raceEnabled {
		n = 500 // FuzzCorpusMatchesOPA's seeds and the proof at load cover more
	}
	fast, plain := newEngine(t, testSource(), time.Second)
	_ = plain
	ref, err := New(Options{Logger: quiet, Source: testSource(), Package: "riskpdp", EvalTimeout: time.Second, Limits: testLimits, NoOptimize: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ref.Close)
	if ps := fast.cur.Load(); ps.fast == nil || !ps.optimized {
		t.Fatalf("reference policy not on the fast path: %v", ps.notes)
	}
	outcomes := map[pdp.Outcome]int{}
	for seed := uint64(0); seed < uint64(n); seed++ {
		outcomes[compareEngines(t, fast, ref, seed)]++
	}
	for o := pdp.Allow; o <= pdp.Deny; o++ {
		if outcomes[o] < n/20 {
			t.Errorf("generator too narrow: %v", outcomes)
		}
	}
}

func FuzzFastPathMatchesTopdown(f *testing.F) {
	f.Add(uint64(1))
	f.Add(uint64(42))
	fast, err := New(Options{Logger: quiet, Source: testSource(), Package: "riskpdp", EvalTimeout: time.Second, Limits: testLimits})
	if err != nil {
		f.Fatal(err)
	}
	ref, err := New(Options{Logger: quiet, Source: testSource(), Package: "riskpdp", EvalTimeout: time.Second, Limits: testLimits, NoOptimize: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, seed uint64) { compareEngines(t, fast, ref, seed) })
}

func compareEngines(t *testing.T, fast, ref *Engine, seed uint64) pdp.Outcome {
	t.Helper()
	body := request.GenRequest(seed)
	in, err := request.DecodeRequest([]byte(body), time.Now(), testLimits)
	if err != nil {
		t.Fatalf("generator made a bad request %s: %v", body, err)
	}
	request.GenEnrichment(seed, in)
	ctx := context.Background()
	want, _, err := ref.Evaluate(ctx, in)
	if err != nil {
		t.Fatalf("reference: %s: %v", body, err)
	}
	got, _, err := fast.Evaluate(ctx, in)
	if err != nil {
		t.Fatalf("fast: %s: %v", body, err)
	}
	ps := fast.cur.Load()
	opt, err := fast.evalTerm(ctx, ps, ps.optQuery, in.Term(), in.Now)
	if err != nil {
		t.Fatal(err)
	}
	viaTopdown, err := hits.Parse(opt, in.Enrich.Verification.Passed)
	if err != nil {
		t.Fatal(err)
	}
	if !sameAnswer(got, want) || !sameAnswer(viaTopdown, want) {
		t.Fatalf("%s\n%s\n fast:     %+v\n optimized: %+v\n as written: %+v", body, in.Term(), got, viaTopdown, want)
	}
	return want.Outcome
}

// TestFastPathFragment checks small policies on both evaluators: those in
// the fragment must run on the fast path and agree with topdown, the others
// must be served by topdown.
func TestFastPathFragment(t *testing.T) {
	inputs := []string{
		`{"stage":"login","uid":"u"}`,
		`{"stage":"payment","uid":"u","txn":{"id":"t","amount":10,"currency":"CNY","category":"x"}}`,
		`{"stage":"payment","uid":"boom","txn":{"id":"t","amount":900,"currency":"USD"},"device":{"new":false},"context":{"n":"12","tags":["a","b"],"k":"tags"}}`,
		`{"stage":"order","uid":"u","txn":{"id":"t","amount":5000,"currency":"EUR","purpose":""},"device":{"new":true,"id":"d"},"context":{"n":12}}`,
	}
	cases := []struct {
		name, rego string
		fast       bool
	}{
		{"negations and undefined", `package riskpdp
step_up contains "no_device" if not input.device
step_up contains "not_new" if not input.device.new
step_up contains "other_currency" if { input.stage == "payment"; not input.txn.currency == "CNY" }
deny contains "purpose_empty" if input.txn.purpose == ""`, true},
		{"support rule", `package riskpdp
trusted if { input.device.new == false; input.txn.amount < 1000 }
step_up contains "untrusted" if { input.derived.money == true; not trusted }`, true},
		{"calls with output and dynamic refs", `package riskpdp
step_up contains r if { n := to_number(input.context.n); n > 10; r := "big_n" }
deny contains "tagged" if { k := input.context.k; count(input.context[k]) == 2 }
step_up contains "upper" if upper(input.uid) == "BOOM"`, true},
		{"builtin error falls back", `package riskpdp
step_up contains "n" if { input.txn.currency == "USD"; to_number(input.uid) > 0 }`, true},
		{"comprehension", `package riskpdp
step_up contains "many" if count([x | some x in input.context.tags]) > 1`, false},
		{"user function", `package riskpdp
f(x) := y if y := x * 2
step_up contains "f" if f(input.txn.amount) > 10`, true},
		{"with", `package riskpdp
g if input.uid == "u"
step_up contains "w" if g with input.uid as "u"`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, _ := newEngine(t, mapSource(map[string]string{"p.rego": c.rego}), time.Second)
			ref, err := New(Options{Logger: quiet, Source: mapSource(map[string]string{"p.rego": c.rego}), Package: "riskpdp",
				EvalTimeout: time.Second, Limits: testLimits, NoOptimize: true})
			if err != nil {
				t.Fatal(err)
			}
			defer ref.Close()
			if ps := e.cur.Load(); (ps.fast != nil) != c.fast {
				t.Fatalf("fast path = %v, want %v (notes %v)", ps.fast != nil, c.fast, ps.notes)
			}
			for _, body := range inputs {
				in, err := request.DecodeRequest([]byte(body), time.Now(), testLimits)
				if err != nil {
					t.Fatal(err)
				}
				got, _, gerr := e.Evaluate(context.Background(), in)
				want, _, werr := ref.Evaluate(context.Background(), in)
				if (gerr == nil) != (werr == nil) || !sameAnswer(got, want) {
					t.Fatalf("%s:\n got  %+v %v\n want %+v %v", body, got, gerr, want, werr)
				}
			}
		})
	}
}

// TestNumericCompare holds the native float64 comparisons of numbers the
// sidecar computes (stepCompareNum) to topdown's decimal comparisons, on
// values at and around the constants, the constant on either side, and
// constants written in other forms or too precise for the native path.
func TestNumericCompare(t *testing.T) {
	rego := `package riskpdp
step_up contains "gte" if input.scores.m.score >= 0.7
step_up contains "gt_exp" if input.scores.m.score > 7e-1
step_up contains "lt_left" if 0.70 < input.scores.m.score
step_up contains "lte_zeros" if input.scores.m.score <= 0.700000
deny contains "precise" if input.scores.m.score > 0.7000000000000001
deny contains "count" if input.velocity.uid.count_1m > 5
deny contains "amount" if { input.velocity.uid.amount_1h >= 14999.99; input.velocity.spent_24h < 1e4 }
step_up contains "age" if input.derived.account_age_days < 7
step_up contains "eq" if input.scores.m.score == 0.7`
	e, _ := newEngine(t, mapSource(map[string]string{"p.rego": rego}), time.Second)
	ref, err := New(Options{Logger: quiet, Source: mapSource(map[string]string{"p.rego": rego}), Package: "riskpdp",
		EvalTimeout: time.Second, Limits: testLimits, NoOptimize: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	ps := e.cur.Load()
	if ps.fast == nil {
		t.Fatalf("not on the fast path: %v", ps.notes)
	}
	// All but the 16-digit constant and the equality.
	if native := ps.fast.Shape().NativeCompares; native != 8 {
		t.Errorf("%d native comparisons, want 8", native)
	}
	scores := []float64{0, 0.69, 0.6999994, 0.6999995, 0.7, 0.70000049, 0.7000005, 0.7000000000000001, 0.71, 1, -0.7}
	for i, sc := range scores {
		in, err := request.DecodeRequest([]byte(`{"stage":"payment","uid":"u","txn":{"id":"t","amount":10,"currency":"CNY"},"account":{"created_at":"2026-01-01T00:00:00Z"}}`), time.Now(), testLimits)
		if err != nil {
			t.Fatal(err)
		}
		if i%3 != 0 {
			in.Enrich.Scores = []request.Score{{Plugin: "m", Score: sc}}
		}
		w := []pdp.WindowCounts{{Count1m: 5, Amount1h: 14999.989999}, {Count1m: 6, Amount1h: 14999.9899995}, {Amount1h: 15000}}[i%3]
		in.Enrich.Velocity = &pdp.Velocity{UID: w, Spent24h: []float64{9999.9999995, 9999.9999994, 1e4}[i%3]}
		got, _, gerr := e.Evaluate(context.Background(), in)
		want, _, werr := ref.Evaluate(context.Background(), in)
		if (gerr == nil) != (werr == nil) || !sameAnswer(got, want) {
			t.Fatalf("score %v:\n got  %+v %v\n want %+v %v", sc, got, gerr, want, werr)
		}
	}
}

// sameAnswer compares two results but for the evaluator that made them.
func sameAnswer(a, b Result) bool {
	a.Evaluator, a.Reevaluated, b.Evaluator, b.Reevaluated = "", "", "", ""
	return reflect.DeepEqual(a, b)
}

// TestFastPathIndexAndReevaluation: a guard anywhere in a body, or a
// membership in a constant set, keeps a rule from running, as OPA's index
// keeps it from being evaluated, so a built-in call ahead of a failing
// guard raises no error in either; an error the fast program does raise
// is decided again by OPA on the policy as written (an equality OPA
// indexes and the fast program does not: a number).
func TestFastPathIndexAndReevaluation(t *testing.T) {
	rego := `package riskpdp
step_up contains "n" if { to_number(input.context.n) > 10; input.txn.currency == "USD" }
deny contains "m" if { to_number(input.context.n) > 10; input.txn.amount == 5 }
step_up contains "cat" if { input.stage == "payment"; input.txn.category in {"gift_card", "phone"} }
deny contains "kw" if { is_string(input.context.s); contains(lower(input.context.s), "kw") }
step_up contains "amt" if { input.txn.amount > 100; 1000 >= input.txn.amount; to_number(input.context.n) > 10 }`
	files := map[string]string{"p.rego": rego}
	e, _ := newEngine(t, mapSource(files), time.Second)
	ps := e.cur.Load()
	if ps.fast == nil {
		t.Fatalf("not on the fast path: %v", ps.notes)
	}
	if n := ps.fast.Shape().GuardSteps; n != 0 {
		t.Errorf("%d guards left in the rules' steps", n)
	}
	for _, c := range []struct {
		body      string
		evaluator string
		fails     bool
	}{
		{`{"stage":"payment","uid":"u","txn":{"id":"t","amount":6,"currency":"CNY"},"context":{"n":"abc"}}`, EvaluatorOPA, false},
		{`{"stage":"payment","uid":"u","txn":{"id":"t","amount":6,"currency":"USD"},"context":{"n":"abc"}}`, EvaluatorOPA, true},
		{`{"stage":"payment","uid":"u","txn":{"id":"t","amount":5,"currency":"CNY"},"context":{"n":"abc"}}`, EvaluatorOPA, true},
		{`{"stage":"payment","uid":"u","txn":{"id":"t","amount":5,"currency":"USD"},"context":{"n":"11"}}`, EvaluatorFast, false},
		{`{"stage":"payment","uid":"u","txn":{"id":"t","amount":5,"currency":"CNY","category":"phone"},"context":{"n":"1"}}`, EvaluatorFast, false},
		{`{"stage":"order","uid":"u","txn":{"id":"t","amount":5,"currency":"CNY","category":"phone"},"context":{"n":"1"}}`, EvaluatorFast, false},
		{`{"stage":"order","uid":"u","txn":{"id":"t","amount":5,"currency":"CNY"},"context":{"n":"1","s":"A KW here"}}`, EvaluatorFast, false},
		{`{"stage":"order","uid":"u","txn":{"id":"t","amount":5,"currency":"CNY"},"context":{"n":"1","s":7}}`, EvaluatorFast, false},
		{`{"stage":"order","uid":"u","txn":{"id":"t","amount":500,"currency":"CNY"},"context":{"n":"abc"}}`, EvaluatorOPA, true},
		{`{"stage":"order","uid":"u","txn":{"id":"t","amount":5000,"currency":"CNY"},"context":{"n":"abc"}}`, EvaluatorOPA, false},
		{`{"stage":"order","uid":"u","txn":{"id":"t","amount":500,"currency":"CNY"},"context":{"n":"11"}}`, EvaluatorFast, false},
	} {
		in, err := request.DecodeRequest([]byte(c.body), time.Now(), testLimits)
		if err != nil {
			t.Fatal(err)
		}
		got, _, err := e.Evaluate(context.Background(), in)
		input, _ := ast.JSON(in.Term().Value)
		b, _ := json.Marshal(input)
		want, opaErr := opaEval(t, files, string(b), true)
		if (err != nil) != c.fails || (opaErr != nil) != c.fails {
			t.Fatalf("%s: sidecar %v, OPA %v, want failure %v", c.body, err, opaErr, c.fails)
		}
		if c.fails {
			continue
		}
		if reasons := slices.Sorted(slices.Values(got.Reasons)); strings.Join(reasons, ",") != strings.Join(want, ",") {
			t.Errorf("%s: sidecar %v, OPA %v", c.body, reasons, want)
		}
		if got.Evaluator != c.evaluator || (got.Reevaluated != "") != (c.evaluator == EvaluatorOPA) {
			t.Errorf("%s: answered by %q (re-evaluated after %q), want %q", c.body, got.Evaluator, got.Reevaluated, c.evaluator)
		}
	}
}

// TestSubstringIndex holds the contains guards' index: a keyword rule is a
// candidate only when the text holds its keyword (whatever the number of
// keyword rules), and the answers are OPA's, on texts with none, one,
// overlapping and all of the keywords, and on values that are not strings.
func TestSubstringIndex(t *testing.T) {
	const n = 300
	var b strings.Builder
	b.WriteString("package riskpdp\n")
	for i := range n {
		switch i % 3 {
		case 0:
			fmt.Fprintf(&b, "deny contains \"kw%d\" if { is_string(input.context.s); contains(lower(input.context.s), \"kw%d \") }\n", i, i)
		case 1:
			fmt.Fprintf(&b, "step_up contains \"kw%d\" if contains(input.context.note, \"kw%d\")\n", i, i)
		default:
			fmt.Fprintf(&b, "step_up contains \"kw%d\" if { input.stage == \"payment\"; is_string(input.context.s); contains(upper(input.context.s), \"KW%d\") }\n", i, i)
		}
	}
	files := map[string]string{"p.rego": b.String()}
	e, _ := newEngine(t, mapSource(files), time.Second)
	ps := e.cur.Load()
	if ps.fast == nil || ps.fast.Shape().SubstringGuards != 3 {
		t.Fatalf("want 3 substring guards on the fast path: %v", ps.notes)
	}
	for _, c := range []struct {
		context string
		cands   int // keyword rules left as candidates
	}{
		{`{"s":"nothing here","note":"nor here"}`, 0},
		{`{"s":"KW3 and kw30 ","note":"kw4"}`, 3}, // kw3, kw30 (lower); kw4 (note)
		{`{"s":"kw299 kw2"}`, 0},                  // kw299's rule wants a payment
		{`{"s":7,"note":["kw1"]}`, 100},           // contains on an array: its rules run, and raise the error
		{`{"note":"kw1kw10kw100"}`, 3},
		{`{}`, 0},
	} {
		body := `{"stage":"order","uid":"u","txn":{"id":"t","amount":5,"currency":"CNY"},"context":` + c.context + `}`
		in, err := request.DecodeRequest([]byte(body), time.Now(), testLimits)
		if err != nil {
			t.Fatal(err)
		}
		if cands := ps.fast.Candidates(in); cands != c.cands {
			t.Errorf("%s: %d candidates, want %d", c.context, cands, c.cands)
		}
		got, _, err := e.Evaluate(context.Background(), in)
		input, _ := ast.JSON(in.Term().Value)
		j, _ := json.Marshal(input)
		want, opaErr := opaEval(t, files, string(j), true)
		if (err != nil) != (opaErr != nil) {
			t.Fatalf("%s: sidecar %v, OPA %v", c.context, err, opaErr)
		}
		if reasons := slices.Sorted(slices.Values(got.Reasons)); err == nil && strings.Join(reasons, ",") != strings.Join(want, ",") {
			t.Errorf("%s: sidecar %v, OPA %v", c.context, reasons, want)
		}
	}
}

// TestFastPathKeywordLists: a keyword list matched as one pattern of
// literals runs as one scan (and a pattern that is not only literals as
// a regexp), its normalization is computed once per evaluation, and the
// fast path answers as topdown does: matches, misses, negations, a
// missing value, and a value of the wrong type (the type guard, which
// lets the sidecar prove the string built-ins cannot fail, leaves the
// text undefined in both).
func TestFastPathKeywordLists(t *testing.T) {
	rego := `package riskpdp
text := replace(replace(lower(input.context.s), " ", ""), "-", "") if is_string(input.context.s)
pattern := concat("|", [q | some w in ["bad", "worse", "evil one", "安全账户", "a.b"]; q := regex.replace(replace(w, " ", ""), "[.|]", "\\$0")])
step_up contains "listed" if {
	input.stage == "payment"
	regex.match(pattern, text)
}
deny contains "listed_and_large" if {
	input.txn.amount > 1000
	regex.match(pattern, text)
	not regex.match("zzz|yyy", text)
}
step_up contains "not_literals" if regex.match("(?i)ZZ+", text)`
	e, _ := newEngine(t, mapSource(map[string]string{"p.rego": rego}), time.Second)
	ref, err := New(Options{Logger: quiet, Source: mapSource(map[string]string{"p.rego": rego}), Package: "riskpdp",
		EvalTimeout: time.Second, Limits: testLimits, NoOptimize: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	ps := e.cur.Load()
	if ps.fast == nil {
		t.Fatalf("not on the fast path: %v", ps.notes)
	}
	shape := ps.fast.Shape()
	scans, regexps := len(shape.Scans), 0
	for _, pattern := range shape.RegexPatterns {
		if strings.Contains(pattern, "ZZ") {
			regexps++
		}
	}
	if scans != 3 || regexps != 1 {
		t.Errorf("%d scans and %d regexps, want 3 and 1", scans, regexps)
	}
	if shape.Memos != 3 { // lower, then the two replacements
		t.Errorf("%d memoized calls, want 3", shape.Memos)
	}
	statements := []string{`"a BAD day"`, `"Evil One"`, `"evil-one"`, `"good"`, `"安 全 账 户"`, `"a.b"`, `"axb"`, `"bad zzz"`,
		`"ZZZ"`, `""`, `7`, `null`, `["bad"]`}
	for _, stage := range []string{"payment", "order"} {
		for _, amount := range []int{10, 5000} {
			for _, st := range statements {
				body := fmt.Sprintf(`{"stage":%q,"uid":"u","txn":{"id":"t","amount":%d,"currency":"CNY"},"context":{"s":%s}}`, stage, amount, st)
				in := mustDecode(t, body)
				got, _, gerr := e.Evaluate(context.Background(), in)
				want, _, werr := ref.Evaluate(context.Background(), in)
				if (gerr == nil) != (werr == nil) || !sameAnswer(got, want) {
					t.Fatalf("%s:\n got  %+v %v\n want %+v %v", body, got, gerr, want, werr)
				}
			}
		}
	}
}

// mustDecode decodes a request body the test built.
func mustDecode(t testing.TB, body string) *request.Input {
	t.Helper()
	in, err := request.DecodeRequest([]byte(body), time.Now(), testLimits)
	if err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	return in
}
