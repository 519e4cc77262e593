package policy

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// A string built-in on an input value may fail (lower(7)), so a rule that
// calls one before an expression that may fail first is served as written;
// behind an is_string guard (on the value, or on a variable the compiler
// bound to it) it cannot, and the rule keeps the fast path. A guard that
// does not hold for the value (under `not`, on another field) proves
// nothing. Whatever the path, the answers are OPA's.
func TestStringGuardsProveCallsCannotFail(t *testing.T) {
	rules := `
step_up contains "listed" if {
	input.stage == "payment"
	regex.match("bad|evil", text)
	regex.match("a|e", text)
}`
	for name, c := range map[string]struct {
		text string
		fast bool
	}{
		"guarded":                {`text := replace(lower(input.context.s), " ", "") if is_string(input.context.s)`, true},
		"guard on a local":       {"text := x if {\n\ts := input.context.s\n\tis_string(s)\n\tx := trim_space(upper(s))\n}", true},
		"unguarded":              {`text := replace(lower(input.context.s), " ", "")`, false},
		"guard under not":        {`text := lower(input.context.s) if not is_string(input.context.s)`, false},
		"guard on another field": {`text := lower(input.context.s) if is_string(input.context.t)`, false},
		"guard after the call":   {"text := x if {\n\tx := lower(input.context.s)\n\tis_string(input.context.s)\n}", false},
		"number built-in":        {`text := format_int(input.context.s, 10) if is_string(input.context.s)`, false},
	} {
		t.Run(name, func(t *testing.T) {
			rego := "package riskpdp\n\n" + c.text + "\n" + rules + "\n"
			e, _ := newEngine(t, mapSource(map[string]string{"p.rego": rego}), time.Second)
			ref, err := New(Options{Logger: quiet, Source: mapSource(map[string]string{"p.rego": rego}), Package: "riskpdp",
				EvalTimeout: time.Second, Limits: testLimits, NoOptimize: true})
			if err != nil {
				t.Fatal(err)
			}
			defer ref.Close()
			ps := e.cur.Load()
			if (ps.fast != nil) != c.fast {
				t.Fatalf("fast path %v, want %v (notes %v)", ps.fast != nil, c.fast, ps.notes)
			}
			if !c.fast && !strings.Contains(fmt.Sprint(ps.notes), "may fail") {
				t.Errorf("notes do not say why: %v", ps.notes)
			}
			for _, s := range []string{`"a BAD day"`, `"evil"`, `"good"`, `""`, `7`, `null`, `["bad"]`, `{"a":1}`, `true`} {
				body := fmt.Sprintf(`{"stage":"payment","uid":"u","txn":{"id":"t","amount":5,"currency":"CNY"},"context":{"s":%s,"t":"x"}}`, s)
				in := mustDecode(t, body)
				got, _, gerr := e.Evaluate(context.Background(), in)
				want, _, werr := ref.Evaluate(context.Background(), in)
				if (gerr == nil) != (werr == nil) || !reflect.DeepEqual(got.Reasons, want.Reasons) {
					t.Fatalf("%s:\n got  %+v %v\n want %+v %v", body, got, gerr, want, werr)
				}
			}
		})
	}
}
