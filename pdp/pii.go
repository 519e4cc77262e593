package pdp

import "slices"

// What the sources forbid collecting, logging or echoing (000 §4.1, 003
// §3.1): payment passwords, SMS codes, card CVV and expiry, full card
// numbers. The request decoder (pdp/engine) refuses them; the decision log
// (pdp/decisionlog) masks whatever still gets through. Both use these
// rules; each scans its own form of the data (decoded strings, raw JSON).

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

// secretWords name a secret as one word of a key (lower case, trailing
// digits dropped: "cvv2" → "cvv").
var secretWords = []string{
	"password", "passwd", "pwd", "passcode", "passphrase",
	"pin", "pincode", "pinblock",
	"cvv", "cvc", "cvn", // not "cid" (Amex), too often a customer id
	"otp", "totp", "smscode",
	"pan", "cardnumber", "cardno", "cardnum",
	"expiry", "expiration", "expdate", "expirydate",
	"securitycode", "verificationcode", "secret",
	"track1", "track2", // magnetic stripe data
}

// secretPairs name a secret as two consecutive words.
var secretPairs = [][2]string{
	{"sms", "code"}, {"otp", "code"}, {"pin", "code"}, {"cvv", "code"},
	{"security", "code"}, {"verification", "code"}, {"verify", "code"},
	{"card", "number"}, {"card", "no"}, {"card", "num"},
	{"exp", "date"}, {"expiry", "date"}, {"expiration", "date"},
	{"exp", "month"}, {"exp", "year"}, {"expiry", "month"}, {"expiry", "year"},
	{"expiration", "month"}, {"expiration", "year"},
	{"card", "exp"}, {"card", "expiration"},
	{"pin", "number"}, {"pin", "block"}, {"auth", "code"}, {"track", "data"},
}

// SecretWords returns the words that name a secret as one word of a key,
// lower case. Each scanner builds its own lookup from it (the decoder over
// strings, the decision log over raw bytes without allocating).
func SecretWords() []string { return slices.Clone(secretWords) }

// SecretWordPairs returns the pairs of consecutive words that name a
// secret together ("sms code", "card number").
func SecretWordPairs() [][2]string { return slices.Clone(secretPairs) }
