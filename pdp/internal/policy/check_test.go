package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
)

// newAccountPayment is a 4 000 CNY payment by a two-day-old account: the
// reference policy steps it up (new_account_large_amount, medium 2 000).
func newAccountPayment() string {
	created := time.Now().Add(-48 * time.Hour).UTC().Format(time.RFC3339)
	return `{"stage":"payment","uid":"u","txn":{"id":"t","amount":4000,"currency":"CNY"},"account":{"created_at":"` + created + `"}}`
}

// referenceWith is the reference policy set (without tests) with its
// config changed by patch, or without the files named in drop.
func referenceWith(t *testing.T, patch func(cfg map[string]any), drop ...string) Source {
	t.Helper()
	files := map[string]string{}
	for name, b := range referenceFiles(t) {
		files[name] = string(b)
	}
	if patch != nil {
		var cfg map[string]any
		if err := json.Unmarshal([]byte(files["riskpdp/config/data.json"]), &cfg); err != nil {
			t.Fatal(err)
		}
		patch(cfg)
		b, err := json.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		files["riskpdp/config/data.json"] = string(b)
	}
	for _, name := range drop {
		if _, ok := files[name]; !ok {
			t.Fatalf("no file %s in the reference set", name)
		}
		delete(files, name)
	}
	return mapSource(files)
}

func obj(cfg map[string]any, path ...string) map[string]any {
	for _, k := range path {
		cfg = cfg[k].(map[string]any)
	}
	return cfg
}

// TestBadPolicyDataRefused: data the reference policy's schema refuses
// stops a start, and a reload of it leaves the serving revision deciding
// as before (the 4 000 CNY new-account payment keeps stepping up).
func TestBadPolicyDataRefused(t *testing.T) {
	cases := []struct {
		name  string
		patch func(cfg map[string]any)
		drop  []string
		want  string
	}{
		{"threshold as a string", func(c map[string]any) { obj(c, "thresholds")["medium"] = "2000" },
			nil, "data.riskpdp.config.thresholds.medium: Invalid type. Expected: number, given: string"},
		{"missing required key", func(c map[string]any) { delete(c, "vip_multiplier") },
			nil, "data.riskpdp.config: vip_multiplier is required"},
		{"unknown key", func(c map[string]any) { obj(c, "velocity")["max_txn_per_day"] = 100 },
			nil, "data.riskpdp.config.velocity: Additional property max_txn_per_day is not allowed"},
		{"negative threshold", func(c map[string]any) { obj(c, "thresholds")["large"] = -700 },
			nil, "data.riskpdp.config.thresholds.large: Must be greater than 0"},
		{"bad duration", func(c map[string]any) { obj(c, "freeze")["temporary_duration"] = "30 minutes" },
			nil, "data.riskpdp.config.freeze.temporary_duration: Does not match pattern"},
		{"zero duration", func(c map[string]any) { obj(c, "conditional_release")["duration"] = "0s" },
			nil, "data.riskpdp.config.conditional_release.duration: want a positive duration"},
		{"score as a string", func(c map[string]any) { obj(c, "scores")["step_up"] = "0.7" },
			nil, "data.riskpdp.config.scores.step_up: Invalid type"},
		{"rate as a string", func(c map[string]any) { obj(c, "rates")["USD"] = "7.1" },
			nil, "data.riskpdp.config.rates.USD: Invalid type"},
		{"unknown method", func(c map[string]any) { obj(c, "methods")["large_amount"] = []any{"email"} },
			nil, "data.riskpdp.config.methods.large_amount.0"},
		{"schema missing", nil, []string{"riskpdp/schemas/config/data.json"},
			"data.riskpdp.schemas.config: missing or not an object"},
		{"config missing", nil, []string{"riskpdp/config/data.json"},
			"data.riskpdp.config: missing or not an object"},
	}
	var reloads []error
	live, err := New(Options{Logger: quiet, Source: testSource(), Package: "riskpdp", EvalTimeout: time.Second, Limits: testLimits,
		OnReload: func(_ string, err error) { reloads = append(reloads, err) }})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	rev := live.Revision()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			bad := referenceWith(t, c.patch, c.drop...)
			for _, noOpt := range []bool{false, true} {
				_, err := New(Options{Logger: quiet, Source: bad, Package: "riskpdp", EvalTimeout: time.Second, Limits: testLimits, NoOptimize: noOpt})
				if !errors.Is(err, ErrPolicyData) || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("start (no optimize %v): %v, want %s", noOpt, err, c.want)
				}
			}
			n := len(reloads)
			err := live.ReloadFrom(bad)
			if !errors.Is(err, ErrPolicyData) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("reload: %v, want %s", err, c.want)
			}
			if len(reloads) != n+1 || reloads[n] == nil {
				t.Fatalf("the refused reload was not reported to OnReload: %v", reloads[n:])
			}
			r, got, err := decide(t, live, newAccountPayment())
			if err != nil || got != rev || r.Outcome != pdp.StepUp || !slices.Contains(r.Reasons, "new_account_large_amount") {
				t.Fatalf("after the refused reload: %+v, revision %s (want %s), %v", r, got, rev, err)
			}
		})
	}
}

// TestShippedDataIsChecked: the reference set loads with its data checked
// (the log says data_checked) and a valid data change still reloads.
func TestShippedDataIsChecked(t *testing.T) {
	e, _ := newEngine(t, testSource(), time.Second)
	if !e.cur.Load().dataChecked {
		t.Fatal("the reference set was loaded without its data check")
	}
	changed := referenceWith(t, func(c map[string]any) {
		obj(c, "thresholds")["medium"] = 5000
		obj(c, "rates")["BRL"] = 1.3
	})
	if err := e.ReloadFrom(changed); err != nil {
		t.Fatal(err)
	}
	if r, _, err := decide(t, e, newAccountPayment()); err != nil || slices.Contains(r.Reasons, "new_account_large_amount") {
		t.Fatalf("the valid data change is not in effect: %+v %v", r, err)
	}
}

// TestDataErrorsContract: how the sidecar reads data_errors from any
// policy: a set of strings, evaluated without input; anything else
// refuses the set.
func TestDataErrorsContract(t *testing.T) {
	const decision = "package riskpdp\n\nstep_up contains \"x\" if input.uid == \"x\"\n"
	cases := []struct {
		name, rego, data string
		checked          bool
		want             string // "" when the set loads
	}{
		{"no rule", "", `{}`, false, ""},
		{"empty set", `data_errors contains "never" if data.riskpdp.cfg.x == 2`, `{"x": 1}`, true, ""},
		{"empty array", `data_errors := []`, `{}`, true, ""},
		{"a message", `data_errors contains sprintf("cfg.x: want 1, got %v", [data.riskpdp.cfg.x]) if data.riskpdp.cfg.x != 1`,
			`{"x": 2}`, true, "data.riskpdp.data_errors: cfg.x: want 1, got 2"},
		{"array of messages", `data_errors := ["b", "a"]`, `{}`, true, "data.riskpdp.data_errors: a; b"},
		{"input is absent", `data_errors contains "no input" if not input.uid`, `{}`, true, "no input"},
		{"not strings", `data_errors contains 5 if true`, `{}`, true, "must be a set of strings"},
		{"not a collection", `data_errors := "bad"`, `{}`, true, "must be a set of strings"},
		{"undefined", `data_errors := {"a"} if input.uid == "u"`, `{}`, true, "is undefined"},
		{"evaluation error", `data_errors contains "x" if to_number(data.riskpdp.cfg.s) > 1`, `{"s": "abc"}`, true, "to_number"},
		{"many messages", `data_errors := {sprintf("m%02d", [i]) | some i in numbers.range(1, 30)}`, `{}`, true, "m20; and 10 more"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := mapSource(map[string]string{"p.rego": decision + c.rego, "riskpdp/cfg/data.json": c.data})
			e, err := New(Options{Logger: quiet, Source: src, Package: "riskpdp", EvalTimeout: time.Second, Limits: testLimits})
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				defer e.Close()
				if got := e.cur.Load().dataChecked; got != c.checked {
					t.Fatalf("data checked %v, want %v", got, c.checked)
				}
				return
			}
			if !errors.Is(err, ErrPolicyData) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %s", err, c.want)
			}
		})
	}
}

// brokenConstants are policies with a call that fails on constant
// arguments, and the line it is on: every one is refused at load. OPA
// fails the decision on every input that reaches the call (with strict
// built-in errors; without, it drops or keeps the rule silently).
var brokenConstants = []struct {
	name, rego string
	line       int
	reach      string // an input that reaches the call
}{
	{"step_up", `step_up contains "a" if {
	input.x == 1
	to_number("abc") > 1
}`, 5, `{"x": 1}`},
	{"deny", `deny contains "a" if {
	input.x == 1
	regex.match("[", "a")
}`, 5, `{"x": 1}`},
	{"obligations head", `obligations contains {"type": "flag", "kind": "key_tracking", "t": time.parse_rfc3339_ns("yesterday")} if input.x == 1`,
		3, `{"x": 1}`},
	{"helper rule", `cap := units.parse("12 parsecs")

step_up contains "a" if input.y > cap`, 3, `{"y": 1}`},
	{"function with constant arguments", `f(v) := to_number(v)

deny contains "a" if {
	input.x == 1
	f("zz") > 1
}`, 7, `{"x": 1}`},
	{"else branch", `lim := 5 if input.x == 1
else := json.unmarshal("{")

step_up contains "a" if input.y > lim`, 4, `{"x": 2, "y": 1}`},
	{"else branch with a function", `f(v) := base64.decode(v)

lim := 5 if input.x == 1
else := f("!")

step_up contains "a" if input.y > lim`, 6, `{"x": 2, "y": 1}`},
	{"under not", `step_up contains "a" if {
	input.x == 1
	not net.cidr_contains("10.0.0.0/40", "10.0.0.1")
}`, 5, `{"x": 1}`},
	{"comprehension", `step_up contains "a" if {
	input.x == 1
	count([v | some v in [1, 2]; v > to_number("x")]) > 0
}`, 5, `{"x": 1}`},
	{"data of the wrong type", `deny contains "a" if {
	input.x == 1
	input.y > data.riskpdp.cfg.limit * 2
}`, 5, `{"x": 1, "y": 1}`},
	{"data of the wrong type through an input-keyed rule", `th := data.riskpdp.cfg.th[input.c]

step_up contains "a" if input.y > th.large * 2`, 5, `{"c": "CNY", "y": 1}`},
	{"methods", `methods := {"a": [lower(sprintf("%v", [to_number("face")]))]} if input.x == 1`, 3, `{"x": 1}`},
	{"division by zero in data", `step_up contains "a" if {
	input.x == 1
	input.y > 100 / data.riskpdp.cfg.zero
}`, 5, `{"x": 1, "y": 1}`},
}

// TestConstantCallErrorsRefuseLoad: every policy of brokenConstants is
// refused at load, optimized or not, naming the file and line.
func TestConstantCallErrorsRefuseLoad(t *testing.T) {
	const data = `{"limit": "300", "th": {"CNY": {"large": "5000"}, "USD": {"large": 700}}, "zero": 0}`
	for _, c := range brokenConstants {
		t.Run(c.name, func(t *testing.T) {
			files := map[string]string{"p.rego": "package riskpdp\n\n" + c.rego + "\n", "riskpdp/cfg/data.json": data}
			for _, noOpt := range []bool{false, true} {
				_, err := New(Options{Logger: quiet, Source: mapSource(files), Package: "riskpdp", EvalTimeout: time.Second, Limits: testLimits, NoOptimize: noOpt})
				if !errors.Is(err, ErrConstantCall) || !strings.Contains(err.Error(), fmt.Sprintf("p.rego:%d", c.line)) {
					t.Fatalf("no optimize %v: %v, want a load error at p.rego:%d", noOpt, err, c.line)
				}
			}
			// OPA itself fails on an input that reaches the call.
			if _, err := opaEval(t, files, c.reach, true); err == nil {
				t.Fatalf("OPA with strict built-in errors answers on %s: the case is not broken", c.reach)
			}
		})
	}
}

// inputBuiltinErrors are policies whose calls fail only on some inputs:
// they load, and every input gets OPA's answer or an error where OPA
// (strict built-in errors) fails too.
var inputBuiltinErrors = map[string]string{
	"to_number on the input": `step_up contains "n" if {
	input.uid == "u"
	to_number(input.txn.category) > 5
}`,
	"regex from the input": `deny contains "r" if {
	input.uid == "u"
	regex.match(input.txn.category, "abc")
}`,
	"under not": `step_up contains "u" if {
	input.uid == "u"
	not units.parse(input.txn.category) > 0
}`,
	"else branch": `lim := 5 if {
	input.uid == "u"
	input.txn.currency == "USD"
}
else := to_number(input.txn.category) if input.uid == "u"

step_up contains "e" if input.txn.amount > lim`,
	"call moved after a guard": `step_up contains "m" if {
	input.uid == "u"
	x := to_number(input.txn.category)
	input.txn.currency == "USD"
	x > 5
}`,
	"call before a data check that fails": `deny contains "d" if {
	input.uid == "u"
	regex.match(input.txn.category, "abc")
	data.riskpdp.cfg.on == true
}`,
	"call before an empty data list": `step_up contains k if {
	input.uid == "u"
	n := to_number(input.txn.category)
	some k in data.riskpdp.cfg.none
	n > k
}`,
	"call after a data lookup": `step_up contains "a" if {
	input.uid == "u"
	input.txn.amount > th.large
	to_number(input.txn.category) > 1
}`,
	"helper on data and input": `step_up contains "t" if {
	input.uid == "u"
	input.txn.amount > th.large * to_number(input.txn.category)
}`,
}

func TestInputDependentBuiltinErrorsAgreeWithOPA(t *testing.T) {
	const data = `{"th": {"CNY": {"large": 5000}, "USD": {"large": 700}}, "on": false, "none": []}`
	categories := []string{"7", "1", "abc", "[", "12KB", "0", "-1e3", ""}
	for name, body := range inputBuiltinErrors {
		t.Run(name, func(t *testing.T) {
			files := map[string]string{"p.rego": "package riskpdp\n\nth := data.riskpdp.cfg.th[input.txn.currency]\n\n" + body + "\n", "riskpdp/cfg/data.json": data}
			for _, noOpt := range []bool{false, true} {
				e, err := New(Options{Logger: quiet, Source: mapSource(files), Package: "riskpdp", EvalTimeout: time.Second, Limits: testLimits, NoOptimize: noOpt})
				if err != nil {
					t.Fatalf("no optimize %v: refused: %v", noOpt, err)
				}
				defer e.Close()
				for _, cat := range categories {
					for _, cur := range []string{"CNY", "USD", "EUR"} {
						req := fmt.Sprintf(`{"stage":"payment","uid":"u","txn":{"id":"t","amount":6000,"currency":%q,"category":%q}}`, cur, cat)
						in, err := request.DecodeRequest([]byte(req), time.Now(), testLimits)
						if err != nil {
							t.Fatal(err)
						}
						r, _, err := e.Evaluate(context.Background(), in)
						reasons := slices.Sorted(slices.Values(r.Reasons))
						input, _ := ast.JSON(in.Term().Value)
						b, _ := json.Marshal(input)
						want, opaErr := opaEval(t, files, string(b), true)
						if (err != nil) != (opaErr != nil) {
							t.Fatalf("no optimize %v, %s: sidecar %+v %v, OPA %v %v", noOpt, req, r, err, want, opaErr)
						}
						if err == nil && strings.Join(reasons, ",") != strings.Join(want, ",") {
							t.Fatalf("no optimize %v, %s: sidecar %v, OPA %v", noOpt, req, reasons, want)
						}
					}
				}
			}
		})
	}
}

// opaEval evaluates the deny and step_up reasons of files on input with
// OPA's rego package, as `opa eval` does.
func opaEval(t *testing.T, files map[string]string, input string, strict bool) ([]string, error) {
	t.Helper()
	var in any
	if err := json.Unmarshal([]byte(input), &in); err != nil {
		t.Fatal(err)
	}
	opts := []func(*rego.Rego){
		// The comprehensions make every rule evaluated and defined.
		rego.Query(`r := {x | some x in data.riskpdp.step_up} | {x | some x in data.riskpdp.deny}
			o := [x | x := data.riskpdp.obligations]
			m := [x | x := data.riskpdp.methods]`),
		rego.Input(in), rego.StrictBuiltinErrors(strict), rego.SetRegoVersion(ast.RegoV1),
	}
	for name, body := range files {
		if strings.HasSuffix(name, ".rego") {
			opts = append(opts, rego.Module(name, body))
		}
	}
	data := map[string]any{}
	if b, ok := files["riskpdp/cfg/data.json"]; ok {
		if err := json.Unmarshal([]byte(b), &data); err != nil {
			t.Fatal(err)
		}
	}
	opts = append(opts, rego.Store(inmem.NewFromObject(map[string]any{"riskpdp": map[string]any{"cfg": data}})))
	rs, err := rego.New(opts...).Eval(context.Background())
	if err != nil {
		return nil, err
	}
	var reasons []string
	for _, x := range rs[0].Bindings["r"].([]any) {
		reasons = append(reasons, fmt.Sprint(x))
	}
	slices.Sort(reasons)
	return reasons, nil
}

// TestSchemaRefsStayOffline: json.match_schema's remote $ref makes no
// request, at load (data_errors) or per decision (fast path and topdown).
func TestSchemaRefsStayOffline(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.Write([]byte(`{"type": "object"}`))
	}))
	defer srv.Close()
	ref := fmt.Sprintf(`{"$ref": %q}`, srv.URL+"/schema.json")
	atLoad := map[string]string{"p.rego": `package riskpdp

step_up contains "x" if input.uid == "x"

data_errors contains "bad" if {
	[ok, _] := json.match_schema(data.riskpdp.cfg, ` + ref + `)
	not ok
}
`, "riskpdp/cfg/data.json": `{}`}
	if _, err := New(Options{Logger: quiet, Source: mapSource(atLoad), Package: "riskpdp", EvalTimeout: time.Second, Limits: testLimits}); !errors.Is(err, ErrPolicyData) {
		t.Fatalf("a data check that needs the network loaded: %v", err)
	}
	perDecision := map[string]string{"p.rego": `package riskpdp

step_up contains "x" if {
	input.uid == "u"
	[ok, _] := json.match_schema(input.txn, ` + ref + `)
	ok
}
`}
	for _, noOpt := range []bool{false, true} {
		e, err := New(Options{Logger: quiet, Source: mapSource(perDecision), Package: "riskpdp", EvalTimeout: time.Second, Limits: testLimits, NoOptimize: noOpt})
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		if _, _, err := decide(t, e, payment); err == nil {
			t.Errorf("no optimize %v: a decision that needs the network was answered", noOpt)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("%d requests reached the schema server", n)
	}
	// The check is the sidecar's: OPA's defaults fetch the schema.
	rs, err := rego.New(rego.Query("x := data.riskpdp.data_errors"), rego.Module("p.rego", atLoad["p.rego"]),
		rego.Store(inmem.NewFromObject(map[string]any{"riskpdp": map[string]any{"cfg": map[string]any{}}}))).Eval(context.Background())
	if err != nil || len(rs) != 1 || hits.Load() == 0 {
		t.Fatalf("OPA did not fetch the schema (%v %v): the test server is not what the sidecar was kept from", rs, err)
	}
}
