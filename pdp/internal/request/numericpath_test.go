package request

import (
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// NumericPath names the enrichment leaves that are numbers whenever
// present, and nothing the caller sends, a boolean, a string or an object.
func TestNumericPath(t *testing.T) {
	for path, want := range map[string]bool{
		"velocity.spent_24h":               true,
		"velocity.uid.count_1h":            true,
		"velocity.failures.payment_24h":    true,
		"account_state.limit.daily_amount": true,
		"velocity":                         false,
		"velocity.uid":                     false,
		"velocity.spent_24h.x":             false,
		"reputation.uid.blocked":           false,
		"account_state.freeze_kind":        false,
		"context.spent_24h":                false,
		"txn.amount":                       false,
		"derived.amount_base":              false,
		"scores.fraud.score":               false,
	} {
		ref := ast.MustParseRef("input." + path)
		if got := NumericPath(ref[1:]); got != want {
			t.Errorf("%s: %v, want %v", path, got, want)
		}
	}
}
