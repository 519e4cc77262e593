package jsonw

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func marshal(v any) string {
	var sb strings.Builder
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return strings.TrimSuffix(sb.String(), "\n")
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "quote\" back\\ nl\n tab\t", "\x00\x1f\x7f", "\xff\xfe", "line\u2028para\u2029", "<&>", "日本語"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(AppendString(nil, s)), marshal(s); got != want {
			t.Fatalf("AppendString(%q) = %s, encoding/json %s", s, got, want)
		}
	})
}

func FuzzAppendFloat(f *testing.F) {
	for _, x := range []float64{0, math.Copysign(0, -1), 1, -1.5, 1e-7, 1e21, 123456789.125, math.MaxFloat64, math.SmallestNonzeroFloat64, 1e-6, 999999999999999999999} {
		f.Add(x)
	}
	f.Fuzz(func(t *testing.T, x float64) {
		got, ok := AppendFloat(nil, x)
		if math.IsNaN(x) || math.IsInf(x, 0) {
			if ok || string(got) != "null" {
				t.Fatalf("AppendFloat(%v) = %s, %v", x, got, ok)
			}
			return
		}
		if want := marshal(x); string(got) != want || !ok {
			t.Fatalf("AppendFloat(%v) = %s, encoding/json %s", x, got, want)
		}
	})
}

func FuzzValidNumber(f *testing.F) {
	for _, s := range []string{"0", "-0", "01", "1.", ".5", "1e5", "1E+5", "-1.25e-3", "NaN", "Inf", "0x10", "1_000", "", "-", "1e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := ValidNumber(s), json.Valid([]byte(s)) && strings.TrimLeft(s, "-0123456789.eE+") == "" && s != "" && s[len(s)-1] != ' '; got != want {
			t.Fatalf("ValidNumber(%q) = %v, want %v", s, got, want)
		}
	})
}
