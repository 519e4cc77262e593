package request

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
)

// Generated inputs for the tests and benchmarks of this package and of the
// policy set (the differential tests of the fast path against OPA's
// evaluator, the corpus, the benchmarks): one generator, so both packages
// test on the same inputs.

// GenRequest builds a valid decide request from a seed, covering every
// field the reference policy reads and values on both sides of its
// thresholds.
func GenRequest(seed uint64) string {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	pick := func(xs ...string) string { return xs[r.IntN(len(xs))] }
	var b strings.Builder
	stage := pick("login", "order", "payment", "withdrawal", "repayment")
	fmt.Fprintf(&b, `{"stage":%q,"uid":"u-%d"`, stage, r.IntN(50))
	if r.IntN(4) > 0 {
		fmt.Fprintf(&b, `,"device":{"id":"d-%d","ip_country":%q`, r.IntN(9), pick("CN", "CN", "CN", "SG", "US", "DE"))
		for _, f := range []string{"new", "emulator", "rooted", "proxy"} {
			if r.IntN(3) == 0 {
				fmt.Fprintf(&b, `,%q:%v`, f, r.IntN(2) == 0)
			}
		}
		b.WriteString("}")
	}
	if stage != "login" || r.IntN(5) == 0 {
		amounts := []float64{0, 1, 99.5, 299, 300, 650, 699, 700, 950, 1000, 1999, 2000, 2100, 4999, 5000, 6800.25,
			9000, 15000, 49999.99, 50000, 150000, 2e6}
		fmt.Fprintf(&b, `,"txn":{"id":"t-%d","amount":%v,"currency":%q`, r.IntN(99), amounts[r.IntN(len(amounts))],
			pick("CNY", "USD", "EUR", "SGD", "HKD", "JPY", "BRL", "cny"))
		if r.IntN(4) > 0 {
			fmt.Fprintf(&b, `,"category":%q`, pick("daily_goods", "digital", "phone", "jewellery", "gift_card", "electronics", "travel", "groceries", "toys"))
		}
		if r.IntN(3) == 0 {
			fmt.Fprintf(&b, `,"payment_method":%q`, pick("card", "virtual_card", "wallet"))
		}
		if r.IntN(3) == 0 {
			fmt.Fprintf(&b, `,"ship_country":%q`, pick("CN", "US", "SG"))
		}
		if r.IntN(3) == 0 {
			fmt.Fprintf(&b, `,"purpose":%q`, pick("", "tuition", "rent"))
		}
		if r.IntN(4) == 0 {
			fmt.Fprintf(&b, `,"destination_new":%v`, r.IntN(2) == 0)
		}
		b.WriteString("}")
	}
	if r.IntN(6) > 0 {
		fmt.Fprintf(&b, `,"account":{"home_country":%q`, pick("CN", "CN", "CN", "SG", "US"))
		if r.IntN(5) > 0 {
			days := []int{0, 3, 6, 7, 100, 729, 730, 2000}[r.IntN(8)]
			fmt.Fprintf(&b, `,"created_at":%q`, time.Now().Add(-time.Duration(days)*24*time.Hour-time.Hour).UTC().Format(time.RFC3339))
		}
		if r.IntN(3) == 0 {
			fmt.Fprintf(&b, `,"vip":%v`, r.IntN(2) == 0)
		}
		if r.IntN(3) == 0 {
			hours := []int{1, 71, 73, 500}[r.IntN(4)]
			fmt.Fprintf(&b, `,"recent_changes":[{"kind":%q,"at":%q}]`, pick("phone_change", "password_reset", "profile_change"),
				time.Now().Add(-time.Duration(hours)*time.Hour).UTC().Format(time.RFC3339))
		}
		b.WriteString("}")
	}
	if r.IntN(3) == 0 {
		var ctx []string
		if r.IntN(4) == 0 {
			ctx = append(ctx, fmt.Sprintf(`%q:%v`, pick("third_party_guidance", "remote_assistance"), r.IntN(2) == 0))
		}
		if r.IntN(4) > 0 {
			// Phrases, an actor with a request (with and without an
			// exclusion), each alone, spellings the matcher normalizes.
			ctx = append(ctx, fmt.Sprintf(`"user_statement":%q`, pick("the police said my account is unsafe", "buying a gift",
				"客服让我退款", "客服让我转账到安全账户", "客服让我把验证码告诉他", "客服说没收到验证码可以重新发",
				"我要退款，商品有质量问题", "共 享 屏 幕", "Guiding me over the PHONE", "對方要我開啟屏幕共享",
				"ＡｎｙＤｅｓｋ", "", "I already contacted customer service about the late delivery")))
		}
		if r.IntN(3) == 0 {
			ctx = append(ctx, `"channel":`+pick(`"app"`, `7`, `{"a":[1]}`))
		}
		fmt.Fprintf(&b, `,"context":{%s}`, strings.Join(ctx, ","))
	}
	b.WriteString("}")
	return b.String()
}

// GenEnrichment fills what the decision service would add, from a seed.
func GenEnrichment(seed uint64, in *Input) {
	r := rand.New(rand.NewPCG(seed^0x5bd1e995, seed))
	if r.IntN(5) == 0 {
		return // state off
	}
	in.Enrich.HasReputation = true
	for i := range in.Enrich.Reputation {
		in.Enrich.Reputation[i] = pdp.Reputation{Blocked: r.IntN(12) == 0, Allowed: r.IntN(8) == 0, VIP: r.IntN(8) == 0}
	}
	n := func(xs ...uint32) uint32 { return xs[r.IntN(len(xs))] }
	v := &pdp.Velocity{
		UIDDevices1h: n(1, 3, 4), DeviceUIDs1h: n(1, 3, 4), Spent24h: []float64{0, 800, 9999.5}[r.IntN(3)],
		Failures: pdp.Failures{Payment1h: n(0, 0, 4, 5), PIN1h: n(0, 0, 4, 5), Login1h: n(0, 0, 4, 5)},
	}
	v.UID = pdp.WindowCounts{Count1m: n(1, 1, 5, 6), Count1h: n(1, 30), Amount1h: []float64{100, 100, 15000, 14999.99}[r.IntN(4)]}
	in.Enrich.Velocity = v
	if r.IntN(3) == 0 {
		st := []string{"pending", "passed", "failed", "refused"}[r.IntN(4)]
		in.Enrich.Verification = VerificationView{Status: st, Methods: []string{"face", "sms"}, Passed: []string{"face"}}
	}
	a := &AccountView{Frozen: r.IntN(10) == 0, StageRestricted: r.IntN(10) == 0, Probation: r.IntN(5) == 0,
		EverFrozen: r.IntN(5) == 0, KnownDevices: r.IntN(4)}
	if r.IntN(4) == 0 {
		a.DailyAmount, a.MaxAmount, a.LimitCurrency = []float64{0, 1000}[r.IntN(2)], []float64{0, 500}[r.IntN(2)], "CNY"
		if a.DailyAmount > 0 && r.IntN(2) == 0 {
			a.OperatorDailyAmount = a.DailyAmount // an operator's cap
		}
	}
	in.Enrich.Account = a
	if in.Req.Device.ID != "" {
		in.SetDeviceKnown(r.IntN(6) > 0)
	}
	if r.IntN(2) == 0 {
		in.NoteFirstSeen(in.Now.Add(-time.Duration([]int{0, 3, 6, 7, 100, 729, 730, 2000}[r.IntN(8)]) * 24 * time.Hour))
	}
	if r.IntN(8) == 0 {
		in.Enrich.Unknown = []string{[]string{"reputation", "account", "verification"}[r.IntN(3)]}
		if in.Enrich.Unknown[0] == "account" {
			in.Enrich.Account = nil
		}
	}
	for _, p := range []string{"fraud_model", "habit_deviation", "device_risk"} {
		if r.IntN(3) == 0 {
			in.Enrich.Scores = append(in.Enrich.Scores, Score{Plugin: p, Score: []float64{0.1, 0.69, 0.6999994, 0.6999995, 0.7, 0.7000004, 0.95, 0.97}[r.IntN(8)], Reasons: []string{"x"}})
		}
		if r.IntN(6) == 0 {
			in.Enrich.Unavailable = append(in.Enrich.Unavailable, p)
		}
	}
	if r.IntN(4) == 0 {
		// A clean history (most real traffic): what makes an allow.
		in.Enrich.Reputation = [4]pdp.Reputation{}
		v.UID, v.Failures, v.UIDDevices1h, v.DeviceUIDs1h = pdp.WindowCounts{Count1m: 1, Count1h: 1}, pdp.Failures{}, 1, 1
		in.Enrich.Verification, in.Enrich.Unknown, in.Enrich.Unavailable = VerificationView{}, nil, nil
		in.Enrich.Account = &AccountView{KnownDevices: 1}
		in.Enrich.Scores = nil
		if in.Req.Device.ID != "" {
			in.SetDeviceKnown(true)
		}
	}
}

// PaymentWithChangeAt is a payment with a phone change at t.
func PaymentWithChangeAt(t time.Time) []byte {
	return []byte(strings.Replace(`{"request_id":"r-1","stage":"payment","uid":"u-1001",
 "device":{"id":"d-77","ip":"203.0.113.7","ip_country":"SG","new":true},
 "txn":{"id":"t-9","amount":6800.00,"currency":"CNY","category":"digital","merchant":"m-1","payment_method":"card","ship_country":"CN"},
 "account":{"home_country":"CN","created_at":"2021-03-01T00:00:00Z","recent_changes":[{"kind":"phone_change","at":"@RECENT@"}]},
 "context":{"channel":"app","session_age_s":120}}`, "@RECENT@", t.UTC().Format(time.RFC3339), 1))
}
