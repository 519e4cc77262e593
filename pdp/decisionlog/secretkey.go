package decisionlog

import (
	"bytes"

	"github.com/riskpdp/riskpdp/pdp"
)

// Secret-looking keys.
//
// A key is split into lower-case words at anything not an ASCII letter or
// digit and at camelCase humps ("payPwd" → pay pwd, "SMSCode" → sms code),
// and trailing digits are dropped from each word ("cvv2" → cvv); words of
// digits only are skipped ("pin_2" → pin). The key is
// secret when its last word, or its last two words, name a secret. Only the
// end of the key counts, so "password" and "new_password" are secret and
// "password_reset_at" or "pin_failures_1h" (facts about a secret, which the
// policy uses) are not.

// The words and pairs are the shared vocabulary (pdp.SecretWords), which
// the request decoder (pdp/engine, secrets.go) also uses, matching most of
// them anywhere in a key; here only the end counts because the enrichment,
// which the decoder never sees, has keys such as "pin_1h" (PIN failures in
// the last hour). Words ending in a digit ("track1") cannot match here,
// where trailing digits are dropped; the card scan masks the number such
// data holds.

// secretWords are secret as the last word of a key.
var secretWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range pdp.SecretWords() {
		if !isDigit(w[len(w)-1]) {
			m[w] = true
		}
	}
	return m
}()

// secretPairs are secret as the last two words of a key, written with a
// space between them.
var secretPairs = func() map[string]bool {
	m := map[string]bool{}
	for _, p := range pdp.SecretWordPairs() {
		m[p[0]+" "+p[1]] = true
	}
	return m
}()

// secretEndings are secret at the end of the last word too, for keys
// written without separators ("newpassword", "paypwd", "cardcvv"). Words
// that end in "pin" or "pan" are common English ("spin", "timespan"), so
// those two must be whole words.
var secretEndings = []string{
	"password", "passwd", "passcode", "pwd", "cvv", "cvc", "smscode", "securitycode",
	"cardnumber", "verifycode", "verificationcode",
}

// secretSuffixes are secret at the end of a key in any script: the Chinese
// for password, card number, verification code, security code, expiry.
var secretSuffixes = [][]byte{
	[]byte("密码"), []byte("口令"), []byte("卡号"), []byte("验证码"), []byte("校验码"),
	[]byte("动态码"), []byte("安全码"), []byte("有效期"),
}

// secretKey reports whether a decoded JSON object key looks like it holds a
// secret. It does not allocate.
func secretKey(key []byte) bool {
	if n := len(key); n > 0 && key[n-1] >= 0x80 {
		for _, s := range secretSuffixes {
			if bytes.HasSuffix(key, s) {
				return true
			}
		}
	}
	if !mayEndSecret(key) {
		return false
	}
	var buf [2*maxWord + 1]byte
	last, pair := lastWords(key, &buf)
	if len(last) == 0 {
		return false
	}
	if secretWords[string(last)] || (len(pair) > 0 && secretPairs[string(pair)]) {
		return true
	}
	for _, e := range secretEndings {
		if bytes.HasSuffix(last, []byte(e)) {
			return true
		}
	}
	return false
}

const maxWord = 24 // longer words never match

// secretTails has a bit for each pair of lower-case letters that ends a
// word of the lists above: a key whose last two letters (digits and
// separators at the end skipped) are not among them is not secret. Most
// keys stop at this test.
var secretTails = func() (t [26*26/64 + 1]uint64) {
	add := func(w string) {
		a, b := w[len(w)-2]-'a', w[len(w)-1]-'a'
		i := int(a)*26 + int(b)
		t[i/64] |= 1 << (i % 64)
	}
	for w := range secretWords {
		add(w)
	}
	for _, w := range secretEndings {
		add(w)
	}
	for p := range secretPairs {
		add(p)
	}
	return t
}()

// mayEndSecret is the quick test of secretTails; keys ending in a non-ASCII
// byte always pass it (secretSuffixes).
func mayEndSecret(key []byte) bool {
	i := len(key) - 1
	for i >= 0 && !isLower(key[i]) && !isUpper(key[i]) {
		if key[i] >= 0x80 {
			return true
		}
		i--
	}
	if i < 1 {
		return false
	}
	a, b := key[i-1]|0x20, key[i]|0x20 // lower case; a non-letter a fails below
	if a < 'a' || a > 'z' {
		return false
	}
	j := int(a-'a')*26 + int(b-'a')
	return secretTails[j/64]&(1<<(j%64)) != 0
}

// lastWords returns the last word of key and the last two words joined by a
// space, lower-cased, trailing digits dropped; either is empty when there is
// no such word or a word is longer than maxWord. Both alias buf.
func lastWords(key []byte, buf *[2*maxWord + 1]byte) (last, pair []byte) {
	var words [2][]byte
	end := len(key)
	for n := 0; n < 2; n++ {
		for end > 0 && !isAlnum(key[end-1]) { // skip separators
			end--
		}
		if end == 0 {
			break
		}
		start := end - 1
		for start > 0 && isAlnum(key[start-1]) && !hump(key, start) {
			start--
		}
		w := key[start:end]
		end = start
		if allDigits(w) { // "password_2": the number is not a word
			n--
			continue
		}
		words[n] = w
	}
	w0, ok0 := lower(buf[maxWord+1:maxWord+1], words[0])
	if !ok0 || len(w0) == 0 {
		return nil, nil
	}
	w1, ok1 := lower(buf[:0], words[1])
	if !ok1 || len(w1) == 0 {
		return w0, nil
	}
	// w1 ends at most at buf[maxWord]; put the space after it and move w0
	// up against it.
	n := len(w1)
	buf[n] = ' '
	copy(buf[n+1:], w0)
	return buf[n+1 : n+1+len(w0)], buf[:n+1+len(w0)]
}

// hump reports whether a camelCase word starts at key[i] (0 < i < len):
// after a lower case letter or digit, an upper case one ("pay|Pwd"), or the
// last of a run of upper case letters before a lower case one ("SMS|Code").
func hump(key []byte, i int) bool {
	a, b := key[i-1], key[i]
	if isUpper(b) && (isLower(a) || isDigit(a)) {
		return true
	}
	return isUpper(a) && isUpper(b) && i+1 < len(key) && isLower(key[i+1])
}

// lower appends w to dst lower-cased without its trailing digits; false if
// it is longer than maxWord.
func lower(dst, w []byte) ([]byte, bool) {
	for len(w) > 0 && isDigit(w[len(w)-1]) {
		w = w[:len(w)-1]
	}
	if len(w) > maxWord {
		return nil, false
	}
	for _, c := range w {
		if isUpper(c) {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst, true
}

func allDigits(w []byte) bool {
	for _, c := range w {
		if !isDigit(c) {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isLower(c byte) bool { return c >= 'a' && c <= 'z' }
func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }
func isAlnum(c byte) bool { return isDigit(c) || isLower(c) || isUpper(c) }
