package pii_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/decisionlog"
	"github.com/riskpdp/riskpdp/pdp/internal/pii/piiref"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
)

// End to end: each spelling of a secret, card or identity number is fed
// to the request decoder (request.DecodeRequest) and to the decision log's
// masker (decisionlog.MaskJSON). The decoder must refuse it with the code
// given, or accept it when the code is empty (what it lets through on
// purpose: identifier fields, free text, mixed separators, split cards);
// the masker must never leave it in clear, whatever the decoder did.

// spelling is one case.
type spelling struct {
	class string
	body  string        // the request
	code  pdp.ErrorCode // the decoder's answer, "" to accept
	clear string        // what the log must not hold: a secret value, or a number's digits (any script, separators ignored)
}

const marker = "k9Tz7Qw" // the value under a secret key

func js(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// loginWith builds a login request with the given context JSON.
func loginWith(context string) string {
	return `{"stage":"login","uid":"u","context":` + context + `}`
}

func keyCase(class string, keys ...string) []spelling {
	var out []spelling
	for _, k := range keys {
		out = append(out, spelling{class, loginWith(`{` + js(k) + `:"` + marker + `"}`), pdp.CodeSecretField, marker})
	}
	return out
}

// rawKeyCase takes keys already written as JSON strings (with escapes).
func rawKeyCase(class string, keys ...string) []spelling {
	var out []spelling
	for _, k := range keys {
		out = append(out, spelling{class, loginWith(`{` + k + `:"` + marker + `"}`), pdp.CodeSecretField, marker})
	}
	return out
}

// valueCase puts each value, a Go string, in context.note; digits is the
// number it holds.
func valueCase(class string, code pdp.ErrorCode, digits string, values ...string) []spelling {
	var out []spelling
	for _, v := range values {
		out = append(out, spelling{class, loginWith(`{"note":` + js(v) + `}`), code, digits})
	}
	return out
}

// rawValueCase puts each value, JSON text, in context.note.
func rawValueCase(class string, code pdp.ErrorCode, digits string, values ...string) []spelling {
	var out []spelling
	for _, v := range values {
		out = append(out, spelling{class, loginWith(`{"note":` + v + `}`), code, digits})
	}
	return out
}

// sep writes the 16 digits of a card in groups of four joined by s.
func sep(card, s string) string {
	return card[:4] + s + card[4:8] + s + card[8:12] + s + card[12:]
}

// script writes the ASCII digits of s in the script whose zero is zero.
func script(s string, zero rune) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return zero + r - '0'
		}
		return r
	}, s)
}

const (
	visa  = "4111111111111111"
	mc    = "5500000000000004"
	id18X = "11010519491231002X"
)

func spellings() []spelling {
	var cs []spelling
	add := func(s ...spelling) { cs = append(cs, s...) }

	// Keys naming a secret: refused (secret_field), the value masked.
	add(keyCase("key: password", "password", "Password", "PASSWORD", "passwd", "pwd", "PWD", "passcode", "passphrase",
		"pay_password", "payPassword", "PayPassword", "pay-password", "pay password", "loginPwd", "new_password",
		"old_password", "password_confirm", "passwordConfirmation", "password2", "password_2", "mypassword", "paypwd",
		"trade_pwd", "password_hash")...)
	add(keyCase("key: separators inside the name", "c_v_v", "c-v-v", "c.v.v", "c v v", "C_V_V", "cv_v", "p_a_s_s_w_o_r_d",
		"pass_word", "Pass-Word", "pass word", "p.i.n", "s_m_s_c_o_d_e", "card__number", "cardNum_ber")...)
	add(keyCase("key: card security code", "cvv", "CVV", "cvv2", "CVV2", "cvc", "cvc2", "cvn", "cvn2", "ccv", "csc", "cvd",
		"cav2", "card_cvv", "cardCvv", "cvvValue", "cvv_code", "security_code", "securityCode", "card_security_code",
		"cardCode", "card_verification_value", "cvv_input")...)
	add(keyCase("key: fullwidth, look-alike, invisible, compatibility characters", "ｃｖｖ", "ＣＶＶ", "ｐａｓｓｗｏｒｄ",
		"сvv", "рin", "раssword", "ΡΙΝ", "pаsswоrd", "cv\u200bv", "pass\u200dword", "pa\u00adssword", "p\u0301in", "pín",
		"𝐩𝐚𝐬𝐬𝐰𝐨𝐫𝐝", "ⓟⓘⓝ", "ᴘɪɴ", "paßword", "pass\ufe0fword", "c\u034fvv", "ｃ\u200bｖｖ", "p\u2060in", "\ufeffpin",
		"pаy_pin", "ＳＭＳ＿ＣＯＤＥ", "ѕms_code", "оtp", "𝗽𝗶𝗻", "ｐ\u3164ｉｎ")...)
	add(rawKeyCase("key: JSON escapes", `"pass\u0077ord"`, `"\u0063vv"`, `"\uff43\uff56\uff56"`, `"c\u200bvv"`,
		`"\u0441vv"`, `"p\u0069n"`)...)
	add(keyCase("key: no length cut-off", strings.Repeat("x", 64)+"_cvv", strings.Repeat("a", 200)+"Password",
		"cvv_"+strings.Repeat("z", 100), strings.Repeat("password", 10), strings.Repeat("ab_", 40)+"pin")...)
	add(keyCase("key: PIN", "pin", "PIN", "pinValue", "PINVALUE", "pin_value", "pinCode", "PINCode", "pin_code",
		"atm_pin", "payPin", "paypin", "userPIN", "pin_number", "pinBlock", "pin_block", "txn_pin", "pin1", "pin_hash",
		"has_pin", "pin_entered")...)
	add(keyCase("key: one-time and verification codes", "otp", "OTP", "otpCode", "otp_code", "totp", "sms_code",
		"smsCode", "SMSCode", "sms-code", "smscode", "verification_code", "verificationCode", "verify_code",
		"verifyCode", "vcode", "auth_code", "mfa_code")...)
	add(keyCase("key: card number and track data", "card_number", "cardNumber", "cardNo", "card_no", "card-num",
		"cardnum", "pan", "PAN", "card_pan", "ccnum", "cc_number", "creditCardNumber", "primary_account_number",
		"track1", "track2", "track_data", "magstripe", "card_number_hash")...)
	add(keyCase("key: expiry", "expiry", "exp_date", "expDate", "exp_month", "exp_year", "expiry_date",
		"expiration_date", "expirationMonth", "card_expire", "card_expiry", "cardExpiration", "valid_thru",
		"validThru", "good_thru", "expire_date", "mmyy", "card_valid_until")...)
	add(keyCase("key: Chinese", "密码", "支付密码", "交易密码", "登录密码", "取款密码", "验证码", "短信验证码",
		"手机验证码", "校验码", "动态码", "安全码", "有效期", "卡有效期", "卡号", "银行卡号", "信用卡号", "身份证",
		"身份证号", "身份证号码", "证件号", "证件号码", "护照号", "口令", "动态口令", "磁道", "密钥", "私钥", "授权码",
		"卡背三位数", "用户_支付密码")...)
	add(keyCase("key: traditional Chinese", "密碼", "支付密碼", "驗證碼", "簡訊驗證碼", "卡號", "信用卡號",
		"身份證", "身分證字號", "證件號碼", "護照號碼", "安全碼")...)
	add(keyCase("key: payment API field names", "accNo", "certifId", "cert_no", "certNo", "cvn2", "expired_date",
		"bank_card_no", "customer_pin")...)
	add(keyCase("key: abbreviations, misspellings, other languages", "pswd", "pword", "passwrd", "pasword",
		"passwort", "mot_de_passe", "contraseña", "senha", "exp_mm", "exp_yy", "expMo", "cc_exp",
		"xinyong_kahao", "xinyongkahao")...)
	add(keyCase("key: pinyin", "mima", "zhifu_mima", "zhifumima", "zhiFuMiMa", "jiaoyi_mima", "denglu_mima",
		"yanzhengma", "yzm", "duanxin_yanzhengma", "dongtaima", "anquanma", "kahao", "yinhang_kahao", "shenfenzheng",
		"shenfenzheng_hao", "sfz", "sfzh", "sfzhm", "zhengjianhao", "zjhm", "huzhao", "youxiaoqi", "kouling")...)
	add(keyCase("key: identity numbers", "id_number", "idNumber", "IDNumber", "id_no", "idno", "id_card", "idCard",
		"id_card_no", "national_id", "nationalId", "ssn", "SSN", "social_security_number", "passport",
		"passport_number", "passportNo", "driver_license", "nric", "hkid", "aadhaar", "resident_id", "citizen_id",
		"identity_number")...)
	add(keyCase("key: other secrets", "secret", "client_secret", "api_key", "apiKey", "private_key", "access_token")...)
	add(keyCase("key: found by attacking a build (credentials, glued PINs, second factors, documents)", "auth_token",
		"authToken", "bearer_token", "session_token", "id_token", "jwt", "signing_key", "securityAnswer",
		"security_answer", "mothers_maiden_name", "mpin", "tpin", "ipin", "m_pin", "twofactor_code",
		"two_factor_code", "mfa_token", "card_verification", "cardVerification",
		"cid_code", "card_cid", "军官证", "军官证号", "港澳通行证", "通行证号", "户口本", "护照", "護照號碼",
		"huzhaohaoma", "junguanzheng", "tongxingzheng_hao")...)
	add(keyCase("key: second factors, wallets and sessions (masker gaps found in review)", "tfa", "tfa_code",
		"tfaToken", "backup_code", "backupCodes", "recovery_code", "recovery_codes",
		"scratch_code", "seed_phrase", "seedPhrase", "recovery_phrase", "mnemonic", "wallet_mnemonic",
		"mnemonic_phrase", "seed_words", "priv_key", "privKey", "cookie", "session_cookie", "set_cookie",
		"cookies", "助记词", "钱包助记词", "助記詞", "zhujici")...)
	add(keyCase("key: digits and symbols for letters", "p4ssw0rd", "passw0rd", "p@ssword", "pa$$word", "s3cret",
		"P4SSWORD")...)
	add(keyCase("key: a second factor spelt with a digit or in words", "2fa", "2FA", "2fa_code", "2faCode",
		"2FA_TOKEN", "user_2fa", "login2fa", "2fa-otp", "twofa", "two_fa_code", "twoFA")...)

	// Card numbers in one value: refused (card_number), masked in the log.
	add(valueCase("card: brands", pdp.CodeCardNumber, "", visa, mc, "2221000000000009", "378282246310005",
		"6011111111111117", "3530111333300000", "6200000000000005", "6212345678901234569", "30569309025904",
		"4222222222222")...)
	for i := range cs[len(cs)-10:] {
		c := &cs[len(cs)-10+i]
		c.clear = piiref.Digits(c.body)
	}
	add(valueCase("card: one kind of separator", pdp.CodeCardNumber, visa, sep(visa, " "), sep(visa, "-"),
		sep(visa, "."), sep(visa, "/"), sep(visa, "_"), sep(visa, "\t"), sep(visa, "\u00a0"), sep(visa, "\u202f"),
		sep(visa, "\u2009"), sep(visa, "\u3000"), sep(visa, "－"), sep(visa, "—"), sep(visa, "  "), sep(visa, " - "),
		sep(visa, " / "), sep(visa, "._"), sep(visa, "．"), sep(visa, "·"), sep(visa, "\n"), sep(visa, "*"),
		sep(visa, "|"), sep(visa, "~"), "4111 1111-1111  1111", "4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1",
		"41.11.11.11.11.11.11.11")...)
	add(valueCase("card: digits of any script", pdp.CodeCardNumber, visa, script(visa, '０'), script(visa, '٠'),
		script(visa, '۰'), script(visa, '०'), script(visa, '০'), script(visa, '๐'), script(visa, '𝟎'),
		script(sep(visa, " "), '٠'), "4111"+script("111111111111", '٠'), script(sep(visa, "\u3000"), '０'))...)
	add(valueCase("card: compatibility digits", pdp.CodeCardNumber, visa, "⁴¹¹¹ ¹¹¹¹ ¹¹¹¹ ¹¹¹¹",
		"₄₁₁₁₁₁₁₁₁₁₁₁₁₁₁₁", "④①①① ①①①① ①①①① ①①①①")...)
	add(valueCase("card: leading zeros", pdp.CodeCardNumber, visa, "0"+visa, "000"+visa, "00 "+sep(visa, " "),
		"0"+sep(visa, "."))...)
	add(valueCase("card: invisible characters between digits", pdp.CodeCardNumber, visa, sep(visa, "\u200b"),
		sep(visa, "\u00ad"), "4\u200d111111111111111", sep(visa, "\ufeff"))...)
	add(valueCase("card: in text", pdp.CodeCardNumber, visa, "pay with "+sep(visa, ".")+" now", "卡号："+sep(visa, " "),
		"card#"+visa+"#", "my card is "+sep(visa, "/")+".")...)
	add(rawValueCase("card: JSON escapes and numbers", pdp.CodeCardNumber, visa,
		`"\u0034\u0031\u0031\u0031\u0031\u0031\u0031\u0031\u0031\u0031\u0031\u0031\u0031\u0031\u0031\u0031"`,
		`"4111\u00a01111\u00a01111\u00a01111"`, `"\uff14\uff11\uff11\uff11111111111111"`, visa, "-"+visa)...)
	add(spelling{"card: in a key", loginWith(`{"` + visa + `":1}`), pdp.CodeCardNumber, visa},
		spelling{"card: in an array", loginWith(`{"list":["x",` + js(sep(visa, ".")) + `]}`), pdp.CodeCardNumber, visa},
		spelling{"card: in a typed text field", `{"stage":"login","uid":"u","txn":{"category":"` + sep(visa, "_") + `"}}`, pdp.CodeCardNumber, visa},
		spelling{"card: in device.model", `{"stage":"login","uid":"u","device":{"model":"` + script(visa, '０') + `"}}`, pdp.CodeCardNumber, visa})

	// Resident identity numbers: refused (identity_number), masked.
	id := strings.TrimSuffix(id18X, "X")
	add(valueCase("resident id", pdp.CodeIdentityNumber, id, id18X, strings.ToLower(id18X), "身份证号"+id18X+"。",
		script(id, '０')+"Ｘ", "110105 19491231 002X", "110105-19491231-002X")...)
	add(valueCase("resident id", pdp.CodeIdentityNumber, "440308199901010012", "440308199901010012",
		"id: 440308199901010012")...)
	add(rawValueCase("resident id: a number", pdp.CodeIdentityNumber, "440308199901010012", "440308199901010012")...)

	// Accepted by the decoder on purpose, masked in the log.
	add(valueCase("log only: mixed separators", "", visa, "4111.1111-1111/1111", "4111 1111.1111 1111",
		"4111_1111-1111.1111", "4111/1111 1111.1111")...)
	add(valueCase("log only: list punctuation", "", visa, sep(visa, ","), sep(visa, ";"), sep(visa, ":"),
		sep(visa, "，"), sep(visa, "、"), sep(visa, ", "))...)
	for _, ctx := range []string{
		`{"c1":"4111","c2":"1111","c3":"1111","c4":"1111"}`,
		`{"list":["4111","1111","1111","1111"]}`,
		`{"a":4111,"b":1111,"c":1111,"d":1111}`,
		`{"a":411111,"b":1111111111}`,
		`{"head":"411111","tail":"1111111111"}`,
		`{"p":["41","11","11","11","11","11","11","11"]}`,
		`{"d":[4,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]}`,
		`{"a":"4111","b":1111,"c":"1111","d":1111}`,
		`{"a":"٤١١١","b":"١١١١","c":"١١١١","d":"١١١١"}`,
		`{"a":"4111 1111","b":"1111 1111"}`,
		`{"a":"0411","b":"1111","c":"1111","d":"1111","e":"1"}`,
		`{"x":"note","a":"4111","b":"1111","c":"1111","d":"1111","y":true}`,
		`{"a":"４１１１","b":"１１１１","c":"１１１１","d":"１１１１"}`,
		`{"a":"4111\u200b","b":"1111","c":"1111","d":"1111"}`,
		`{"a":"4111-1111","b":"1111-1111"}`,
		`{"a":"⁴¹¹¹","b":"¹¹¹¹","c":"¹¹¹¹","d":"¹¹¹¹"}`,
	} {
		add(spelling{"log only: split across neighbouring fields", loginWith(ctx), "", visa})
	}
	add(spelling{"log only: split across neighbouring fields", loginWith(`{"a":["3782","822463","10005"]}`), "", "378282246310005"})
	for _, tc := range []struct{ text, clear string }{
		{"my password is hunter2", "hunter2"}, {"CVV 123", "123"}, {"验证码是123456", "123456"}, {"pin: 4321", "4321"},
		{"OTP=998877", "998877"}, {"sms code 482913", "482913"}, {"my pin number is 7391", "7391"},
		{"支付密码是888888", "888888"}, {"密码：abc123", "abc123"}, {"password: S3cr3t!", "S3cr3t"},
		{"security code 837", "837"}, {"cvv2 552", "552"}, {"card exp 12/29", "12/29"}, {"expiry 11/28", "11/28"},
		{"my ssn is 123-45-6789", "123-45-6789"}, {`the passcode was "a1b2"`, "a1b2"},
		{"您的验证码为：654321，5分钟内有效", "654321"}, {"短信验证码 246810", "246810"},
		{"my рassword is hunter2", "hunter2"}, {"ＰＩＮ：４３２１", "4321"}, {"pwd=Tr0ub4dor", "Tr0ub4dor"},
		{"登录密码为 qwe123", "qwe123"}, {"the otp is 135790, don't share", "135790"},
	} {
		add(spelling{"log only: secret in free text", loginWith(`{"user_statement":` + js(tc.text) + `}`), "", tc.clear})
	}
	for _, body := range []string{
		`{"stage":"login","uid":"u","txn":{"id":"` + visa + `"}}`,
		`{"stage":"login","uid":"u","request_id":"` + sep(mc, "-") + `"}`,
		`{"stage":"login","uid":"` + sep(visa, " ") + `"}`,
		`{"stage":"login","uid":"u","device":{"id":"` + sep(visa, ".") + `"}}`,
		`{"stage":"login","uid":"u","txn":{"merchant":"0` + visa + `"}}`,
		`{"stage":"login","uid":"u","challenge_id":"` + id18X + `"}`,
	} {
		digits := piiref.Digits(body)
		digits = strings.TrimPrefix(digits, "0")
		if strings.Contains(body, id18X) {
			digits = strings.TrimSuffix(id18X, "X")
		}
		add(spelling{"log only: identifier fields", body, "", digits})
	}
	return cs
}

// innocents must be accepted by the decoder and left alone by the masker.
func innocents() []string {
	var bodies []string
	for _, k := range []string{"pin_failures_1h", "password_reset_at", "spin", "timespan", "expected", "opinion",
		"cvv_checked", "cvv_result", "pin_1h", "pin_24h", "card_bin", "card_last4", "card_brand", "card_token",
		"card_fingerprint", "card_not_present", "passwordless", "pinless_debit", "otp_sent", "sms_code_sent_at",
		"password_strength", "pin_entry_mode", "pan_entry_mode", "secret_question", "span_id", "japan", "shipping",
		"company", "pinned", "panel", "capacity", "footprint", "hotpot", "expires_at", "session_age_s", "zip_code",
		"promo_code", "reason_code", "emi_max_amount", "acc_verified", "idfa", "password_last_changed",
		"密码重置时间", "支付密码错误次数", "卡号后四位", "验证码发送时间", "身份证类型", "支付方式", "备注", "pinyin_name",
		"密碼重設時間", "卡號後四位", "cert_type", "expired", "pincer", "cookie_consent", "cookies_enabled",
		"tfa_enabled", "tfa_method", "tfa_status", "backup_codes_remaining", "backup_code_used", "mnemonic_verified",
		"seed_phrase_backed_up_at", "助记词备份时间", "2fa_enabled", "2fa_method", "is_2fa_required", "two_fa_enabled", "12fa",
		"2fast"} {
		bodies = append(bodies, loginWith(`{`+js(k)+`:"x"}`))
	}
	for _, v := range []string{"31.230416,121.473701", "31.230416 121.473701", "2026-11-22T05:47:00.386512345Z",
		"10:30 5000.00 3000.00", "+86 138 0013 8000", "order 20261122000000000001", "4111111111111112",
		"203.0.113.7", "8.12.0", "I forgot my password and reset it", "password reset link sent", "my pin is wrong",
		"请输入支付密码", "验证码发送成功", "the pin pad was broken", "41111111-1111-1111-4111-111111111111",
		"110105194912310021", "1732252800123", "2001:db8::1", "pay_password_change", "spin 1234 times",
		"opinion: 42", "CVV2"} {
		bodies = append(bodies, loginWith(`{"note":`+js(v)+`}`))
	}
	bodies = append(bodies,
		loginWith(`{"screen_w":1080,"screen_h":2400,"dpi":480}`),
		loginWith(`{"lat":31.230416,"lng":121.473701}`),
		`{"stage":"login","uid":"u","txn":{"id":"T20261122000000000001","merchant":"m-88231"}}`,
		`{"stage":"login","uid":"u","account":{"recent_changes":[{"kind":"pay_password_change","at":"2026-11-21T23:40:00Z"}]}}`)
	return bodies
}

var limits = request.Limits{MaxDepth: 16, MaxAmount: 1e12}

// TestSpellingsRefusedOrMasked: every spelling is refused by the decoder
// as stated, and never in clear in the log.
func TestSpellingsRefusedOrMasked(t *testing.T) {
	cases := spellings()
	if len(cases) < 200 {
		t.Fatalf("only %d spellings", len(cases))
	}
	classes := map[string]int{}
	for _, c := range cases {
		classes[c.class]++
		name := fmt.Sprintf("%s/%s", c.class, c.body)
		_, err := request.DecodeRequest([]byte(c.body), time.Now(), limits)
		var pe *pdp.Error
		switch {
		case c.code == "" && err != nil:
			t.Errorf("%s: decoder refused it (%v); it should accept it and leave it to the log", name, err)
		case c.code != "" && (!errors.As(err, &pe) || pe.Code != c.code):
			t.Errorf("%s: decoder answered %v, want %s", name, err, c.code)
		}
		checkMasked(t, name, []byte(c.body), c.clear)
	}
	t.Logf("%d spellings in %d classes", len(cases), len(classes))
}

// checkMasked masks body and fails if clear is in the output: as text, or,
// when it is a number, among the output's digits of any script with
// everything else removed; nor may the reference find any card or
// identity number left.
func checkMasked(t *testing.T, name string, body []byte, clear string) {
	t.Helper()
	out := decisionlog.MaskJSON(nil, body)
	if !json.Valid(out) {
		t.Fatalf("%s: masked output is not JSON: %s", name, out)
	}
	if strings.Contains(string(out), clear) {
		t.Errorf("%s: %q in clear in %s", name, clear, out)
	}
	if d := piiref.Digits(clear); len(d) >= 13 && strings.Contains(piiref.Digits(string(out)), d) {
		t.Errorf("%s: the digits %s in clear in %s", name, d, out)
	}
	if c := leftNumber(t, out); c != "" {
		t.Errorf("%s: %s left in %s", name, c, out)
	}
}

// leftNumber returns a card or identity number the reference finds in a
// masked document: in any string or number, or split across pieces.
func leftNumber(t *testing.T, doc []byte) string {
	t.Helper()
	n, err := piiref.Parse(doc)
	if err != nil {
		t.Fatalf("parse %s: %v", doc, err)
	}
	var walk func(n piiref.Node) string
	walk = func(n piiref.Node) string {
		switch v := n.Scalar.(type) {
		case string:
			return piiref.Number(v, true)
		case json.Number:
			return piiref.Number(string(v), true)
		}
		for _, k := range n.Kids {
			if c := walk(k); c != "" {
				return c
			}
		}
		return ""
	}
	if c := walk(n); c != "" {
		return c
	}
	return piiref.Split(n)
}

// TestInnocentSpellingsPass: facts about secrets, words that look like
// their names, coordinates, times, ids: accepted, and the log unchanged.
func TestInnocentSpellingsPass(t *testing.T) {
	bodies := innocents()
	if len(bodies) < 40 {
		t.Fatalf("only %d innocent cases", len(bodies))
	}
	for _, b := range bodies {
		if _, err := request.DecodeRequest([]byte(b), time.Now(), limits); err != nil {
			t.Errorf("%s: refused: %v", b, err)
		}
		if out := decisionlog.MaskJSON(nil, []byte(b)); string(out) != b {
			t.Errorf("masked\n %s\nto\n %s", b, out)
		}
	}
	t.Logf("%d innocent keys and values", len(bodies))
}
