package admin

import (
	"fmt"
	"testing"
)

// A limit's currency is stored in the one spelling requests are decided
// in ("usd" is USD); anything that is not three ASCII letters ("€",
// "US$", "   ") is refused naming the field, and nothing is journaled.
func TestLimitCurrencySpelling(t *testing.T) {
	a := newTestAPI(t)
	act := `"operator":"alice","reason":"chargeback pattern","ticket":"RISK-7"`
	for _, cur := range []string{"€", "US$", "   ", "1$x", "US", "USDT", "ＵＳＤ"} {
		code, m := a.do("PUT", "/admin/v1/accounts/u-1/limit", fmt.Sprintf(`{%s,"max_amount":100,"currency":%q}`, act, cur))
		if c, field, _ := errorOf(m); code != 400 || c != "invalid_value" || field != "currency" {
			t.Errorf("currency %q: %d %v", cur, code, m)
		}
	}
	if j := a.journal(); len(j) != 0 {
		t.Fatalf("journaled: %+v", j)
	}
	code, m := a.do("PUT", "/admin/v1/accounts/u-1/limit", `{`+act+`,"max_amount":100,"currency":"usd"}`)
	limits, _ := m["limits"].([]any)
	if code != 200 || len(limits) != 1 || limits[0].(map[string]any)["currency"] != "USD" {
		t.Fatalf("currency usd: %d %v", code, m)
	}
}
