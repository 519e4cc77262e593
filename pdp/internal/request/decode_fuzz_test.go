package request

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/open-policy-agent/opa/v1/ast"
	"golang.org/x/text/unicode/norm"

	"github.com/riskpdp/riskpdp/pdp"
)

var fuzzSeeds = []string{
	string(paymentBody),
	`{"stage":"login","uid":"u","device":{"id":"d","new":true,"ip":"2001:db8::1"}}`,
	`{"stage":"order","uid":"u","txn":{"id":"t","amount":0.5e2,"currency":"usd","ship_country":"us"},"context":{"a":[1,{"b":null}]}}`,
	`{"stage":"payment","uid":"u","txn":{"id":"t","amount":-0,"currency":"CNY"}}`,
	`{"stage":"login","uid":"\u0041\ud83d\ude00","context":{"s":"\ud800"}}`,
	`{"stage":"payment","uid":"u","txn":{"id":"t","amount":1,"currency":"CNY"},"context":{"third_party_guidance":true,"remote_assistance":false,"user_statement":"ＡｎｙＤｅｓｋ 客服\ufb01"}}`,
	`{"stage":"login","uid":"u","context":{"third_party_guidance":"true","user_statement":7}}`,
	`[]`, `{}`, `"x"`, `1e999`, `{"a":`, "{\"stage\":\"login\",\"uid\":\"\xc3\x28\"}",
}

// FuzzDecodeRequest: any body either decodes or yields a *pdp.Error; the
// decoder never panics and never accepts invalid JSON.
func FuzzDecodeRequest(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	now := time.Now()
	f.Fuzz(func(t *testing.T, body []byte) {
		in, err := DecodeRequest(body, now, testLimits)
		if err != nil {
			var e *pdp.Error
			if !errors.As(err, &e) || e.Code == "" {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		if !in.Req.Stage.Valid() || in.Req.UID == "" || (in.Req.Stage.NeedsTxn() && (in.Req.Txn.ID == "" || in.Req.Txn.Currency == "")) {
			t.Fatalf("accepted an incomplete request: %+v", in.Req)
		}
		_ = in.Term()
		// The context keys the policy reads have their type; the statement
		// is canonical and bounded.
		for _, k := range []string{"third_party_guidance", "remote_assistance"} {
			if v := in.Lookup(ast.Ref{ast.StringTerm("context"), ast.StringTerm(k)}); v != nil {
				if _, ok := v.Value.(ast.Boolean); !ok {
					t.Fatalf("context.%s = %v", k, v)
				}
			}
		}
		if v := in.Lookup(ast.Ref{ast.StringTerm("context"), ast.StringTerm("user_statement")}); v != nil {
			s, ok := v.Value.(ast.String)
			if !ok || len(s) > MaxStatement || !norm.NFKC.IsNormalString(string(s)) {
				t.Fatalf("context.user_statement = %v", v)
			}
		}
	})
}

// FuzzParserMatchesEncodingJSON: on valid UTF-8, the generic parser accepts
// exactly what encoding/json accepts (apart from the sidecar's own rules:
// depth, duplicates, secrets, card numbers) and builds the same value.
func FuzzParserMatchesEncodingJSON(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p := &parser{buf: data, maxDepth: 64}
		term, perr := p.value()
		if perr == nil {
			perr = p.end()
		}
		if !utf8.Valid(data) {
			return
		}
		valid := json.Valid(data)
		if perr != nil {
			switch perr.Code {
			case pdp.CodeTooDeep, pdp.CodeDuplicateKey, pdp.CodeSecretField, pdp.CodeCardNumber, pdp.CodeIdentityNumber:
				return
			case pdp.CodeInvalidValue: // a number beyond float64's range
				if f, err := strconv.ParseFloat(strings.TrimSpace(string(data)), 64); err == nil && !math.IsInf(f, 0) {
					t.Fatalf("refused %q as out of range", data)
				}
				return
			}
			if valid {
				t.Fatalf("rejected valid JSON %q: %v", data, perr)
			}
			return
		}
		if !valid {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		want, err := ast.InterfaceToValue(exponentsAsFloat64(v))
		if err != nil {
			t.Fatal(err)
		}
		if ast.Compare(term.Value, want) != 0 {
			t.Fatalf("value differs for %q:\n got %v\nwant %v", data, term.Value, want)
		}
	})
}

// FuzzDecodeStrict: small request bodies (events, verifications, operator
// actions) either decode or fail with a *pdp.Error; never a panic.
func FuzzDecodeStrict(f *testing.F) {
	f.Add([]byte(`{"uid":"u","kind":"pin_failed"}`))
	f.Add([]byte(`{"uid":1}`))
	f.Add([]byte(`{"uid":"u","uid":"v"}`))
	f.Add([]byte(`{"password":"x"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var v struct {
			UID  string   `json:"uid"`
			Kind string   `json:"kind"`
			N    float64  `json:"n"`
			L    []string `json:"l"`
		}
		if err := DecodeStrict(b, 8, &v); err != nil {
			var e *pdp.Error
			if !errors.As(err, &e) {
				t.Fatalf("untyped error %v", err)
			}
		}
	})
}

// exponentsAsFloat64 rounds every number literal of v written with an
// exponent to float64, as numberTerm documents ("10000000000000000001E0"
// is 1e19); other literals stay exact.
func exponentsAsFloat64(v any) any {
	switch v := v.(type) {
	case json.Number:
		if strings.ContainsAny(string(v), "eE") {
			f, _ := strconv.ParseFloat(string(v), 64)
			return json.Number(strconv.FormatFloat(f+0, 'g', -1, 64))
		}
	case []any:
		for i := range v {
			v[i] = exponentsAsFloat64(v[i])
		}
	case map[string]any:
		for k := range v {
			v[k] = exponentsAsFloat64(v[k])
		}
	}
	return v
}

// FuzzExactKeysShortcut: exactKeys' shortcut (every key one of the type's
// names as written) answers as the walk of the decoded body does, on
// bodies encoding/json decodes into the type.
func FuzzExactKeysShortcut(f *testing.F) {
	f.Add([]byte(`{"uid":"u","operator":"a","limit":{"currency":"CNY"},"items":[{"currency":"x"}],"by_name":{"K":{"currency":"y"}}}`))
	f.Add([]byte(`{"UID":"u"}`))
	f.Add([]byte(`{"by_name":{"currency":{"currencY":"x"}}}`))
	f.Add([]byte(`{"u\u0069d":"u"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if CheckJSON(b, 8) != nil {
			return // DecodeStrict stops there
		}
		for _, v := range []any{&strictReq{}, &strictCollide{}} {
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			if dec.Decode(v) != nil {
				continue
			}
			ty := reflect.TypeOf(v)
			if got, want := exactKeys(b, ty), walkBody(b, ty); (got == nil) != (want == nil) {
				t.Fatalf("%T %s: shortcut %v, walk %v", v, b, got, want)
			}
		}
	})
}
