package request

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
)

// appendValue writes what encoding/json writes for the same value (up to
// object key order), for any JSON document.
func FuzzAppendValue(f *testing.F) {
	for _, s := range []string{`null`, `true`, `[1,2.5,-0,1e300,"x"]`, `{"a":{"b":[{"c":"\u2028\u0000\"\\"}]},"z":false}`,
		`{"s":"\xff日本"}`, `12345678901234567890`, `[]`, `{}`, `-1.5e-7`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		var x any
		if json.Unmarshal(doc, &x) != nil {
			return
		}
		v, err := ast.InterfaceToValue(x)
		if err != nil {
			return
		}
		got, err := appendValue(nil, v)
		if err != nil {
			t.Fatalf("appendValue(%s): %v", doc, err)
		}
		var back, want any
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("appendValue(%s) = %s, not JSON: %v", doc, got, err)
		}
		ref, err := ast.JSON(v)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(ref)
		json.Unmarshal(raw, &want)
		if !reflect.DeepEqual(back, want) {
			t.Fatalf("appendValue(%s) = %s, encoding/json %s", doc, got, raw)
		}
	})
}

func TestAppendValueRefuses(t *testing.T) {
	for _, v := range []ast.Value{
		ast.Number("NaN"), ast.Number("0x10"),
		ast.NewObject([2]*ast.Term{ast.IntNumberTerm(1), ast.StringTerm("x")}),
		ast.Var("x"),
	} {
		if out, err := appendValue([]byte("keep"), v); err == nil {
			t.Errorf("appendValue(%v) = %s, want an error", v, out)
		}
	}
}

// BenchmarkAppendEnrichment renders a fully populated enrichment, beside
// the generic path it replaced (object terms, ast.JSON to Go maps, then
// json.Marshal).
func BenchmarkAppendEnrichment(b *testing.B) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	in, err := DecodeRequest(paymentBody, now, testLimits)
	if err != nil {
		b.Fatal(err)
	}
	fullEnrichment(in, now)
	b.Run("direct", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 4096)
		for b.Loop() {
			if buf, err = in.AppendEnrichment(buf[:0]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			pairs := append([][2]*ast.Term{{keyDerived, in.derivedTerm()}}, in.enrichPairs()...)
			v, err := ast.JSON(ast.NewObject(pairs...))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := json.Marshal(v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
