package request

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
)

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
		// Keys are matched exactly, as OPA's Data API does: "inpuT" is another key.
		`{"input":{"stage":"login","uid":"u"},"inpuT":{}}`,
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
		// A map, not a struct: encoding/json matches a struct's field
		// names case-insensitively ("inpuT" would be taken for "input").
		var outer map[string]json.RawMessage
		if err := json.Unmarshal(body, &outer); err != nil {
			t.Fatalf("%q: accepted, but not JSON: %v", body, err)
		}
		direct, err := DecodeRequest(outer["input"], now, testLimits)
		if err != nil {
			t.Fatalf("%q: the input alone is refused: %v", body, err)
		}
		if direct.Req.Stage != in.Req.Stage || direct.Req.UID != in.Req.UID || direct.Term().Value.Compare(in.Term().Value) != 0 {
			t.Fatalf("%q: decoded %v, the input alone %v", body, in.Term(), direct.Term())
		}
	})
}
