package engine

import "strings"

// Secret and card-data detection. The sources (000 §4.1, 003 §3.1) forbid
// collecting, logging or echoing payment passwords, SMS codes, CVV/expiry or
// full card numbers, so the decoder refuses them before anything else sees
// the request.

// secretTokens are key words that mark a field as secret wherever they
// appear in the key (split on '_', '-', '.', spaces and camelCase).
var secretTokens = map[string]bool{
	"password": true, "passwd": true, "pwd": true, "passcode": true, "passphrase": true,
	"cvv": true, "cvv2": true, "cvc": true, "cvc2": true, "cvn": true, "cid2": true,
	"otp": true, "totp": true, "pan": true, "cardnumber": true, "cardno": true,
	"expiry": true, "expiration": true, "smscode": true, "pincode": true,
}

// secretPairs are two adjacent tokens that together mark a secret.
var secretPairs = map[[2]string]bool{
	{"sms", "code"}: true, {"verification", "code"}: true, {"verify", "code"}: true,
	{"security", "code"}: true, {"auth", "code"}: true, {"card", "number"}: true,
	{"card", "no"}: true, {"card", "num"}: true, {"exp", "date"}: true,
	{"exp", "month"}: true, {"exp", "year"}: true, {"pin", "code"}: true,
	{"pin", "block"}: true, {"pin", "number"}: true, {"track", "data"}: true,
	{"track1", ""}: true, {"track2", ""}: true,
}

// isSecretKey reports whether a JSON key names a secret. "pin" counts only
// as the last word ("pin", "pay_pin"), so "pin_failures_1h" stays usable.
func isSecretKey(key string) bool {
	if len(key) > 64 || !mayBeSecret(key) {
		return false
	}
	toks := splitKey(key)
	for i, t := range toks {
		if secretTokens[t] {
			return true
		}
		next := ""
		if i+1 < len(toks) {
			next = toks[i+1]
		}
		if secretPairs[[2]string{t, next}] {
			return true
		}
		if t == "pin" && i == len(toks)-1 {
			return true
		}
	}
	return false
}

// mayBeSecret is a cheap pre-filter: every secret word contains one of
// these letters pairs, so most keys never reach splitKey.
func mayBeSecret(key string) bool {
	k := strings.ToLower(key)
	for _, s := range [...]string{"pas", "pw", "cv", "otp", "pan", "card", "exp", "code", "pin", "track", "cid"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// splitKey lowercases key and splits it into words at separators and
// lower→upper camelCase boundaries.
func splitKey(key string) []string {
	var toks []string
	start := 0
	flush := func(end int) {
		if end > start {
			toks = append(toks, strings.ToLower(key[start:end]))
		}
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c == '_' || c == '-' || c == '.' || c == ' ':
			flush(i)
			start = i + 1
		case c >= 'A' && c <= 'Z' && i > start && key[i-1] >= 'a' && key[i-1] <= 'z':
			flush(i)
			start = i
		}
	}
	flush(len(key))
	return toks
}

// containsCardNumber reports whether s contains a run of 13 to 19 digits
// (optionally grouped by single spaces or dashes) that starts like a payment
// card (2–6) and passes the Luhn check.
func containsCardNumber(s string) bool {
	if len(s) < 13 {
		return false
	}
	var digits [19]byte
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' || (i > 0 && isDigit(s[i-1])) {
			continue
		}
		// A run starts at i: collect digits across single separators.
		n := 0
		for j := i; j < len(s) && n <= 19; j++ {
			c := s[j]
			if isDigit(c) {
				if n < len(digits) {
					digits[n] = c
				}
				n++
				continue
			}
			if (c == ' ' || c == '-') && j+1 < len(s) && isDigit(s[j+1]) && j > i {
				continue
			}
			break
		}
		if n >= 13 && n <= 19 && digits[0] >= '2' && digits[0] <= '6' && luhn(digits[:n]) {
			return true
		}
	}
	return false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func luhn(d []byte) bool {
	sum := 0
	double := false
	for i := len(d) - 1; i >= 0; i-- {
		v := int(d[i] - '0')
		if double {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		double = !double
	}
	return sum%10 == 0
}
