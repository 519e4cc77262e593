package decisionlog

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/riskpdp/riskpdp/pdp/internal/pii"
)

func TestMaskJSON(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"clean", `{"uid":"u1","amount":12.5,"n":[1,2,3]}`, `{"uid":"u1","amount":12.5,"n":[1,2,3]}`},
		{"plain card", `{"note":"4111111111111111"}`, `{"note":"411111******1111"}`},
		{"card in text", `{"note":"pay with 4111111111111111 now"}`, `{"note":"pay with 411111******1111 now"}`},
		{"spaces", `{"note":"4111 1111 1111 1111"}`, `{"note":"411111******1111"}`},
		{"dashes", `{"note":"5500-0000-0000-0004"}`, `{"note":"550000******0004"}`},
		{"mixed separators", `{"note":"4111-1111 1111-1111"}`, `{"note":"411111******1111"}`},
		{"amex 4-6-5", `{"note":"3782 822463 10005"}`, `{"note":"378282*****0005"}`},
		{"13 digits", `{"note":"4222222222222"}`, `{"note":"422222***2222"}`},
		{"19 digits", `{"note":"6011000990139424000"}`, `{"note":"6011000990139424000"}`}, // not Luhn-valid
		{"19 digits valid", `{"note":"4000000000000000006"}`, `{"note":"400000*********0006"}`},
		{"letters around", `{"id":"uid4111111111111111x"}`, `{"id":"uid411111******1111x"}`},
		{"luhn invalid", `{"note":"4111111111111112"}`, `{"note":"4111111111111112"}`},
		{"first digit 1", `{"note":"1111111111111117"}`, `{"note":"1111111111111117"}`},
		{"first digit 7", `{"note":"7111111111111113"}`, `{"note":"7111111111111113"}`},
		{"too short", `{"note":"411111111111"}`, `{"note":"411111111111"}`},
		{"part of a longer number", `{"txn":"20261122411111111111111100"}`, `{"txn":"20261122411111111111111100"}`},
		{"double space", `{"note":"4111  1111 1111 1111"}`, `{"note":"411111******1111"}`},
		{"dots", `{"note":"4111.1111.1111.1111"}`, `{"note":"411111******1111"}`},
		{"mixed, groups of 3+", `{"note":"4111.1111/1111_1111"}`, `{"note":"411111******1111"}`},
		{"commas", `{"note":"4111,1111,1111,1111"}`, `{"note":"411111******1111"}`},
		{"leading zero", `{"note":"04111111111111111"}`, `{"note":"411111******1111"}`},
		{"arabic-indic", `{"note":"٤١١١١١١١١١١١١١١١"}`, `{"note":"411111******1111"}`},
		{"resident id", `{"note":"id 11010519491231002X"}`, `{"note":"id 110105********002X"}`},
		{"coordinates stay", `{"gps":"31.230416,121.473701"}`, `{"gps":"31.230416,121.473701"}`},
		{"time stays", `{"t":"2026-11-22T05:47:00.386512345Z"}`, `{"t":"2026-11-22T05:47:00.386512345Z"}`},
		{"split", `{"c1":"4111","c2":"1111","c3":"1111","c4":"1111"}`, `{"c1":"4111","c2":"11**","c3":"****","c4":"1111"}`},
		{"split numbers", `[4111,1111,1111,1111,"x"]`, `[4111,"11**","****",1111,"x"]`},
		{"free text", `{"user_statement":"my password is hunter2, CVV 123"}`, `{"user_statement":"my password is ***, CVV ***"}`},
		{"free text chinese", `{"note":"验证码是123456"}`, `{"note":"验证码是***"}`},
		{"two cards", `{"note":"4111111111111111 5500000000000004"}`, `{"note":"411111******1111 550000******0004"}`},
		{"two grouped cards", `{"note":"4111 1111 1111 1111 5500 0000 0000 0004"}`, `{"note":"411111******1111 550000******0004"}`},
		{"key", `{"4111111111111111":1}`, `{"411111******1111":1}`},
		{"number", `{"card":4111111111111111}`, `{"card":"411111******1111"}`},
		{"negative number", `{"card":-4111111111111111}`, `{"card":"-411111******1111"}`},
		{"float", `{"x":4111111111111111.0}`, `{"x":"411111******1111.0"}`},
		// The digits of an amount with a fraction are not a card number
		// (4623055000000001 is Luhn-valid).
		{"amount with a fraction", `{"x":46230.55000000001}`, ``},
		{"card in exponent form", `{"x":4.111111111111111e15}`, `{"x":"411111******1111e15"}`},
		{"escaped digits", `{"note":"\u0034111111111111111"}`, `{"note":"411111******1111"}`},
		{"escaped space", `{"note":"4111\u00201111\u00201111\u00201111"}`, `{"note":"411111******1111"}`},
		{"escape kept", `{"note":"a\"b\n4111111111111111\\"}`, `{"note":"a\"b\n411111******1111\\"}`},
		{"fullwidth", `{"note":"４１１１１１１１１１１１１１１１"}`, `{"note":"411111******1111"}`},
		{"fullwidth spaced", "{\"note\":\"４１１１\u3000１１１１\u3000１１１１\u3000１１１１\"}", `{"note":"411111******1111"}`},
		{"deep", `{"a":[{"b":[["4111111111111111"]]}]}`, `{"a":[{"b":[["411111******1111"]]}]}`},
		{"array of strings", `["4111111111111111","x"]`, `["411111******1111","x"]`},
		{"top string", `"4111111111111111"`, `"411111******1111"`},
		{"mask joins a new card", `{"n":"2345678 4111111111111111"}`, ""},

		{"password", `{"password":"hunter2"}`, `{"password":"***"}`},
		{"nested secret", `{"a":{"card_number":"x","uid":"u"}}`, `{"a":{"card_number":"***","uid":"u"}}`},
		{"secret object", `{"pwd":{"old":"a","new":"b"},"x":1}`, `{"pwd":"***","x":1}`},
		{"secret array", `{"otp":[1,2],"x":1}`, `{"otp":"***","x":1}`},
		{"secret number", `{"pin":1234}`, `{"pin":"***"}`},
		{"secret null kept", `{"cvv":null}`, `{"cvv":null}`},
		{"secret bool kept", `{"has_pin":true}`, `{"has_pin":true}`},
		{"camel", `{"smsCode":"123456","payPwd":"x","cardNumber":"y","CVV2":"z"}`, `{"smsCode":"***","payPwd":"***","cardNumber":"***","CVV2":"***"}`},
		{"facts about secrets", `{"password_reset_at":"2026-01-01","pin_failures_1h":3,"otp_sent":true}`, `{"password_reset_at":"2026-01-01","pin_failures_1h":3,"otp_sent":true}`},
		{"shipping is not pin", `{"shipping":"x","spin":"y","expires_at":"z"}`, `{"shipping":"x","spin":"y","expires_at":"z"}`},
		{"escaped key", `{"pass\u0077ord":"x"}`, `{"pass\u0077ord":"***"}`},
		{"chinese", `{"支付密码":"123456","验证码":"654321","备注":"ok"}`, `{"支付密码":"***","验证码":"***","备注":"ok"}`},
		{"expiry", `{"expiry":"12/29","exp_month":12,"card":{"exp_year":2029,"security_code":"123"}}`, `{"expiry":"***","exp_month":"***","card":{"exp_year":"***","security_code":"***"}}`},
		{"whitespace", "{ \"pan\" : \"4111111111111111\" ,\n \"a\" : [ 1 ] }", "{ \"pan\" : \"***\" ,\n \"a\" : [ 1 ] }"},
		{"value named like a key", `{"field":"password","list":["pin","cvv"]}`, `{"field":"password","list":["pin","cvv"]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := string(MaskJSON(nil, []byte(tc.in)))
			if !json.Valid([]byte(got)) {
				t.Fatalf("invalid JSON out: %s", got)
			}
			if bad := findCard(t, []byte(got)); bad != "" {
				t.Fatalf("card left in %s: %s", got, bad)
			}
			if tc.want != "" && got != tc.want {
				t.Fatalf("\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestMaskJSONReturnsSrcWhenClean(t *testing.T) {
	src := []byte(`{"uid":"u1","ts":"2026-11-22T02:17:00.123456789Z","n":1234567890123}`)
	out := MaskJSON(make([]byte, 0, 1024), src)
	if &out[0] != &src[0] {
		t.Fatal("clean input was copied")
	}
}

func TestMaskExemptions(t *testing.T) {
	// An all-digit UUID whose groups hold a Luhn-valid window
	// (4111111111111111 as 8-4-4) is left alone anywhere.
	id := "41111111-1111-1111-4111-111111111111"
	in := `{"decision_id":"` + id + `","input":{"device":"` + id + `"}}`
	if out := string(MaskJSON(nil, []byte(in))); out != in {
		t.Fatalf("UUID masked: %s", out)
	}
	// Not quite a UUID: masked.
	if out := string(MaskJSON(nil, []byte(`"`+id[:35]+`"`))); !strings.Contains(out, "*") {
		t.Fatalf("near-UUID not masked: %s", out)
	}
	// W3C trace and span ids at the top of a record, with a hex letter.
	trace := `"4111111111111111a00000000000000b"`
	span := `"411111111111111a"`
	in = `{"trace_id":` + trace + `,"span_id":` + span + `,"x":{"trace_id":` + trace + `}}`
	var m masker
	out, _ := m.mask(nil, []byte(in), true)
	want := `{"trace_id":` + trace + `,"span_id":` + span + `,"x":{"trace_id":"411111******1111a00000000000000b"}}`
	if string(out) != want {
		t.Fatalf("\n got %s\nwant %s", out, want)
	}
	// All digits: a span id that is a card number is masked.
	out, _ = m.mask(nil, []byte(`{"span_id":"4111111111111111"}`), true)
	if string(out) != `{"span_id":"411111******1111"}` {
		t.Fatalf("got %s", out)
	}
}

func TestSecretKey(t *testing.T) {
	for key, want := range map[string]bool{
		"password": true, "Password": true, "PASSWORD": true, "new_password": true, "paymentPassword": true,
		"passwd": true, "pwd": true, "pay-pwd": true, "pin": true, "PIN": true, "userPIN": true, "PINCode": true,
		"cvv": true, "cvv2": true, "card_cvc": true, "otp": true, "sms_code": true, "SMSCode": true,
		"card_number": true, "cardNumber": true, "cardnumber": true, "pan": true, "expiry": true,
		"security_code": true, "exp_date": true, "client_secret": true, "verification_code": true,
		"密码": true, "支付密码": true, "银行卡号": true, "短信验证码": true,

		"uid": false, "amount": false, "password_reset_at": false, "pin_failures": false,
		"shipping": false, "spin": false, "pinned": false, "company": false, "span_id": false,
		"opt": false, "footprint": false, "expires_at": false, "code": false, "reason_code": false,
		"": false, "_": false, "123": false, "密码重置时间": false, strings.Repeat("x", 100) + "_password": true,
		"newpassword": true, "password_2": true, "pin-1-2": true, "paypwd": true, "cardcvv": true, "timespan": false, "japan": false,
		strings.Repeat("password", 10): true, // no length cut-off
	} {
		if got := pii.SecretKey(key); got != want {
			t.Errorf("pii.SecretKey(%q) = %v, want %v", key, got, want)
		}
	}
}

// TestMaskMemoSameShape masks records of one shape in turn, as the writer
// does: a token that was clean at an ordinal of the last record and holds
// a card, a secret key or a piece of a split card now is masked all the
// same.
func TestMaskMemoSameShape(t *testing.T) {
	var m masker
	for _, tc := range []struct{ in, want string }{
		{`{"input":{"note":"4111","pin_1h":2,"c":["4111","1111","1111","x"]},"trace_id":"x"}`, ``},
		{`{"input":{"note":"4111111111111111","pin_1h":2,"c":["4111","1111","1111","x"]},"trace_id":"x"}`,
			`{"input":{"note":"411111******1111","pin_1h":2,"c":["4111","1111","1111","x"]},"trace_id":"x"}`},
		{`{"input":{"note":"4111","pin":2,"c":["4111","1111","1111","x"]},"trace_id":"x"}`,
			`{"input":{"note":"4111","pin":"***","c":["4111","1111","1111","x"]},"trace_id":"x"}`},
		{`{"input":{"note":"4111","pin_1h":2,"c":["4111","1111","1111","1111"]},"trace_id":"x"}`,
			`{"input":{"note":"4111","pin_1h":2,"c":["4111","11**","****","1111"]},"trace_id":"x"}`},
		{`{"input":{"note":"4111","pin_1h":2,"c":["4111","1111","1111","x"]},"trace_id":"4111111111111111"}`,
			`{"input":{"note":"4111","pin_1h":2,"c":["4111","1111","1111","x"]},"trace_id":"411111******1111"}`},
		{`{"input":{"note":"4111","pin_1h":2,"c":["4111","1111","1111","x"]},"trace_id":"x"}`, ``},
	} {
		out, changed := m.mask(nil, []byte(tc.in), true)
		if tc.want == "" {
			if changed {
				t.Fatalf("%s: masked to %s", tc.in, out)
			}
			continue
		}
		if string(out) != tc.want {
			t.Fatalf("%s:\n got %s\nwant %s", tc.in, out, tc.want)
		}
	}
}
