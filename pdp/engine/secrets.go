package engine

import (
	"strings"

	"github.com/riskpdp/riskpdp/pdp"
)

// Secret and card-data detection. The sources (000 §4.1, 003 §3.1) forbid
// collecting, logging or echoing payment passwords, SMS codes, CVV/expiry or
// full card numbers, so the decoder refuses them before anything else sees
// the request.

// secretWords and secretPairs are the shared vocabulary (pdp.SecretWords).
var (
	secretWords = func() map[string]bool {
		m := map[string]bool{}
		for _, w := range pdp.SecretWords() {
			m[w] = true
		}
		return m
	}()
	secretPairs = func() map[[2]string]bool {
		m := map[[2]string]bool{}
		for _, p := range pdp.SecretWordPairs() {
			m[p] = true
		}
		return m
	}()
)

// isSecretKey reports whether a JSON key names a secret. "pin" counts only
// as the last word ("pin", "pay_pin"), so "pin_failures_1h" stays usable.
func isSecretKey(key string) bool {
	if len(key) > 64 || !mayBeSecret(key) {
		return false
	}
	toks := splitKey(key)
	for i, raw := range toks {
		t := strings.TrimRight(raw, "0123456789") // cvv2 → cvv
		if i+1 < len(toks) && secretPairs[[2]string{t, strings.TrimRight(toks[i+1], "0123456789")}] {
			return true
		}
		switch {
		case t == "pin" || t == "pan" || t == "secret":
			// Only as the last word: "pin_failures_1h" is a fact about a
			// PIN, not one.
			if i == len(toks)-1 {
				return true
			}
		case secretWords[t] || secretWords[raw]:
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
// (optionally grouped by single spaces or dashes) that reads as a payment
// card number (pdp.IsCardNumber: issuer prefix and Luhn check).
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
					digits[n] = c - '0'
				}
				n++
				continue
			}
			if (c == ' ' || c == '-') && j+1 < len(s) && isDigit(s[j+1]) && j > i {
				continue
			}
			break
		}
		if n >= 13 && n <= 19 && pdp.IsCardNumber(digits[:n]) {
			return true
		}
	}
	return false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
