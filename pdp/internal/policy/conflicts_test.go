package policy

import (
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// A decision rule that reads a rule whose definitions may conflict is
// served as written (the conflict is OPA's error, which partial evaluation
// would lose: corpus fragment "conflicts"); definitions that cannot
// conflict keep it specialized.
func TestConflictingDefinitionsServedAsWritten(t *testing.T) {
	for name, c := range map[string]struct {
		helper   string
		conflict bool
	}{
		"overlapping thresholds":    {"h := \"a\" if input.x > 1\n\nh := \"b\" if input.x > 2", true},
		"function":                  {"f(x) := 1 if x >= 5\n\nf(x) := 2 if x <= 5\n\nh := f(input.x)", true},
		"partial object":            {"o[k] := v if some k, v in input.obj\n\nh := o.a", true},
		"partial object, keys":      {"o[x.k] := true if some x in input.arr\n\no[x.j] := false if some x in input.arr\n\nh := o.a", true},
		"iteration":                 {"h := v if some v in input.arr", true},
		"iteration by reference":    {"h := input.arr[_].v", true},
		"else against another":      {"h := 1 if input.x == 1 else := 2\n\nh := 3 if input.x == 2", true},
		"equality on two paths":     {"h := 1 if input.x == 1\n\nh := 2 if input.y == 2", true},
		"one definition":            {"h := lower(input.s)", false},
		"one definition, else":      {"h := 1 if input.x > 1 else := 2", false},
		"same constant":             {"h if input.x == 1\n\nh if input.y == 1", false},
		"exclusive equalities":      {"h := 2 if input.vip == true\n\nh := 1 if input.vip == false", false},
		"exclusive, locals":         {"h := 2 if { v := input.vip; v == true }\n\nh := 1 if { v := input.vip; v == false }", false},
		"negation":                  {"h := 2 if input.vip\n\nh := 1 if not input.vip", false},
		"constant arguments":        {"f(\"a\") := 1\n\nf(\"b\") := 2\n\nh := f(input.x)", false},
		"argument equalities":       {"f(x) := 1 if x == \"a\"\n\nf(x) := 2 if x == \"b\"\n\nh := f(input.x)", false},
		"default":                   {"default h := 0\n\nh := 1 if input.x == 1", false},
		"partial object, one value": {"o[k] := true if some k in input.ks\n\nh := o.a", false},
		"lookup keyed by the input": {"t := {\"a\": 1}\n\nh := t[input.x]", false},
		"computed number or 0":      {"h := input.velocity.spent_24h\n\nh := 0 if not input.velocity.spent_24h", false},
		"partial object of data":    {"d := {\"a\": [1], \"b\": [2]}\n\no[k] := sum(v) if some k, v in d\n\nh := o[input.x]", false},
		"caller's value or 0":       {"h := input.context.n\n\nh := 0 if not input.context.n", true},
	} {
		t.Run(name, func(t *testing.T) {
			src := "package riskpdp\n\n" + c.helper + "\n\ndeny contains \"x\" if h\n"
			cmp, err := ast.CompileModulesWithOpt(map[string]string{"p.rego": src}, ast.CompileOpts{ParserOptions: ast.ParserOptions{RegoVersion: ast.RegoV1}})
			if err != nil {
				t.Fatal(err)
			}
			why := newErrorOrder(cmp).check(ast.MustParseRef("data.riskpdp.deny"))
			if got := strings.Contains(why, "conflict"); got != c.conflict {
				t.Fatalf("conflict %v (%q), want %v", got, why, c.conflict)
			}
		})
	}
}
