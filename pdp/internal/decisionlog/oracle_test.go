package decisionlog

import (
	"bytes"
	"encoding/json"
	"math/big"
	"strconv"
	"strings"
	"testing"

	"github.com/riskpdp/riskpdp/pdp/internal/pii/piiref"
)

// findCard is the tests' own detector, written from the rules and not
// from the masker (package piiref): every window of every run of digit
// groups of every key, string and number, and every window of
// neighbouring pieces of every object and array. It returns the first
// card or resident identity number found, or "".
func findCard(t testing.TB, doc []byte) string {
	t.Helper()
	if !json.Valid(doc) { // numbers out of float64's range are valid JSON
		t.Fatalf("findCard: invalid JSON %q", doc)
	}
	if c := walkCards(doc); c != "" {
		return c
	}
	n, err := piiref.Parse(doc)
	if err != nil {
		t.Fatalf("findCard: %v", err)
	}
	return piiref.Split(n)
}

// walkCards looks at every key, string and number token of doc.
func walkCards(doc []byte) string {
	var walk func(v any) string
	walk = func(v any) string {
		switch v := v.(type) {
		case string:
			return piiref.Number(v, true)
		case json.Number:
			// Only an integer can hold a card (maskNumber's rule): the
			// digits around a decimal point are an amount.
			if !isInteger(string(v)) {
				return ""
			}
			return piiref.Number(string(v), true)
		case []any:
			for _, e := range v {
				if c := walk(e); c != "" {
					return c
				}
			}
		case map[string]any:
			for k, e := range v {
				if c := piiref.Number(k, true); c != "" {
					return c
				}
				if c := walk(e); c != "" {
					return c
				}
			}
		}
		return ""
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	if dec.Decode(&v) != nil {
		return ""
	}
	return walk(v)
}

func TestOracleFindsCards(t *testing.T) {
	for s, want := range map[string]bool{
		`"4111111111111111"`: true, `"4111 1111 1111 1111"`: true, `"x4111-1111-1111-1111y"`: true,
		`"4111  1111 1111 1111"`: true, `"41111111111111111111111"`: false, `{"4111111111111111":1}`: true,
		`4111111111111111`: true, `"4111111111111112"`: false, `"12 4111111111111111"`: true,
		`"４１１１１１１１１１１１１１１１"`: true, `" -4111111111111111- "`: true,
		`"41111111-1111-1111-4111-111111111111"`: false, `"41111111-1111-1111-4111-11111111111"`: true,
		`"4111.1111-1111/1111"`: true, `"41.11-11/11.11.11.11.11"`: false, `"0004111111111111111"`: true,
		`"٤١١١١١١١١١١١١١١١"`: true, `"11010519491231002X"`: true, `"11010519491231002Xa"`: false,
		`["4111","1111","1111","1111"]`: true, `["4111","1111",true,"1111","1111"]`: false,
		`{"a":"4111","b":{"c":"1111"},"d":"1111","e":"1111"}`: false, `[4111,1111,1111,1111]`: true,
		`"31.230416,121.473701"`: false,
	} {
		if got := findCard(t, []byte(s)) != ""; got != want {
			t.Errorf("findCard(%s) = %v, want %v", s, got, want)
		}
	}
}

// isInteger reports whether the JSON number n is an integer, exactly (an
// exponent beyond ±400 counts as not: no card is written so).
func isInteger(n string) bool {
	if i := strings.IndexAny(n, "eE"); i >= 0 {
		e, err := strconv.Atoi(strings.TrimPrefix(n[i+1:], "+"))
		if err != nil || e > 400 || e < -400 {
			return false
		}
	}
	r, ok := new(big.Rat).SetString(n)
	return ok && r.IsInt()
}
