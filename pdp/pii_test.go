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

func TestIsResidentID(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want bool
	}{
		{"11010519491231002X", true},  // the GB 11643 example: Beijing, 1949-12-31, check X
		{"110105194912310021", false}, // its check digit changed
		{"440308199901010012", true},
		{"440308199901010018", false}, // check digit wrong
		{"440308199902300011", false}, // 30 February, check digit right
		{"44030820000229001X", true},  // 29 February of a leap year
		{"440308190002290013", false}, // 1900 was not one
		{"990308199901010011", false}, // no province 99
		{"202611220000000001", false}, // a date-prefixed order id
		{"931101199901010014", true},  // 9 + province: foreigners' permanent residence card
		{"44030819990101001", false},  // 17 digits without X
	} {
		d := []byte(tc.s)
		x := false
		if d[len(d)-1] == 'X' {
			d, x = d[:len(d)-1], true
		}
		if got := IsResidentID(digits(string(d)), x); got != tc.want {
			t.Errorf("IsResidentID(%s) = %v, want %v", tc.s, got, tc.want)
		}
	}
}

// TestResidentIDChance checks the documented chance that a random run of
// 18 digits passes: about once in 40 000.
func TestResidentIDChance(t *testing.T) {
	d := make([]byte, 18)
	state := uint64(88172645463325252)
	pass, n := 0, 4_000_000
	for range n {
		for i := range d {
			state ^= state << 13
			state ^= state >> 7
			state ^= state << 17
			d[i] = byte(state % 10)
		}
		if IsResidentID(d, false) {
			pass++
		}
	}
	if rate := float64(n) / float64(max(pass, 1)); rate < 25_000 || rate > 60_000 {
		t.Fatalf("one in %.0f random 18-digit runs passes, documented: about one in 40 000", rate)
	}
}
