package pdp

import "testing"

func digits(s string) []byte {
	b := make([]byte, 0, len(s))
	for _, c := range s {
		b = append(b, byte(c-'0'))
	}
	return b
}

func TestIsCardNumber(t *testing.T) {
	for s, want := range map[string]bool{
		"4111111111111111": true, "5500000000000004": true, "378282246310005": true, "6011111111111117": true,
		"2221000000000009": true, "3530111333300000": true, "6200000000000005": true,
		"4111111111111112": false, // Luhn
		"2026112200000007": false, // date-prefixed id, Luhn-valid but no issuer
		"1234567890123452": false, "8000000000000009": false, "411111111111": false,
		"41111111111111111111": false,
	} {
		if got := IsCardNumber(digits(s)); got != want {
			t.Errorf("IsCardNumber(%s) = %v, want %v", s, got, want)
		}
	}
	if !isLuhn(digits("2026112200000007")) {
		t.Fatal("the date-prefixed case must be Luhn-valid to test the issuer rule")
	}
}

func isLuhn(d []byte) bool {
	sum, double := 0, false
	for i := len(d) - 1; i >= 0; i-- {
		v := int(d[i])
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
