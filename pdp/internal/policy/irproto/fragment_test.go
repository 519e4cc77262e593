package irproto

import (
	"context"
	"testing"
	"testing/fstest"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// TestErrorOrderFragment is issue 16's first example: a built-in that
// fails on the input, in a rule whose later equality does not hold. OPA's
// rule index uses every `ref = constant` of a body, so topdown skips the
// rule for currency CNY and never calls to_number; the plan has no index
// and runs the body in order, so the IR program meets the error (strict
// built-in errors, as the engine evaluates).
func TestErrorOrderFragment(t *testing.T) {
	fsys := fstest.MapFS{"p.rego": {Data: []byte(`package riskpdp

step_up contains "n" if {
	to_number(input.context.n) > 10
	input.txn.currency == "USD"
}
`)}}
	c, err := newCorpus("fragment", fsys)
	if err != nil {
		t.Fatal(err)
	}
	ctx, now := context.Background(), time.Now()
	for _, tc := range []struct {
		input   string
		irError bool
	}{
		{`{"txn": {"currency": "USD"}, "context": {"n": "12"}}`, false},
		{`{"txn": {"currency": "CNY"}, "context": {"n": "12"}}`, false},
		{`{"txn": {"currency": "CNY"}, "context": {"n": "abc"}}`, true},
	} {
		input := ast.MustParseTerm(tc.input)
		want, werr := c.topdownHits(ctx, input, now)
		got, gerr := c.irHits(ctx, input, now)
		t.Logf("%s: topdown %s (%v); IR %s (%v)", tc.input, sets(want), werr, sets(got), gerr)
		if werr != nil {
			t.Errorf("topdown failed: %v", werr)
		}
		if (gerr != nil) != tc.irError || (gerr == nil && !got.Equal(want)) {
			t.Errorf("IR: got %s (%v), the test expects error=%v", sets(got), gerr, tc.irError)
		}
	}
}
