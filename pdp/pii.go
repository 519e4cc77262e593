package pdp

// What the sources forbid collecting, logging or echoing (000 §4.1, 003
// §3.1): payment passwords, SMS codes, card CVV and expiry, full card
// numbers; and, as sensitive personal information under PIPL, resident
// identity numbers. The request decoder (pdp/internal/request) refuses them; the
// decision log (pdp/internal/decisionlog) masks whatever still gets through.
//
// The rules for numbers are here, in the standard library only. The names
// of secrets (the vocabulary, in English, Chinese and pinyin) and the
// scanners that both the decoder and the log use are in pdp/internal/pii:
// folding a key before matching it needs Unicode normalization
// (golang.org/x/text), which this package may not import.

// IsCardNumber reports whether digits (values 0–9, not ASCII) read as a
// payment card number: 13 to 19 digits, an issuer prefix (3–6, or the
// 2-series 2221–2720; no card starts with 1, 7, 8, 9, 0 or 20), and a valid
// Luhn check. Date-prefixed identifiers ("2026112200…") are not cards.
func IsCardNumber(digits []byte) bool {
	n := len(digits)
	if n < 13 || n > 19 {
		return false
	}
	switch d := digits[0]; {
	case d >= 3 && d <= 6:
	case d == 2:
		p := int(digits[0])*1000 + int(digits[1])*100 + int(digits[2])*10 + int(digits[3])
		if p < 2221 || p > 2720 {
			return false
		}
	default:
		return false
	}
	sum, double := 0, false
	for i := n - 1; i >= 0; i-- {
		v := int(digits[i])
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

// residentWeights are the GB 11643-1999 weights of the first 17 digits.
var residentWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// provinces are the first two digits of a mainland resident identity
// number (GB/T 2260 provinces, 71 Taiwan, 81 Hong Kong, 82 Macao, 83
// Taiwan residents' permits).
var provinces = func() (p [100]bool) {
	for _, r := range [][2]int{{11, 15}, {21, 23}, {31, 37}, {41, 46}, {50, 54}, {61, 65}, {71, 71}, {81, 83}} {
		for i := r[0]; i <= r[1]; i++ {
			p[i] = true
		}
	}
	return p
}()

// IsResidentID reports whether digits (values 0–9) read as a Chinese
// resident identity number (GB 11643-1999): 18 digits, or 17 digits with x
// set when the 18th character is the check character X. The first two
// digits name a province (or 9 and a province: the foreigners' permanent
// residence card of 2023), digits 7 to 14 a valid birth date from 1900 to
// 2099, and the last one is the ISO 7064 MOD 11-2 check. A random run of
// 18 digits passes about once in 40 000; date-prefixed order ids
// ("2026…") never do.
func IsResidentID(digits []byte, x bool) bool {
	if x && len(digits) != 17 || !x && len(digits) != 18 {
		return false
	}
	region := int(digits[0])*10 + int(digits[1])
	if !provinces[region] && !(digits[0] == 9 && provinces[int(digits[1])*10+int(digits[2])]) {
		return false
	}
	num := func(i, n int) int {
		v := 0
		for _, d := range digits[i : i+n] {
			v = v*10 + int(d)
		}
		return v
	}
	year, month, day := num(6, 4), num(10, 2), num(12, 2)
	if year < 1900 || year > 2099 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month) {
		return false
	}
	sum := 0
	for i, w := range residentWeights {
		sum += int(digits[i]) * w
	}
	check := (12 - sum%11) % 11 // the value of the check character; 10 is X
	if x {
		return check == 10
	}
	return check == int(digits[17])
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
