package policy

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
	"github.com/riskpdp/riskpdp/policies"
)

// testSource is the embedded reference policy set, or $POLDIR when set
// (handy for benchmarking a variant: POLDIR=/tmp/p go test -bench .).
func testSource() Source {
	if d := os.Getenv("POLDIR"); d != "" {
		return Source{FS: os.DirFS(d), Label: d}
	}
	return Source{FS: policies.FS, Label: "embedded"}
}

// quiet discards the engine's log in tests and benchmarks.
// paymentBody's phone change is 14 hours before the benchmark runs (a fixed
// date would leave the 72-hour window and change the decision measured).
var paymentBody = request.PaymentWithChangeAt(time.Now().Add(-14 * time.Hour))

// testLimits are the decoder's limits in these tests.
var testLimits = request.Limits{MaxDepth: 16, MaxAmount: 1e12}

var quiet = slog.New(slog.DiscardHandler)

func mapSource(files map[string]string) Source {
	fsys := fstest.MapFS{}
	for name, body := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(body)}
	}
	return Source{FS: fsys, Label: "test"}
}

func newEngine(t testing.TB, src Source, timeout time.Duration) (*Engine, []error) {
	t.Helper()
	var reloads []error
	e, err := New(Options{Logger: quiet, Source: src, Package: "riskpdp", EvalTimeout: timeout,
		Limits: testLimits, OnReload: func(_ string, err error) { reloads = append(reloads, err) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e, reloads
}

func decide(t *testing.T, e *Engine, body string) (Result, string, error) {
	t.Helper()
	in, err := request.DecodeRequest([]byte(body), time.Now(), testLimits)
	if err != nil {
		t.Fatal(err)
	}
	return e.Evaluate(context.Background(), in)
}

// payment is a small payment from a device in the account's home country
// (without risk state, the caller's device.new: false counts).
const payment = `{"stage":"payment","uid":"u","device":{"id":"d","ip_country":"CN","new":false},"txn":{"id":"t","amount":100,"currency":"CNY"},"account":{"home_country":"CN","created_at":"2020-01-01T00:00:00Z"}}`

// home is the device and account of payment, for the other cases.
const home = `"device":{"id":"d","ip_country":"CN","new":false},"account":{"home_country":"CN","created_at":"2020-01-01T00:00:00Z"}`

func TestReferencePolicyOutcomes(t *testing.T) {
	e, _ := newEngine(t, testSource(), time.Second)
	cases := []struct {
		body    string
		outcome pdp.Outcome
		reasons string
		methods string
		warning string
	}{
		{payment, pdp.Allow, "", "", ""},
		{string(paymentBody), pdp.StepUp, "large_amount,new_device_foreign_ip,sensitive_change_before_large_amount", "face,sms", ""},
		{`{"stage":"withdrawal","uid":"u",` + home + `,"txn":{"id":"t","amount":900,"currency":"CNY","destination_new":false},"context":{"third_party_guidance":true}}`,
			pdp.Deny, "anti_scam_guidance", "", "anti_fraud"},
		// What the user says: a scam statement alone steps up with the
		// warning; with a new destination (said, or not said known) or a
		// large amount it denies; an ordinary refund is not flagged.
		{`{"stage":"withdrawal","uid":"u",` + home + `,"txn":{"id":"t","amount":900,"currency":"CNY","destination_new":false},"context":{"user_statement":"对方一直在电话里指导我 共享屏幕"}}`,
			pdp.StepUp, "scam_statement", "face", "anti_fraud"},
		{`{"stage":"withdrawal","uid":"u",` + home + `,"txn":{"id":"t","amount":900,"currency":"CNY","destination_new":true},"context":{"user_statement":"guiding me over the phone"}}`,
			pdp.Deny, "anti_scam_guidance,new_destination,scam_statement", "", "anti_fraud"},
		{`{"stage":"withdrawal","uid":"u",` + home + `,"txn":{"id":"t","amount":900,"currency":"CNY"},"context":{"user_statement":"guiding me over the phone"}}`,
			pdp.Deny, "anti_scam_guidance,new_destination,scam_statement", "", "anti_fraud"},
		{`{"stage":"payment","uid":"u",` + home + `,"txn":{"id":"t","amount":5200,"currency":"CNY","category":"daily_goods"},"context":{"user_statement":"the police said to move it to a SAFE ACCOUNT"}}`,
			pdp.Deny, "amount_above_category_price,anti_scam_guidance,large_amount,scam_statement", "", "anti_fraud"},
		{`{"stage":"payment","uid":"u",` + home + `,"txn":{"id":"t","amount":100,"currency":"CNY"},"context":{"user_statement":"我要退款，商品有质量问题","channel":"app"}}`,
			pdp.Allow, "", "", ""},
		{`{"stage":"withdrawal","uid":"u",` + home + `,"txn":{"id":"t","amount":60000,"currency":"CNY"}}`,
			pdp.Deny, "extreme_amount_unclear_purpose,large_amount,new_destination,new_destination_large", "", "anti_fraud"},
		// A first transfer of 5 000 or more to a new payee waits a day.
		{`{"stage":"withdrawal","uid":"u",` + home + `,"txn":{"id":"t","amount":5000,"currency":"CNY","purpose":"rent"}}`,
			pdp.Deny, "large_amount,new_destination,new_destination_large", "", "anti_fraud"},
		{`{"stage":"payment","uid":"u",` + home + `,"txn":{"id":"t","amount":5,"currency":"BRL"}}`,
			pdp.StepUp, "unsupported_currency", "sms", ""},
		// A missing field is never evidence of safety: no device, no
		// account (an unknown age is a young one), no home country,
		// device.new not said.
		{`{"stage":"payment","uid":"u","txn":{"id":"t","amount":100,"currency":"CNY"}}`,
			pdp.StepUp, "new_device_foreign_ip,young_account_new_device", "face", ""},
		{`{"stage":"payment","uid":"u","device":{"id":"d","ip_country":"CN","new":false},"txn":{"id":"t","amount":2000,"currency":"CNY"}}`,
			pdp.StepUp, "new_account_large_amount", "sms", ""},
		{`{"stage":"payment","uid":"u","device":{"id":"d","ip_country":"CN"},"txn":{"id":"t","amount":100,"currency":"CNY"},"account":{"created_at":"2020-01-01T00:00:00Z"}}`,
			pdp.StepUp, "new_device_foreign_ip", "face", ""},
		{`{"stage":"payment","uid":"u","device":{"id":"d"},"txn":{"id":"t","amount":100,"currency":"CNY"},` + home[len(`"device":{"id":"d","ip_country":"CN","new":false},`):] + `}`,
			pdp.StepUp, "new_device_foreign_ip", "face", ""},
	}
	for _, c := range cases {
		r, rev, err := decide(t, e, c.body)
		if err != nil {
			t.Fatal(err)
		}
		if r.Outcome != c.outcome || strings.Join(r.Reasons, ",") != c.reasons ||
			strings.Join(r.Methods, ",") != c.methods || r.Warning != c.warning || !strings.HasPrefix(rev, "sha256:") {
			t.Errorf("%s:\n got %+v (rev %s)", c.body, r, rev)
		}
	}
}

func TestReloadIsAtomic(t *testing.T) {
	good := map[string]string{"p.rego": `package riskpdp
decision := {"step_up": {"v1"}}`}
	e, _ := newEngine(t, mapSource(good), time.Second)
	rev1 := e.Revision()

	for name, bad := range map[string]map[string]string{
		"parse error":    {"p.rego": "package riskpdp\ndecision := {"},
		"compile error":  {"p.rego": "package riskpdp\ndecision := {\"deny\": undefined_thing}"},
		"no entrypoint":  {"p.rego": "package other\nx := 1"},
		"bad document":   {"p.rego": "package riskpdp\ndecision := {\"outcome\": \"maybe\"}"},
		"unsafe builtin": {"p.rego": "package riskpdp\ndecision := {\"x\": http.send({\"method\": \"get\", \"url\": \"http://x\"})}"},
		"empty":          {"README.md": "nothing"},
	} {
		if err := e.ReloadFrom(mapSource(bad)); err == nil {
			t.Errorf("%s: reload accepted", name)
		}
		if e.Revision() != rev1 {
			t.Fatalf("%s: revision changed to %s", name, e.Revision())
		}
		if r, _, err := decide(t, e, payment); err != nil || r.Reasons[0] != "v1" {
			t.Fatalf("%s: old policy not serving: %+v %v", name, r, err)
		}
	}
	v2 := map[string]string{"p.rego": `package riskpdp
decision := {"step_up": {"v2"}}`}
	if err := e.ReloadFrom(mapSource(v2)); err != nil {
		t.Fatal(err)
	}
	if r, rev, _ := decide(t, e, payment); rev == rev1 || r.Reasons[0] != "v2" {
		t.Fatalf("new policy not active: %+v %s", r, rev)
	}
}

func TestEvaluationFailures(t *testing.T) {
	defer func(d time.Duration) { optimizeTimeout = d }(optimizeTimeout)
	optimizeTimeout = 200 * time.Millisecond
	// Each policy passes the smoke test (uid "smoke") and fails for uid
	// "boom" only, as a policy bug met in production would.
	cases := map[string]struct {
		rego string
		want error
	}{
		"bad outcome": {`package riskpdp
decision := {"outcome": "maybe"} if input.uid == "boom"
decision := {} if input.uid != "boom"`, ErrInvalidDecision},
		"bad obligation": {`package riskpdp
decision := {"obligations": [{"type": "freeze", "kind": "forever"}]} if input.uid == "boom"
decision := {} if input.uid != "boom"`, ErrInvalidDecision},
		"conflict": {`package riskpdp
decision := {"outcome": "allow"}
decision := {"outcome": "deny"} if input.uid == "boom"`, nil},
		"builtin error": {`package riskpdp
decision := {"x": to_number(input.uid)} if input.uid == "boom"
decision := {} if input.uid != "boom"`, nil},
		"timeout": {`package riskpdp
slow := count([x | some x in numbers.range(1, 100000000); x % 7 == 3]) if input.uid == "boom"
decision := {"n": slow} if input.uid == "boom"
decision := {} if input.uid != "boom"`, ErrTimeout},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			files := map[string]string{"p.rego": c.rego}
			e, _ := newEngine(t, mapSource(files), 50*time.Millisecond)
			start := time.Now()
			_, _, err := decide(t, e, strings.Replace(payment, `"uid":"u"`, `"uid":"boom"`, 1))
			if err == nil {
				t.Fatal("evaluation succeeded")
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if took := time.Since(start); took > time.Second {
				t.Fatalf("took %v despite a 50ms budget", took)
			}
		})
	}
}

// TestLoadChecksHaveTheirOwnBudget: the smoke evaluations at load are not
// held to the request budget, so that a policy slower than eval_timeout on
// a busy machine still loads (and its requests time out, as they would).
func TestLoadChecksHaveTheirOwnBudget(t *testing.T) {
	files := map[string]string{"p.rego": `package riskpdp
slow := count([x | some x in numbers.range(1, input.txn.amount * 100); x % 7 == 3])
step_up contains "slow" if slow < 0
`}
	e, errs := newEngine(t, mapSource(files), time.Millisecond)
	for _, err := range errs {
		if err != nil {
			t.Fatalf("refused at load: %v", err)
		}
	}
	if _, _, err := decide(t, e, payment); !errors.Is(err, ErrTimeout) {
		t.Fatalf("a request: %v, want the request budget's timeout", err)
	}
}

func TestDataAPI(t *testing.T) {
	files := map[string]string{"p.rego": `package riskpdp
decision := {"outcome": "allow"}
greet := sprintf("hello %s", [input.name])
cap := data.riskpdp.limits.max
limit_of := {"max": cap}
uses_greet := concat("", [greet, "!"])
`, "riskpdp/limits/data.json": `{"max": 5}`}
	e, _ := newEngine(t, mapSource(files), time.Second)
	ctx := context.Background()
	for _, c := range []struct{ path, body, want string }{
		{"/riskpdp/greet", `{"input":{"name":"ana"}}`, `"hello ana"`},
		{"/riskpdp/limits/max", ``, `5`},
		{"/riskpdp/limits", `{}`, `{"max":5}`},
	} {
		got, defined, err := e.EvalData(ctx, c.path, []byte(c.body), time.Now())
		if err != nil || !defined || string(got) != c.want {
			t.Errorf("%s: %s %v %v", c.path, got, defined, err)
		}
	}
	// Only the rules whose value depends on the input are decision rules:
	// one that names data under another name, directly or through another
	// rule, is data.
	for path, want := range map[string]bool{"riskpdp/greet": true, "riskpdp/decision": false, "riskpdp/cap": false,
		"riskpdp/limit_of": false, "riskpdp/uses_greet": true, "riskpdp/limits": false, "riskpdp": false} {
		if got := e.DecisionRule(path); got != want {
			t.Errorf("DecisionRule(%q) = %v, want %v", path, got, want)
		}
	}
	if _, defined, err := e.EvalData(ctx, "/riskpdp/nothing", nil, time.Now()); err != nil || defined {
		t.Errorf("undefined path: %v %v", defined, err)
	}
	if _, _, err := e.EvalData(ctx, "/riskpdp/greet", []byte(`{"input":{"password":"x"}}`), time.Now()); pdp.AsError(err).Code != pdp.CodeSecretField {
		t.Errorf("secret in data input: %v", err)
	}
	if _, _, err := e.EvalData(ctx, "/riskpdp/greet", []byte(`{"input":`), time.Now()); pdp.AsError(err).Code != pdp.CodeMalformedJSON {
		t.Errorf("malformed data input: %v", err)
	}
}
