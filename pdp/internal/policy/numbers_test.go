package policy

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
)

// Numbers at the float limits. Found by the bad-input suite against a live
// sidecar: an amount of 5e-999999999999999999 reached OPA's number
// comparison, whose big.Float cannot parse that exponent and panics, which
// took the whole process down. Literals with an exponent are now read
// through float64 (underflow → 0) and ones beyond its range refused.
func TestNumbersAtFloatLimits(t *testing.T) {
	e, _ := newEngine(t, testSource(), time.Second)
	cmp, _ := newEngine(t, mapSource(map[string]string{"p.rego": `package riskpdp
step_up contains "big_n" if input.context.n > 10
deny contains "neg_n" if input.context.n < -10`}), time.Second)
	body := func(amount, n string) string {
		return `{"stage":"payment","uid":"u","txn":{"id":"t","amount":` + amount + `,"currency":"CNY"},"context":{"n":` + n + `}}`
	}
	zero, _, err := decide(t, e, body("0", "0"))
	if err != nil {
		t.Fatal(err)
	}
	for _, lit := range []string{"-0", "0.0", "-0.0", "0e0", "-0e-0", "1e-400", "5e-999999999999999999", "0.0000e99999999999999"} {
		got, _, err := decide(t, e, body(lit, lit))
		if err != nil || !reflect.DeepEqual(got, zero) {
			t.Errorf("amount %s: %+v, %v; want as amount 0: %+v", lit, got, err, zero)
		}
		if r, _, err := decide(t, cmp, body("1", lit)); err != nil || len(r.Reasons) != 0 {
			t.Errorf("context.n %s: %+v %v", lit, r, err)
		}
	}
	for lit, reason := range map[string]string{"1e300": "big_n", "-1e300": "neg_n", strings.Repeat("9", 400): "big_n",
		"1" + strings.Repeat("0", 400) + "e-398": "big_n"} {
		if r, _, err := decide(t, cmp, body("1", lit)); err != nil || len(r.Reasons) != 1 || r.Reasons[0] != reason {
			t.Errorf("context.n %.20s: %+v %v, want %s", lit, r, err, reason)
		}
	}
	for _, lit := range []string{"1e309", "-1e309", "1e999999999999999999", "-5e999999999999999999"} {
		for _, b := range []string{body(lit, "1"), body("1", lit)} {
			_, err := request.DecodeRequest([]byte(b), time.Now(), testLimits)
			if e := (*pdp.Error)(nil); !errors.As(err, &e) || e.Code != pdp.CodeInvalidValue {
				t.Errorf("%s: %v, want invalid_value", b, err)
			}
		}
	}
}

// A panic inside evaluation is an error (ErrPanic), which the decision
// service turns into the fallback; here a nil input makes one.
func TestEvaluatePanicIsAnError(t *testing.T) {
	e, _ := newEngine(t, testSource(), time.Second)
	if _, _, err := e.Evaluate(context.Background(), nil); !errors.Is(err, ErrPanic) {
		t.Fatalf("Evaluate(nil) = %v, want ErrPanic", err)
	}
}
