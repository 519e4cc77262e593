package engine

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

// FuzzDecodeDataRequest: a Data API body either decodes to a decide
// request exactly as /v1/decide would decode its "input" (same typed
// request, same policy input), or fails with a *pdp.Error the caller can
// act on whose field, if any, lies under "input" or is a top-level key;
// it never panics.
func FuzzDecodeDataRequest(f *testing.F) {
	for _, seed := range []string{
		`{"input":{"stage":"payment","uid":"u","txn":{"id":"t","amount":6800,"currency":"CNY"}}}`,
		`{"input":{"stage":"login","uid":"u","derived":{"vip":true}}}`,
		`{"input":{"stage":"login","uid":"u"},"other":[1,2]}`,
		`{"input":{"stage":"login","uid":"u","context":{"pin":"1234"}}}`,
		`{"password":"x"}`, `{}`, ``, `[]`, `{"input":1}`, `{"input":{"stage":"login","uid":"u"},"input":{}}`,
	} {
		f.Add([]byte(seed))
	}
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte) {
		in, err := DecodeDataRequest(body, now, testLimits)
		if err != nil {
			var pe *pdp.Error
			if !errors.As(err, &pe) || pe.Code == "" || pe.Code == pdp.CodeInternal {
				t.Fatalf("%q: not a caller's error: %v", body, err)
			}
			return
		}
		if in == nil {
			return
		}
		var outer struct {
			Input json.RawMessage `json:"input"`
		}
		if err := json.Unmarshal(body, &outer); err != nil {
			t.Fatalf("%q: accepted, but not JSON: %v", body, err)
		}
		direct, err := DecodeRequest(outer.Input, now, testLimits)
		if err != nil {
			t.Fatalf("%q: the input alone is refused: %v", body, err)
		}
		if direct.Req.Stage != in.Req.Stage || direct.Req.UID != in.Req.UID || direct.term().Value.Compare(in.term().Value) != 0 {
			t.Fatalf("%q: decoded %v, the input alone %v", body, in.term(), direct.term())
		}
	})
}
