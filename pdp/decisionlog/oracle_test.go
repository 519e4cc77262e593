package decisionlog

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/riskpdp/riskpdp/pdp"
)

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// findCard is the tests' own card detector, written from the rule and not
// from the masker: it decodes the JSON and looks at every key, string and
// integer, rune by rune. It returns the first card number found, or "".
func findCard(t testing.TB, doc []byte) string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("findCard: %v", err)
	}
	return walkCards(v)
}

func walkCards(v any) string {
	switch v := v.(type) {
	case string:
		return cardIn(v)
	case json.Number:
		s := strings.TrimPrefix(string(v), "-")
		if strings.Trim(s, "0123456789") == "" {
			return cardIn(s)
		}
	case []any:
		for _, e := range v {
			if c := walkCards(e); c != "" {
				return c
			}
		}
	case map[string]any:
		for k, e := range v {
			if c := cardIn(k); c != "" {
				return c
			}
			if c := walkCards(e); c != "" {
				return c
			}
		}
	}
	return ""
}

// cardIn brute-forces every window of every run of digit groups. A
// canonical UUID is exempt (package doc).
func cardIn(s string) string {
	if uuidRE.MatchString(s) {
		return ""
	}
	type grp struct{ digits []byte }
	var runs [][]grp
	var run []grp
	var cur []byte
	seps := 0
	endGroup := func() {
		if cur != nil {
			run = append(run, grp{cur})
			cur = nil
		}
	}
	endRun := func() {
		endGroup()
		if len(run) > 0 {
			runs = append(runs, run)
		}
		run = nil
	}
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			if seps > 1 {
				endRun()
			}
			seps = 0
			cur = append(cur, byte(r-'0'))
		case r >= '０' && r <= '９':
			if seps > 1 {
				endRun()
			}
			seps = 0
			cur = append(cur, byte(r-'０'))
		case r == ' ' || r == '-' || r == '\u3000' || r == '－':
			if cur == nil && len(run) == 0 {
				continue
			}
			if cur == nil {
				seps++ // a second separator in a row
				if seps > 1 {
					endRun()
				}
				continue
			}
			endGroup()
			seps = 1
		default:
			endRun()
			seps = 0
		}
	}
	endRun()
	for _, run := range runs {
		for i := range run {
			var d []byte
			for j := i; j < len(run) && len(d) <= 19; j++ {
				d = append(d, run[j].digits...)
				if pdp.IsCardNumber(d) {
					b := make([]byte, len(d))
					for k := range d {
						b[k] = '0' + d[k]
					}
					return string(b)
				}
			}
		}
	}
	return ""
}

func TestOracleFindsCards(t *testing.T) {
	for s, want := range map[string]bool{
		`"4111111111111111"`: true, `"4111 1111 1111 1111"`: true, `"x4111-1111-1111-1111y"`: true,
		`"4111  1111 1111 1111"`: false, `"41111111111111111111111"`: false, `{"4111111111111111":1}`: true,
		`4111111111111111`: true, `"4111111111111112"`: false, `"12 4111111111111111"`: true,
		`"４１１１１１１１１１１１１１１１"`: true, `" -4111111111111111- "`: true,
		`"41111111-1111-1111-4111-111111111111"`: false, `"41111111-1111-1111-4111-11111111111"`: true,
	} {
		if got := findCard(t, []byte(s)) != ""; got != want {
			t.Errorf("findCard(%s) = %v, want %v", s, got, want)
		}
	}
}
