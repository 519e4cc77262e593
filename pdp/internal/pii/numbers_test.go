package pii

import (
	"strings"
	"testing"

	"github.com/riskpdp/riskpdp/pdp/internal/benchutil"
)

func TestNumbers(t *testing.T) {
	for _, tc := range []struct {
		in           string
		refuse, mask Kind
		masked       string // the text with Mask's spans masked ("" = unchanged)
	}{
		{"4111111111111111", Card, Card, "411111******1111"},
		{"4111.1111.1111.1111", Card, Card, "411111******1111"},
		{"4111/1111/1111/1111", Card, Card, "411111******1111"},
		{"4111_1111_1111_1111", Card, Card, "411111******1111"},
		{"4111\t1111\t1111\t1111", Card, Card, "411111******1111"},
		{"4111\u00a01111\u00a01111\u00a01111", Card, Card, "411111******1111"},
		{"4111 / 1111 / 1111 / 1111", Card, Card, "411111******1111"},
		{"4111  1111 1111-1111", Card, Card, "411111******1111"}, // whitespace and dashes mix
		{"٤١١١١١١١١١١١١١١١", Card, Card, "411111******1111"},
		{"४१११ ११११११११११११", Card, Card, "411111******1111"},
		{"04111111111111111", Card, Card, "411111******1111"},
		{"card: 0004111 1111 1111 1111.", Card, Card, "card: 411111******1111."},
		{"41\u200b11111111111111", Card, Card, "411111******1111"},
		{"4111.1111-1111/1111", None, Card, "411111******1111"}, // mixed: groups of 3+ in the log only
		{"4111,1111,1111,1111", None, Card, "411111******1111"}, // list punctuation: the log only
		{"4111:1111:1111:1111", None, Card, "411111******1111"},
		{"41.11-11/11.11.11.11.11", None, None, ""},
		// separator kinds are compared character by character: "\x00." is not ".",
		// "\x01\x05" not U+F4248 (a hash of the characters took them for one)
		{"41.11\x00.11.11.11.11.11.11", None, None, ""},
		{"41\x01\x0511\U000F424811\x01\x0511\U000F424811\x01\x0511\U000F424811\x01\x0511", None, None, ""},
		{"41\x00.11\x00.11\x00.11\x00.11\x00.11\x00.11\x00.11", Card, Card, "411111******1111"},
		{"31.230416, 121.473701", None, None, ""},
		{"31.230416 121.473701", None, None, ""},
		{"2026-11-22T05:47:00.386512345Z", None, None, ""},
		{"05:47:00.386512345", None, None, ""},
		{"T202611220000000001", None, None, ""},
		{"4111111111111112", None, None, ""},
		{"41111111111111111111111", None, None, ""},
		{"11010519491231002X", ResidentID, ResidentID, "110105********002X"},
		{"身份证11010519491231002x。", ResidentID, ResidentID, "身份证110105********002X。"},
		{"110105 19491231 002X", ResidentID, ResidentID, "110105********002X"},
		{"11010519491231002Xy", None, None, ""},
		{"110105194912310021", None, None, ""},
		{"4111111111111111 5500000000000004", Card, Card, "411111******1111 550000******0004"},
	} {
		var s Scanner
		if got := s.FirstNumber(tc.in, Refuse); got != tc.refuse {
			t.Errorf("FirstNumber(%q, Refuse) = %v, want %v", tc.in, got, tc.refuse)
		}
		if got := s.FirstNumber(tc.in, Mask); got != tc.mask {
			t.Errorf("FirstNumber(%q, Mask) = %v, want %v", tc.in, got, tc.mask)
		}
		var b strings.Builder
		last := 0
		for _, sp := range s.Numbers(tc.in, Mask) {
			b.WriteString(tc.in[last:sp.Start])
			b.Write(s.AppendMasked(nil, sp))
			last = sp.End
		}
		b.WriteString(tc.in[last:])
		want := tc.masked
		if want == "" {
			want = tc.in
		}
		if b.String() != want {
			t.Errorf("masked %q = %q, want %q", tc.in, b.String(), want)
		}
	}
}

func TestSecrets(t *testing.T) {
	for in, want := range map[string]string{
		"my password is hunter2": "my password is ***",
		"CVV 123":                "CVV ***",
		"cvv2 123":               "cvv2 ***",
		"验证码是123456":             "验证码是***",
		"您的验证码为：654321，5分钟内有效": "您的验证码为：***，5分钟内有效",
		"pin: 4321":                         "pin: ***",
		"OTP=998877":                        "OTP=***",
		"sms code 123456":                   "sms code ***",
		"my pin number is 1234":             "my pin number is ***",
		"password: hunter2!":                "password: ***!",
		"密码:abc123。":                        "密码:***。",
		"card 5500 exp 12/29":               "card 5500 exp ***",
		"my ssn is 123-45-6789.":            "my ssn is ***.",
		"the passcode was \"a1b2\"":         "the passcode was \"***\"",
		"my рassword is hunter2":            "my рassword is ***", // Cyrillic р
		"password reset link sent":          "",
		"I forgot my password and reset it": "",
		"my pin is wrong":                   "",
		"验证码发送成功 123":                       "",
		"password_reset":                    "",
		"recent_password_reset":             "",
		"pay_password_change":               "",
		"buying a gift card for my nephew":  "",
		"password is ***":                   "",
		"the pin pad was broken":            "",
		"spin 1234 times":                   "",
		"请输入支付密码":                           "",
		"CVV2":                              "",
		"opinion: 42":                       "",
	} {
		var s Scanner
		var b strings.Builder
		last := 0
		for _, sp := range s.Secrets(in) {
			b.WriteString(in[last:sp.Start])
			b.Write(s.AppendMasked(nil, sp))
			last = sp.End
		}
		b.WriteString(in[last:])
		if want == "" {
			want = in
		}
		if b.String() != want {
			t.Errorf("Secrets(%q) masked = %q, want %q", in, b.String(), want)
		}
	}
}

func BenchmarkNumbers(b *testing.B) {
	for name, text := range map[string]string{
		"clean":   "buying a gift card for my nephew, order 2026-11-22 10:30",
		"card":    "pay with 4111 1111 1111 1111 please",
		"chinese": "我的卡号是6222021234567890123，谢谢",
	} {
		b.Run(name, func(b *testing.B) {
			var s Scanner
			b.ReportAllocs()
			benchutil.CPUTime(b)
			for b.Loop() {
				s.Numbers(text, Mask)
				s.Secrets(text)
			}
		})
	}
}
