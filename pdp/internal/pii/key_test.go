package pii

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/riskpdp/riskpdp/pdp/internal/benchutil"
	"github.com/riskpdp/riskpdp/pdp/internal/pii/piiref"
)

// The end-to-end table of spellings (decoder and log) is in
// spellings_test.go; these tests look at the parts.

func TestSecretKey(t *testing.T) {
	for key, want := range map[string]bool{
		// names of secrets, however spelled
		"password": true, "PASSWORD": true, "new_password": true, "paymentPassword": true, "pay-pwd": true,
		"c_v_v": true, "C.V.V": true, "ccv": true, "ｃｖｖ": true, "сvv": true, "cv\u200bv": true,
		strings.Repeat("x", 70) + "_cvv": true, "pinValue": true, "PINVALUE": true, "paypin": true,
		"card_expire": true, "valid_thru": true, "支付密码": true, "验证码": true, "zhifu_mima": true,
		"id_number": true, "IDNumber": true, "p4ssw0rd": true, "p@ssword": true, "pa$$word": true,
		"PINCode": true, "SMSCode": true, "userPIN": true, "cardNo": true, "track2": true, "CVV2": true,
		"pin-1-2": true, "password_2": true, "client_secret": true, "银行卡号": true, "短信验证码": true,
		"ssn": true, "mima": true, "shenfenzheng": true, "sfz": true, "has_pin": true,
		strings.Repeat("password", 10): true, "pass word": true, "Pass-Word": true, "𝐩𝐚𝐬𝐬𝐰𝐨𝐫𝐝": true,
		"paßword": true, "ᴘɪɴ": true, "ⓟⓘⓝ": true, "pin\u00ad": true, "pínValue": true,
		// facts about secrets, and words that only look like them
		"pin_failures_1h": false, "password_reset_at": false, "spin": false, "timespan": false,
		"expected": false, "opinion": false, "cvv_checked": false, "pin_1h": false, "pin_24h": false,
		"card_bin": false, "channel": false, "session_age_s": false, "user_statement": false,
		"密码重置时间": false, "pinned": false, "japan": false, "span_id": false, "pan_entry_mode": false,
		"passwordless": false, "emi_max_amount": false, "acc_verified": false, "otp_sent": false,
		"footprint": false, "hotpot": false, "card_not_present": false, "cardnotpresent": false,
		"pin_entry_mode": false, "secret_question": false, "card_number_last4": false, "ssn_last4": false,
		"pinless_debit": false, "idcard_type": false, "卡号后四位": false, "cvv_result_code": false,
		"reason_code": false, "zip_code": false, "": false, "_": false, "123": false, "exp": false,
		"expires_at": false, "password_last_changed": false, "支付密码错误次数": false,
	} {
		if got := SecretKey(key); got != want {
			t.Errorf("SecretKey(%q) = %v, want %v", key, got, want)
		}
	}
}

// TestFold checks the folded form and its words.
func TestFold(t *testing.T) {
	for in, want := range map[string]string{
		"pinValue": "pin|value", "SMSCode": "sms|code", "ｃｖｖ": "cvv", "сvv": "cvv", "cv\u200bv": "cvv",
		"paßword": "password", "𝐩𝐢𝐧": "pin", "٤١": "41", "支付_密码": "支付|密码", "cvv2": "cvv|2",
		"pass-word": "pass|word", "Pass Word": "pass|word", "card_no": "card|no", "pín": "pin",
		"3DSecure": "3|d|secure", "ⓟⓘⓝ": "pin", "⒫⒤⒩": "p|i|n", "ǅ": "dz", "ΡΙΝ": "pin",
	} {
		var f folded
		f.reset(false)
		f.fold(in)
		var b strings.Builder
		for i := 0; i < len(f.b); i++ {
			if i > 0 && f.isBound(i) {
				b.WriteByte('|')
			}
			b.WriteByte(f.b[i])
		}
		if got := b.String(); got != want {
			t.Errorf("fold(%q) = %q, want %q", in, got, want)
		}
	}
}

// fullSecretKey is SecretKey without its quickClean shortcut.
func fullSecretKey(key string) bool {
	var f, alt folded
	f.reset(false)
	f.fold(key)
	if f.secretKey() {
		return true
	}
	if !f.hasLeet() {
		return false
	}
	alt.reset(false)
	f.leetForm(&alt)
	return alt.secretKey()
}

// TestQuickCleanIsSound: a key quickClean lets go is one the full match
// finds no secret in, for every term glued in every way.
func TestQuickCleanIsSound(t *testing.T) {
	var keys []string
	for _, list := range []map[valueKind][]string{strongTerms, wordTerms} {
		for _, ts := range list {
			for _, s := range ts {
				for _, k := range []string{s, "x" + s, s + "x", "pay" + s, s + "value", "a_" + s + "_b", strings.ToUpper(s)} {
					keys = append(keys, k, k[1:], k[:len(k)-1])
				}
			}
		}
	}
	for _, k := range keys {
		if quickClean(k) && fullSecretKey(k) {
			t.Errorf("quickClean(%q) lets a secret name through", k)
		}
	}
}

func TestSecretKeyAllocs(t *testing.T) {
	if raceOn {
		t.Skip("the race detector makes sync.Pool drop what it is given")
	}
	for _, k := range []string{"channel", "session_age_s", "pin_failures_1h", "card_bin", "password_reset_at", "支付方式", "pinValue"} {
		SecretKey(k) // warm the pool
		if n := testing.AllocsPerRun(100, func() { SecretKey(k) }); n != 0 {
			t.Errorf("SecretKey(%q) allocates %v times", k, n)
		}
	}
}

func BenchmarkSecretKey(b *testing.B) {
	for _, k := range []string{"session_age_s", "pin_failures_1h", "pay_password", "支付密码"} {
		b.Run(k, func(b *testing.B) {
			b.ReportAllocs()
			benchutil.CPUTime(b)
			for b.Loop() {
				SecretKey(k)
			}
		})
	}
}

func homoglyph(r rune) (byte, bool) {
	c, ok := homoglyphs[r]
	return c, ok
}

// FuzzSecretKey holds the key rules to the reference (piiref): the folded
// key is the library's NFKD normalization of it with marks and invisible
// characters dropped, look-alikes read as Latin, lower case, separators
// removed; a key that normalizes to exactly a name of a secret is secret;
// one whose normalized form holds no name (and no digit, '@' or '$' that
// could stand for a letter) is not; quickClean never lets a secret name
// through; and fullwidth, zero-width and look-alike spellings of a key
// are judged as the key is.
func FuzzSecretKey(f *testing.F) {
	for _, s := range []string{"password", "c_v_v", "pin_failures_1h", "pinValue", "支付密码", "сvv", "p4ssw0rd",
		"card_bin", "cv\u200bv", "valid_thru", "x_pin_1h_y", "SMSCode", "密码重置时间", "ﬁ", "가나", "ǅ"} {
		f.Add(s)
	}
	terms := map[string]bool{}
	var all []string
	for _, list := range []map[valueKind][]string{strongTerms, wordTerms, hanTerms} {
		for _, ts := range list {
			for _, s := range ts {
				terms[s] = true
				all = append(all, s)
			}
		}
	}
	f.Fuzz(func(t *testing.T, key string) {
		if !utf8.ValidString(key) || strings.ContainsFunc(key, isHangulSyllable) {
			return // Hangul syllables stay whole in fold, not in NFKD (no term is Korean)
		}
		got := SecretKey(key)
		var fk folded
		fk.reset(false)
		fk.fold(key)
		squash := piiref.Squash(key, homoglyph)
		if string(fk.b) != squash {
			t.Fatalf("fold(%q) = %q, the reference normalizes to %q", key, fk.b, squash)
		}
		if quickClean(key) && fullSecretKey(key) {
			t.Fatalf("quickClean(%q) lets a secret name through", key)
		}
		if terms[squash] && !got {
			t.Fatalf("SecretKey(%q) = false, but it spells %q", key, squash)
		}
		if got && !strings.ContainsAny(key, "0123456789@$") && !strings.ContainsFunc(key, isDigitRune) {
			named := false
			for _, s := range all {
				named = named || strings.Contains(squash, s)
			}
			if !named {
				t.Fatalf("SecretKey(%q) = true, but %q holds no name of a secret", key, squash)
			}
		}
		for _, v := range []string{fullwidth(key), zeroWidth(key), lookAlike(key)} {
			if SecretKey(v) != got {
				t.Fatalf("SecretKey(%q) = %v but SecretKey(%q) = %v", key, got, v, !got)
			}
		}
	})
}

func isHangulSyllable(r rune) bool { return r >= 0xAC00 && r <= 0xD7A3 }

func isDigitRune(r rune) bool { _, ok := DigitValue(r); return ok }

// fullwidth writes the ASCII characters of s in their fullwidth forms.
func fullwidth(s string) string {
	return strings.Map(func(r rune) rune {
		if r > ' ' && r < 0x7F {
			return r + 0xFEE0
		}
		return r
	}, s)
}

// zeroWidth puts a zero-width space after every character of s.
func zeroWidth(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r)
		b.WriteRune('\u200b')
	}
	return b.String()
}

// lookAlike writes the Latin letters of s that have a Cyrillic twin of
// the same case with it.
func lookAlike(s string) string {
	twins := map[rune]rune{'a': 'а', 'c': 'с', 'e': 'е', 'o': 'о', 'p': 'р', 'x': 'х', 'y': 'у', 's': 'ѕ',
		'i': 'і', 'j': 'ј', 'A': 'А', 'C': 'С', 'E': 'Е', 'O': 'О', 'P': 'Р', 'X': 'Х', 'K': 'К', 'M': 'М', 'T': 'Т'}
	return strings.Map(func(r rune) rune {
		if c, ok := twins[r]; ok {
			return c
		}
		return r
	}, s)
}
