package request

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/riskpdp/riskpdp/pdp"
)

var testLimits = Limits{MaxDepth: 16, MaxAmount: 1e12}

func TestDecodeRejects(t *testing.T) {
	deep := `{"stage":"login","uid":"u","context":` + strings.Repeat(`{"a":`, 20) + `1` + strings.Repeat(`}`, 20) + `}`
	cases := []struct {
		name, body string
		code       pdp.ErrorCode
		field      string
	}{
		{"empty", ``, pdp.CodeMalformedJSON, ""},
		{"not an object", `[1,2]`, pdp.CodeMalformedJSON, ""},
		{"truncated", `{"stage":"payment","uid":"u`, pdp.CodeMalformedJSON, "uid"},
		{"trailing garbage", `{"stage":"login","uid":"u"} x`, pdp.CodeMalformedJSON, ""},
		{"trailing comma", `{"stage":"login","uid":"u",}`, pdp.CodeMalformedJSON, ""},
		{"single quotes", `{'stage':'login'}`, pdp.CodeMalformedJSON, ""},
		{"NaN literal", `{"stage":"payment","uid":"u","txn":{"id":"t","amount":NaN}}`, pdp.CodeWrongType, "txn.amount"},
		{"leading zero", `{"stage":"payment","uid":"u","txn":{"id":"t","amount":01}}`, pdp.CodeMalformedJSON, "txn.amount"},
		{"bare dot", `{"stage":"payment","uid":"u","txn":{"id":"t","amount":1.}}`, pdp.CodeMalformedJSON, "txn.amount"},
		{"invalid utf8", "{\"stage\":\"login\",\"uid\":\"\xff\"}", pdp.CodeMalformedJSON, "uid"},
		{"control char", "{\"stage\":\"login\",\"uid\":\"a\x01\"}", pdp.CodeMalformedJSON, "uid"},
		{"bad escape", `{"stage":"login","uid":"a\q"}`, pdp.CodeMalformedJSON, "uid"},
		{"missing stage", `{"uid":"u"}`, pdp.CodeMissingField, "stage"},
		{"missing uid", `{"stage":"login"}`, pdp.CodeMissingField, "uid"},
		{"empty uid", `{"stage":"login","uid":""}`, pdp.CodeInvalidValue, "uid"},
		{"uid wrong type", `{"stage":"login","uid":7}`, pdp.CodeWrongType, "uid"},
		{"unknown stage", `{"stage":"refund","uid":"u"}`, pdp.CodeUnknownStage, "stage"},
		{"stage wrong type", `{"stage":1,"uid":"u"}`, pdp.CodeWrongType, "stage"},
		{"missing txn", `{"stage":"payment","uid":"u"}`, pdp.CodeMissingField, "txn"},
		{"missing txn id", `{"stage":"payment","uid":"u","txn":{"amount":1}}`, pdp.CodeMissingField, "txn.id"},
		{"missing amount", `{"stage":"withdrawal","uid":"u","txn":{"id":"t"}}`, pdp.CodeMissingField, "txn.amount"},
		{"missing currency", `{"stage":"repayment","uid":"u","txn":{"id":"t","amount":5}}`, pdp.CodeMissingField, "txn.currency"},
		{"negative amount", `{"stage":"payment","uid":"u","txn":{"id":"t","amount":-0.01}}`, pdp.CodeInvalidValue, "txn.amount"},
		{"huge amount", `{"stage":"payment","uid":"u","txn":{"id":"t","amount":1e13}}`, pdp.CodeInvalidValue, "txn.amount"},
		{"overflowing amount", `{"stage":"payment","uid":"u","txn":{"id":"t","amount":1e400}}`, pdp.CodeInvalidValue, "txn.amount"},
		{"amount as string", `{"stage":"payment","uid":"u","txn":{"id":"t","amount":"5"}}`, pdp.CodeWrongType, "txn.amount"},
		{"txn wrong type", `{"stage":"payment","uid":"u","txn":[]}`, pdp.CodeWrongType, "txn"},
		{"bad currency", `{"stage":"payment","uid":"u","txn":{"id":"t","amount":1,"currency":"YUAN"}}`, pdp.CodeInvalidValue, "txn.currency"},
		{"bad country", `{"stage":"login","uid":"u","device":{"ip_country":"S1"}}`, pdp.CodeInvalidValue, "device.ip_country"},
		{"bad ip", `{"stage":"login","uid":"u","device":{"ip":"300.1.1.1"}}`, pdp.CodeInvalidValue, "device.ip"},
		{"new not bool", `{"stage":"login","uid":"u","device":{"new":"yes"}}`, pdp.CodeWrongType, "device.new"},
		{"bad bin", `{"stage":"payment","uid":"u","txn":{"id":"t","amount":1,"card_bin":"4111-11"}}`, pdp.CodeInvalidValue, "txn.card_bin"},
		{"bad time", `{"stage":"login","uid":"u","account":{"created_at":"yesterday"}}`, pdp.CodeInvalidValue, "account.created_at"},
		{"bad change kind", `{"stage":"login","uid":"u","account":{"recent_changes":[{"kind":"hair_cut","at":"2026-01-01T00:00:00Z"}]}}`, pdp.CodeInvalidValue, "account.recent_changes[0].kind"},
		{"change without at", `{"stage":"login","uid":"u","account":{"recent_changes":[{"kind":"phone_change"}]}}`, pdp.CodeMissingField, "account.recent_changes[0].at"},
		{"unknown top field", `{"stage":"login","uid":"u","amout":5}`, pdp.CodeUnknownField, "amout"},
		{"unknown txn field", `{"stage":"payment","uid":"u","txn":{"id":"t","amount":1,"colour":"red"}}`, pdp.CodeUnknownField, "txn.colour"},
		{"reserved field", `{"stage":"login","uid":"u","verification":{"status":"passed"}}`, pdp.CodeReservedField, "verification"},
		{"reserved derived", `{"stage":"login","uid":"u","derived":{}}`, pdp.CodeReservedField, "derived"},
		{"duplicate key", `{"stage":"login","uid":"u","uid":"v"}`, pdp.CodeDuplicateKey, "uid"},
		{"duplicate in context", `{"stage":"login","uid":"u","context":{"a":1,"a":2}}`, pdp.CodeDuplicateKey, "context.a"},
		{"context not object", `{"stage":"login","uid":"u","context":"x"}`, pdp.CodeWrongType, "context"},
		{"too deep", deep, pdp.CodeTooDeep, "context.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a"},
		{"password", `{"stage":"login","uid":"u","password":"hunter2"}`, pdp.CodeSecretField, "password"},
		{"pay password in context", `{"stage":"login","uid":"u","context":{"payPassword":"1"}}`, pdp.CodeSecretField, "context.payPassword"},
		{"cvv", `{"stage":"payment","uid":"u","txn":{"id":"t","amount":1,"cvv":"123"}}`, pdp.CodeSecretField, "txn.cvv"},
		{"pin", `{"stage":"login","uid":"u","context":{"atm_pin":"1234"}}`, pdp.CodeSecretField, "context.atm_pin"},
		{"sms code", `{"stage":"login","uid":"u","context":{"sms_code":"123456"}}`, pdp.CodeSecretField, "context.sms_code"},
		{"otp", `{"stage":"login","uid":"u","context":{"otp":"123456"}}`, pdp.CodeSecretField, "context.otp"},
		{"card number key", `{"stage":"login","uid":"u","context":{"cardNumber":"x"}}`, pdp.CodeSecretField, "context.cardNumber"},
		{"expiry", `{"stage":"login","uid":"u","context":{"card":{"expiry":"12/29"}}}`, pdp.CodeSecretField, "context.card.expiry"},
		{"card number value", `{"stage":"login","uid":"u","context":{"note":"card 4111 1111 1111 1111"}}`, pdp.CodeCardNumber, "context.note"},
		{"card number as number", `{"stage":"login","uid":"u","context":{"ref":4111111111111111}}`, pdp.CodeCardNumber, "context.ref"},
		{"card number in category", `{"stage":"payment","uid":"u","txn":{"id":"t","amount":1,"category":"5500-0000-0000-0004"}}`, pdp.CodeCardNumber, "txn.category"},
		{"card number as the instrument", `{"stage":"withdrawal","uid":"u","txn":{"id":"t","amount":1,"currency":"CNY","instrument":"4111111111111111"}}`, pdp.CodeCardNumber, "txn.instrument"},
		{"card number in array", `{"stage":"login","uid":"u","context":{"x":["a","378282246310005"]}}`, pdp.CodeCardNumber, "context.x[1]"},
		{"card number with dots", `{"stage":"login","uid":"u","context":{"n":"4111.1111.1111.1111"}}`, pdp.CodeCardNumber, "context.n"},
		{"card number in arabic-indic digits", `{"stage":"login","uid":"u","context":{"n":"٤١١١١١١١١١١١١١١١"}}`, pdp.CodeCardNumber, "context.n"},
		{"card number as a key, not echoed", `{"stage":"login","uid":"u","context":{"4111111111111111":1}}`, pdp.CodeCardNumber, "context.411111******1111"},
		{"duplicate card number key, not echoed", `{"stage":"login","uid":"u","context":{"4111.1111-1111/1111":1,"4111.1111-1111/1111":2}}`, pdp.CodeDuplicateKey, "context.411111******1111"},
		{"secret written in a key, not echoed", `{"stage":"login","uid":"u","context":{"my password is hunter2":1}}`, pdp.CodeSecretField, "context.my password is ***"},
		{"identity number as a key, not echoed", `{"stage":"login","uid":"u","context":{"n":{"id 11010519491231002X":1}}}`, pdp.CodeIdentityNumber, "context.n.id 110105********002X"},
		{"resident id", `{"stage":"login","uid":"u","context":{"n":"11010519491231002X"}}`, pdp.CodeIdentityNumber, "context.n"},
		{"resident id in device.os", `{"stage":"login","uid":"u","device":{"os":"440308199901010012"}}`, pdp.CodeIdentityNumber, "device.os"},
		{"chinese payment password", `{"stage":"login","uid":"u","context":{"支付密码":"1"}}`, pdp.CodeSecretField, "context.支付密码"},
		{"look-alike cvv", `{"stage":"login","uid":"u","context":{"сvv":"1"}}`, pdp.CodeSecretField, "context.сvv"},
		{"unknown top field naming a secret", `{"stage":"login","uid":"u","zhifu_mima":"1"}`, pdp.CodeSecretField, "zhifu_mima"},
		// The context keys the policy reads have a type: a flag it cannot
		// read would silently not fire.
		{"guidance as a string", `{"stage":"payment","uid":"u","txn":{"id":"t","amount":1,"currency":"CNY"},"context":{"third_party_guidance":"true"}}`, pdp.CodeWrongType, "context.third_party_guidance"},
		{"guidance as a number", `{"stage":"login","uid":"u","context":{"third_party_guidance":1}}`, pdp.CodeWrongType, "context.third_party_guidance"},
		{"remote assistance null", `{"stage":"login","uid":"u","context":{"remote_assistance":null}}`, pdp.CodeWrongType, "context.remote_assistance"},
		{"remote assistance as a string", `{"stage":"login","uid":"u","context":{"channel":"app","remote_assistance":"yes"}}`, pdp.CodeWrongType, "context.remote_assistance"},
		{"statement as a number", `{"stage":"login","uid":"u","context":{"user_statement":42}}`, pdp.CodeWrongType, "context.user_statement"},
		{"statement as an array", `{"stage":"login","uid":"u","context":{"user_statement":["客服"]}}`, pdp.CodeWrongType, "context.user_statement"},
		{"statement too long", `{"stage":"login","uid":"u","context":{"user_statement":"` + strings.Repeat("安", MaxStatement/3+1) + `"}}`, pdp.CodeInvalidValue, "context.user_statement"},
		{"statement too long once canonical", `{"stage":"login","uid":"u","context":{"user_statement":"` + strings.Repeat("\ufdfa", 100) + `"}}`, pdp.CodeInvalidValue, "context.user_statement"},
		{"card number in statement", `{"stage":"login","uid":"u","context":{"user_statement":"my card 4111 1111 1111 1111"}}`, pdp.CodeCardNumber, "context.user_statement"},
		{"duplicate statement", `{"stage":"login","uid":"u","context":{"user_statement":"a","user_statement":"b"}}`, pdp.CodeDuplicateKey, "context.user_statement"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeRequest([]byte(c.body), time.Now(), testLimits)
			var e *pdp.Error
			if !errors.As(err, &e) {
				t.Fatalf("want *pdp.Error, got %v", err)
			}
			if e.Code != c.code || e.Field != c.field {
				t.Fatalf("got %s at %q (%s), want %s at %q", e.Code, e.Field, e.Message, c.code, c.field)
			}
		})
	}
}

func TestDecodeAccepts(t *testing.T) {
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	in, err := DecodeRequest(PaymentWithChangeAt(now.Add(-24*time.Hour)), now, testLimits)
	if err != nil {
		t.Fatal(err)
	}
	r := in.Req
	if r.Stage != pdp.StagePayment || r.UID != "u-1001" || r.RequestID != "r-1" || r.Txn.Amount != 6800 ||
		r.Txn.Currency != "CNY" || r.Device.New != pdp.True || r.Device.IPCountry != "SG" || !r.HasTxn {
		t.Fatalf("typed request: %+v", r)
	}
	if in.Derived.AccountAgeDays != 2092 || !in.Derived.IPForeign || in.Derived.CrossBorder {
		t.Fatalf("derived: %+v", in.Derived)
	}
	if h := in.Derived.SensitiveChangeHours; h != 24 {
		t.Fatalf("sensitive change hours = %v, want 24", h)
	}
	doc := in.Term().String()
	for _, want := range []string{`"money": true`, `"outflow": true`, `"session_age_s": 120`, `"amount": 6800.00`} {
		if !strings.Contains(doc, want) {
			t.Errorf("input document lacks %s: %s", want, doc)
		}
	}
}

func TestDecodeNormalizes(t *testing.T) {
	body := `{"stage":"login","uid":"u","device":{"ip":"::ffff:192.0.2.1","ip_country":"sg"},"account":{"home_country":"cn"},
		"context":{"id_like":"order 4111111111111112","esc":"\u00e9\ud83d\ude00\n"}}`
	in, err := DecodeRequest([]byte(body), time.Now(), testLimits)
	if err != nil {
		t.Fatal(err)
	}
	if in.Req.Device.IP != "192.0.2.1" || in.Req.Device.IPCountry != "SG" || in.Req.Account.HomeCountry != "CN" {
		t.Fatalf("not normalized: %+v", in.Req)
	}
	if !in.Derived.IPForeign || in.Req.HasTxn || in.Req.Stage.NeedsTxn() {
		t.Fatalf("derived: %+v", in.Derived)
	}
	if !strings.Contains(in.Term().String(), "é😀\\n") {
		t.Fatalf("escapes not decoded: %s", in.Term())
	}
}

// TestDecodeContext: the flags and the statement are typed, the statement
// canonicalized (NFKC); every other context key stays free-form.
func TestDecodeContext(t *testing.T) {
	body := `{"stage":"login","uid":"u","context":{"third_party_guidance":false,"remote_assistance":true,
		"user_statement":"ＡｎｙＤｅｓｋ 已装好","channel":7,"session":{"age_s":120,"tags":["a",null]},"plain":"客服"}}`
	in, err := DecodeRequest([]byte(body), time.Now(), testLimits)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{
		"third_party_guidance": "false", "remote_assistance": "true", "user_statement": `"AnyDesk 已装好"`,
		"channel": "7", "session": `{"age_s": 120, "tags": ["a", null]}`, "plain": `"客服"`,
	} {
		got := in.Lookup(ast.MustParseRef("input.context." + path)[1:])
		if got == nil || got.String() != want {
			t.Errorf("context.%s = %v, want %s", path, got, want)
		}
	}
	if s := in.Term().String(); !strings.Contains(s, `"user_statement": "AnyDesk 已装好"`) {
		t.Fatalf("input document: %s", s)
	}
	// A statement already canonical is kept as sent, a long one up to the
	// limit accepted.
	long := strings.Repeat("安", MaxStatement/3)
	in, err = DecodeRequest([]byte(`{"stage":"login","uid":"u","context":{"user_statement":"`+long+`"}}`), time.Now(), testLimits)
	if err != nil {
		t.Fatal(err)
	}
	if got := in.Lookup(ast.MustParseRef("input.context.user_statement")[1:]); got == nil || got.Value != ast.String(long) {
		t.Fatalf("statement at the limit: %v", got)
	}
}

func TestIDFieldsAreExemptFromCardScan(t *testing.T) {
	body := `{"stage":"payment","uid":"4111111111111111","request_id":"4111111111111111",
		"txn":{"id":"4111111111111111","amount":1,"currency":"CNY","merchant":"4111111111111111"},"device":{"id":"4111111111111111"}}`
	if _, err := DecodeRequest([]byte(body), time.Now(), testLimits); err != nil {
		t.Fatalf("identifier fields must accept long digit ids: %v", err)
	}
}

// TestSchemaAndEnrichmentKeysAreNotSecret: the keys the sidecar itself
// uses, in requests and in the enrichment the decision log records
// ("pin_1h", "card_bin"), name no secret, or the log would mask the facts
// the policy used.
func TestSchemaAndEnrichmentKeysAreNotSecret(t *testing.T) {
	var walk func(fs []field)
	walk = func(fs []field) {
		for _, f := range fs {
			k := string(f.name.Value.(ast.String))
			if isSecretKey(k) {
				t.Errorf("enrichment key %q looks secret", k)
			}
			walk(f.sub)
		}
	}
	walk(enrichSchema)
	for k := range knownKeys {
		if isSecretKey(k) {
			t.Errorf("schema key %q looks secret", k)
		}
	}
	for k := range reservedKeys {
		if isSecretKey(k) {
			t.Errorf("reserved key %q looks secret", k)
		}
	}
}

func TestSecretKeys(t *testing.T) {
	for key, want := range map[string]bool{
		"password": true, "Password": true, "login_password": true, "payPassword": true, "PAY_PWD": true,
		"pin": true, "atm_pin": true, "pin_code": true, "cvv": true, "CVV2": true, "cvc": true,
		"sms_code": true, "smsCode": true, "verification_code": true, "otp": true, "card_number": true,
		"cardNo": true, "pan": true, "exp_date": true, "expiry": true, "track2": true,
		"pin_failures_1h": false, "shipping": false, "spin": false, "company": false, "amount": false,
		"category": false, "postcode": false, "zip_code": false, "panel": false, "expected": false,
		"card_bin": false, "capacity": false, "pinned": false, "device_id": false,
	} {
		if got := isSecretKey(key); got != want {
			t.Errorf("isSecretKey(%q) = %v, want %v", key, got, want)
		}
	}
}

func TestCardNumbers(t *testing.T) {
	for s, want := range map[string]bool{
		"4111111111111111": true, "4111 1111 1111 1111": true, "4111-1111-1111-1111": true,
		"pay with 5500000000000004 now": true, "378282246310005": true, "6011111111111117": true,
		"4111  1111 1111 1111": true, "4111.1111.1111.1111": true, "04111111111111111": true,
		"4111111111111112": false, "1234567890123452": false, "411111111111": false,
		"order-20261122000000000001": false, "41111111111111111111111": false,
		"4111,1111,1111,1111": false, "4111.1111 1111.1111": false, // the log masks these (pii.Mask)
	} {
		var p parser
		err := p.checkNumbers(s)
		if got := err != nil && err.Code == pdp.CodeCardNumber; got != want {
			t.Errorf("checkNumbers(%q) = %v, want a card_number error: %v", s, err, want)
		}
	}
}

// TestErrorsDoNotEchoNumbers: a card number in a key the strict decoder
// does not know comes back masked in the error's field.
func TestErrorsDoNotEchoNumbers(t *testing.T) {
	var v struct {
		A int `json:"a"`
	}
	err := DecodeStrict([]byte(`{"a":1,"4111.1111-1111/1111":2}`), 8, &v)
	var e *pdp.Error
	if !errors.As(err, &e) || e.Code != pdp.CodeUnknownField || e.Field != "411111******1111" {
		t.Fatalf("got %v, want unknown_field at 411111******1111", err)
	}
}

// strictReq is a request type of every shape exactKeys walks.
type strictReq struct {
	strictBase
	UID    string                 `json:"uid"`
	Limit  *strictInner           `json:"limit"`
	Items  []strictInner          `json:"items"`
	ByName map[string]strictInner `json:"by_name"`
	At     time.Time              `json:"at"`
}

type strictInner struct {
	Currency string `json:"currency"`
}

type strictBase struct {
	Operator string `json:"operator"`
}

// strictCollide has two names that differ in case only: a key spelled as
// one of them may be the other's case-insensitive match.
type strictCollide struct {
	UID   string `json:"uid"`
	Inner struct {
		UID string `json:"UID"`
	} `json:"inner"`
}

// TestStrictKeysExact: a field has one spelling. encoding/json matches
// keys case-insensitively; the strict decoder refuses {"UID": …} for "uid"
// at any depth (embedded structs, slices, maps), naming the key, also
// where the spelling is another field's elsewhere in the type.
func TestStrictKeysExact(t *testing.T) {
	type req = strictReq
	var c strictCollide
	if err := DecodeStrict([]byte(`{"UID":"u","inner":{"UID":"v"}}`), 8, &c); err == nil {
		t.Errorf("a key spelled as another field's was taken: %+v", c)
	}
	if err := DecodeStrict([]byte(`{"uid":"u","inner":{"UID":"v"}}`), 8, &c); err != nil || c.Inner.UID != "v" {
		t.Errorf("exact keys of a type with names that differ in case: %v %+v", err, c)
	}
	for body, field := range map[string]string{
		`{"UID":"u-1"}`:                                   "UID",
		`{"uid":"u-1","Operator":"alice"}`:                "Operator",
		`{"limit":{"CURRENCY":"CNY"}}`:                    "limit.CURRENCY",
		`{"items":[{"currency":"CNY"},{"Currency":"x"}]}`: "items[1].Currency",
		`{"by_name":{"a":{"currencY":"x"}}}`:              "by_name.a.currencY",
		`{"uıd":"u-1"}`:                                   "uıd", // dotless i: not even case-folded
	} {
		var v req
		err := DecodeStrict([]byte(body), 8, &v)
		if e := (*pdp.Error)(nil); !errors.As(err, &e) || e.Code != pdp.CodeUnknownField || e.Field != field {
			t.Errorf("%s: %v, want unknown_field %s", body, err, field)
		}
	}
	var v req
	if err := DecodeStrict([]byte(`{"uid":"u","operator":"a","limit":{"currency":"CNY"},"items":[{"currency":"x"}],"by_name":{"K":{"currency":"y"}},"at":"2026-01-01T00:00:00Z"}`), 8, &v); err != nil ||
		v.UID != "u" || v.Operator != "a" || v.Limit.Currency != "CNY" || v.ByName["K"].Currency != "y" {
		t.Errorf("exact keys: %v %+v", err, v)
	}
}

// Identifiers refuse control characters and lone surrogates: found by the
// bad-input suite, where "u-1\u0000" and "u-\ud800" were decided as
// ordinary (and distinct) UIDs.
func TestIdentifiersRefuseControlAndSurrogates(t *testing.T) {
	for _, uid := range []string{`u-1\u0000`, `u-\ud800`, `u-\udc00x`, `u\n1`, `u\u007f`, `u-\ufffd`} {
		body := `{"stage":"login","uid":"` + uid + `"}`
		_, err := DecodeRequest([]byte(body), time.Now(), testLimits)
		if e := (*pdp.Error)(nil); !errors.As(err, &e) || e.Code != pdp.CodeInvalidValue || e.Field != "uid" {
			t.Errorf("%s: %v, want invalid_value uid", body, err)
		}
	}
	// Free text keeps its line breaks.
	body := `{"stage":"withdrawal","uid":"u","txn":{"id":"t","amount":1,"currency":"CNY"},"context":{"user_statement":"line 1\nline 2"}}`
	if _, err := DecodeRequest([]byte(body), time.Now(), testLimits); err != nil {
		t.Errorf("free text with a newline: %v", err)
	}
}
