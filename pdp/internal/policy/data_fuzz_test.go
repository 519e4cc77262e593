package policy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/riskpdp/riskpdp/pdp"
)

// FuzzEvalData is OPA's Data API (POST /v1/data/{path}) over the reference
// policy: any path and body either answer, or fail with a *pdp.Error the
// caller can act on (the body's fault: malformed_json, too_deep, ...), or
// with an evaluation error (a built-in refusing the input under strict
// errors: 500, as OPA answers). It never panics, a body it accepts is one
// JSON object (or empty), and a defined result is JSON.
func FuzzEvalData(f *testing.F) {
	stepUp := `{"input":{"stage":"payment","uid":"u","derived":{"money":true,"outflow":true,"vip":false,"ip_foreign":true,"account_age_days":2000,"sensitive_change_hours":-1},"device":{"ip_country":"SG","new":true},"txn":{"id":"t","amount":6800,"currency":"CNY","category":"digital"},"account":{"home_country":"CN"}}}`
	for _, seed := range []struct{ path, body string }{
		{"/riskpdp/step_up", stepUp},
		{"/riskpdp/deny", stepUp},
		{"/riskpdp", stepUp},
		{"/riskpdp/config/thresholds", ``},
		{"", `{}`},
		{"/riskpdp/no_such_rule", `{"input":null}`},
		{"/riskpdp/step_up", `{"input":{"txn":{"amount":"x"}}}`},
		{"/riskpdp/step_up", `{"input":[1,2,{"a":{}}],"other":1}`},
		{"//riskpdp//deny/", `{"input":1e309}`},
		{"/riskpdp/step_up", `{"input":{"a":1},"input":{"b":2}}`},
		{"/riskpdp/step_up", `{"input":{"password":"x"}}`},
		{"/\x00/\xff", `{"input":"\ud800"}`},
		{"/riskpdp", `{"input": [`},
		{"/riskpdp", `[]`},
	} {
		f.Add(seed.path, []byte(seed.body))
	}
	e, _ := newEngine(f, testSource(), time.Second)
	now := time.Now()
	f.Fuzz(func(t *testing.T, path string, body []byte) {
		res, defined, err := e.EvalData(context.Background(), path, body, now)
		if err != nil {
			var pe *pdp.Error
			if errors.As(err, &pe) {
				if pe.Code == "" || pe.Code == pdp.CodeInternal {
					t.Fatalf("error without a caller's code: %v", err)
				}
				return
			}
			if errors.Is(err, ErrTimeout) || errors.Is(err, ErrNoPolicy) {
				t.Fatalf("%q %q: %v", path, body, err)
			}
			return // an evaluation error on this input
		}
		if len(bytes.TrimSpace(body)) > 0 && utf8.Valid(body) && !json.Valid(body) {
			t.Fatalf("accepted a body that is not JSON: %q", body)
		}
		if trimmed := bytes.TrimSpace(body); len(trimmed) > 0 && trimmed[0] != '{' {
			t.Fatalf("accepted a body that is not an object: %q", body)
		}
		if defined && !json.Valid(res) {
			t.Fatalf("result is not JSON: %q", res)
		}
		if !defined && res != nil {
			t.Fatalf("undefined with a result %q", res)
		}
	})
}
