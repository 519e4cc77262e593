package pii_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/decisionlog"
	"github.com/riskpdp/riskpdp/pdp/internal/pii/piiref"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
)

// FuzzCardSpellings holds the request decoder and the decision log's
// masker to the reference rules (package piiref):
//
//  1. a card spelled from the fuzzer's plan (issuer prefix, length, digits
//     with the Luhn digit fixed; groups, separators, digit scripts, leading
//     zeros, a zero-width space, words around it): the decoder refuses it
//     when it is one group or its separators are all of one kind other
//     than list punctuation; the log holds it in clear in no case the
//     rules cover (one group, one kind of separator, or groups of three
//     digits or more), and nothing the reference would find in any case;
//  2. any text as a value: the decoder refuses it (card_number or
//     identity_number) exactly when the reference, with the decoder's
//     rules, finds a number in it; the masked log holds none by the
//     reference with the log's rules; masking twice changes nothing;
//  3. any text as a key: the decoder refuses it as secret_field exactly
//     when the log masks its value.
func FuzzCardSpellings(f *testing.F) {
	f.Add([]byte{0, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 3, 0, 0, 4, 4, 4, 4}, "pay with 4111.1111.1111.1111")
	f.Add([]byte{5, 6, 9, 9, 9, 1, 1, 2, 3, 3, 1, 6, 2, 8}, "验证码是123456, 11010519491231002X")
	f.Add([]byte{9, 2, 0, 0, 1, 7, 7, 7, 7, 7, 7, 2, 2, 2, 1, 1, 5}, "٤١١١،١١١١ password is hunter2")
	f.Add([]byte{}, "c_v_v")
	f.Fuzz(func(t *testing.T, plan []byte, text string) {
		spelled, card, refuseShaped, maskShaped := spellCard(plan)
		body := loginWith(`{"note":` + js(spelled) + `}`)
		err := decode(body)
		if err != nil && !isNumberErr(err) {
			t.Fatalf("%q: decoder: %v", spelled, err)
		}
		if refuseShaped && err == nil {
			t.Fatalf("%q (card %s, one kind of separator): the decoder accepted it", spelled, card)
		}
		out := mask(t, body)
		if maskShaped && strings.Contains(piiref.Digits(string(out)), card) {
			t.Fatalf("%q: card %s in clear in %s", spelled, card, out)
		}
		if c := leftNumber(t, out); c != "" {
			t.Fatalf("%q: %s left in %s", spelled, c, out)
		}

		// 2. The text as a value.
		v := roundTrip(text)
		body = loginWith(`{"note":` + js(v) + `}`)
		err = decode(body)
		ref := piiref.Number(v, false)
		switch {
		case ref != "" && !isNumberErr(err):
			t.Fatalf("%q holds %s by the decoder's rules, but the decoder answered %v", v, ref, err)
		case ref == "" && err != nil:
			t.Fatalf("%q holds no number by the decoder's rules, but the decoder answered %v", v, err)
		}
		out = mask(t, body)
		if c := leftNumber(t, out); c != "" {
			t.Fatalf("%q: %s left in %s", v, c, out)
		}
		if again := decisionlog.MaskJSON(nil, out); string(again) != string(out) {
			t.Fatalf("masking %s again gave %s", out, again)
		}

		// 3. The text as a key.
		body = loginWith(`{` + js(v) + `:"` + marker + `"}`)
		err = decode(body)
		var pe *pdp.Error
		secretField := errors.As(err, &pe) && pe.Code == pdp.CodeSecretField
		masked := !strings.Contains(string(mask(t, body)), marker)
		if secretField != masked && (err == nil || secretField) {
			t.Fatalf("key %q: the decoder answered %v, the log masked the value: %v", v, err, masked)
		}
	})
}

func decode(body string) error {
	_, err := request.DecodeRequest([]byte(body), time.Now(), limits)
	return err
}

func isNumberErr(err error) bool {
	var pe *pdp.Error
	return errors.As(err, &pe) && (pe.Code == pdp.CodeCardNumber || pe.Code == pdp.CodeIdentityNumber)
}

func mask(t *testing.T, body string) []byte {
	t.Helper()
	out := decisionlog.MaskJSON(nil, []byte(body))
	if !json.Valid(out) {
		t.Fatalf("masked %s is not JSON: %s", body, out)
	}
	return out
}

// roundTrip returns s as JSON carries it (invalid UTF-8 replaced).
func roundTrip(s string) string {
	var v string
	if err := json.Unmarshal([]byte(js(s)), &v); err != nil {
		panic(err)
	}
	return v
}

// planReader hands out the fuzzer's plan a byte at a time (0 once used up).
type planReader []byte

func (p *planReader) next(n int) int {
	if len(*p) == 0 || n <= 0 {
		return 0
	}
	b := (*p)[0]
	*p = (*p)[1:]
	return int(b) % n
}

var (
	issuers    = []string{"4", "51", "55", "2221", "2720", "34", "37", "6011", "62", "35"}
	separators = []string{" ", "-", ".", "/", "_", "\t", "\u00a0", "\u3000", "－", "  ", " - ", "·", "\u2009", "*",
		"|", "~", "#", "\n", ",", ";", ":", "，", "、"}
	zeros = []rune{'0', '０', '٠', '۰', '०', '০', '๐', '𝟎', '߀', '᠐'}
	words = []string{"", "pay with ", "card ", "卡号", "x"}
)

// spellCard builds a card number and a spelling of it from plan: the
// spelling, the card's digits, whether the decoder's rules cover it (one
// group, or separators all of one kind other than list punctuation) and
// whether the log's do (one group, separators of one kind, or groups of
// three digits or more).
func spellCard(plan []byte) (spelled, card string, refuseShaped, maskShaped bool) {
	p := planReader(plan)
	prefix := issuers[p.next(len(issuers))]
	n := 13 + p.next(7)
	d := []byte(prefix)
	for len(d) < n-1 {
		d = append(d, byte('0'+p.next(10)))
	}
	d = append(d, '0')
	for c := byte('0'); c <= '9'; c++ {
		d[n-1] = c
		if luhn(d) {
			break
		}
	}
	card = string(d)
	lead := strings.Repeat("0", p.next(3))
	digits := lead + card
	same := p.next(2) == 0
	first := separators[p.next(len(separators))]
	mixed := p.next(3) == 0
	zero := zeros[p.next(len(zeros))]
	zw := p.next(4) == 0
	var b strings.Builder
	b.WriteString(words[p.next(len(words))])
	oneKind, list, wide, groups := true, false, true, 0
	for i := 0; i < len(digits); {
		size := 1 + p.next(6)
		if i > 0 {
			s := first
			if !same {
				s = separators[p.next(len(separators))]
			}
			oneKind = oneKind && s == first
			list = list || strings.ContainsAny(s, ",;:，、")
			b.WriteString(s)
		}
		wide = wide && min(size, len(digits)-i) >= 3
		groups++
		for j := 0; j < size && i < len(digits); j, i = j+1, i+1 {
			z := zero
			if mixed {
				z = zeros[p.next(len(zeros))]
			}
			b.WriteRune(z + rune(digits[i]-'0'))
			if zw && j == 0 {
				b.WriteString("\u200b")
			}
		}
	}
	b.WriteString([]string{"", " now", "。", "!"}[p.next(4)])
	return b.String(), card, oneKind && !list || groups == 1, oneKind || wide || groups == 1
}

func luhn(d []byte) bool {
	sum, double := 0, false
	for i := len(d) - 1; i >= 0; i-- {
		v := int(d[i] - '0')
		if double {
			if v *= 2; v > 9 {
				v -= 9
			}
		}
		sum += v
		double = !double
	}
	return sum%10 == 0
}
