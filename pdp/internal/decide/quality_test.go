package decide

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
)

// home is a known customer paying from home: the device, the account.
func homePay(stage, uid, txn, orderID string, amount float64) string {
	order := ""
	if orderID != "" {
		order = fmt.Sprintf(`,"order_id":%q`, orderID)
	}
	return fmt.Sprintf(`{"stage":%q,"uid":%q,"device":{"id":"d-%s","ip":"198.51.100.7","ip_country":"CN"},"txn":{"id":%q%s,"amount":%v,"currency":"CNY","category":"groceries"},"account":{"home_country":"CN","created_at":"2019-01-01T00:00:00Z"}}`,
		stage, uid, uid, txn, order, amount)
}

// Velocity counts purchases, not calls: three grocery purchases in a
// minute, each an order and then its payment, are three (no
// high-frequency deny, no freeze); three payments that each went step_up →
// verified → retry are three as well.
func TestVelocityCountsPurchasesNotCalls(t *testing.T) {
	s, _, clk := newStateService(t, Options{})
	for i := range 3 {
		order := fmt.Sprintf("o-%d", i)
		for _, body := range []string{homePay("order", "u-g", order, "", 60), homePay("payment", "u-g", "p-"+order, order, 60)} {
			clk.Add(5 * time.Second)
			if d := mustDecide(t, s, body); d.Outcome != pdp.Allow {
				t.Fatalf("grocery purchase %d: %+v", i, d)
			}
		}
	}
	for i := range 3 { // from a new phone abroad: each steps up
		body := withdrawalBody("u-v", fmt.Sprintf("t-%d", i), 300)
		clk.Add(5 * time.Second)
		d := mustDecide(t, s, body)
		if d.Outcome != pdp.StepUp {
			t.Fatalf("withdrawal %d: %+v", i, d)
		}
		verify(t, s, d.StepUp.ChallengeID, "face", "passed")
		clk.Add(5 * time.Second)
		if d := mustDecide(t, s, body); d.Outcome != pdp.Allow || slices.Contains(d.Reasons, "high_frequency") {
			t.Fatalf("verified withdrawal %d: %+v", i, d)
		}
	}
}

// Naming one order in many payments makes them no fewer transactions:
// once a payment of the order is allowed, another payment of it (another
// txn.id) counts as a purchase of its own, so eight small payments in 24 s
// naming one order are stopped where eight naming their own orders are;
// a payment after a declined one (another method for the same order) is
// still the order's purchase.
func TestOrderIDCannotHideTransactions(t *testing.T) {
	s, _, clk := newStateService(t, Options{})
	outcomes := func(uid string, sameOrder bool) []pdp.Outcome {
		var got []pdp.Outcome
		for i := range 8 {
			order := fmt.Sprintf("o-%d", i)
			if sameOrder {
				order = "o-0"
			}
			clk.Add(3 * time.Second)
			got = append(got, mustDecide(t, s, homePay("payment", uid, fmt.Sprintf("p-%d", i), order, 20)).Outcome)
		}
		return got
	}
	own, shared := outcomes("u-own", false), outcomes("u-shared", true)
	if !slices.Contains(own, pdp.Deny) || !slices.Equal(own, shared) {
		t.Fatalf("eight payments of their own orders %v, of one order %v: want the same, with a deny", own, shared)
	}
	// The rule itself: a payment of an order paid by another transaction
	// is its own; after a failed or reversed one, or a declined one (never
	// kept), it is the order's; without state it is its own.
	req := func(txn string) *pdp.Request {
		return &pdp.Request{Stage: pdp.StagePayment, Txn: pdp.Txn{ID: txn, OrderID: "o-1"}}
	}
	paid := func(st pdp.OutcomeStatus) *pdp.AccountState {
		p := pdp.Payment{TxnID: "p-1", Purchase: "order:o-1", Stage: pdp.StagePayment}
		if st != 0 {
			p.Outcomes = []pdp.OutcomeMark{{Status: st}}
		}
		return &pdp.AccountState{Payments: []pdp.Payment{p}}
	}
	for _, c := range []struct {
		txn  string
		acct *pdp.AccountState
		want string
	}{
		{"p-2", paid(0), "txn:p-2"},
		{"p-2", paid(pdp.OutcomeCompleted), "txn:p-2"},
		{"p-1", paid(0), "order:o-1"}, // its own retry
		{"p-2", paid(pdp.OutcomeFailed), "order:o-1"},
		{"p-2", paid(pdp.OutcomeReversed), "order:o-1"},
		{"p-2", &pdp.AccountState{}, "order:o-1"},
		{"p-2", nil, "txn:p-2"},
	} {
		if got := purchase(req(c.txn), c.acct); got != c.want {
			t.Errorf("%s with %+v: %q, want %q", c.txn, c.acct, got, c.want)
		}
	}
}

// withdrawalBody is a withdrawal from a phone abroad the account never used
// (one per transaction).
func withdrawalBody(uid, txn string, amount float64) string {
	return fmt.Sprintf(`{"stage":"withdrawal","uid":%q,"device":{"id":"d-new-%s","ip":"203.0.113.9","ip_country":"SG"},"txn":{"id":%q,"amount":%v,"currency":"CNY"},"account":{"home_country":"CN","created_at":"2019-01-01T00:00:00Z"}}`,
		uid, txn, txn, amount)
}

// A release holds together: a verified retry decided again is allowed
// again (its own amount is not counted against its own cap), and a
// verified order's payment is released by the order's check.
func TestReleaseHoldsTogether(t *testing.T) {
	s, _, clk := newStateService(t, Options{})
	// A 6 800 CNY payment from a new phone abroad (a withdrawal of that
	// much to a destination the sidecar does not know would wait a day).
	body := strings.Replace(withdrawalBody("u-r", "t-1", 6800), `"withdrawal"`, `"payment"`, 1)
	d := mustDecide(t, s, body)
	verify(t, s, d.StepUp.ChallengeID, "face", "passed")
	for i := range 2 {
		clk.Add(10 * time.Second)
		if d := mustDecide(t, s, body); d.Outcome != pdp.Allow {
			t.Fatalf("verified retry %d: %+v", i, d)
		}
	}
}

// A verified order's payment (txn.order_id) is released by the order's
// check while it is valid; a payment of more, from another device or in
// another currency is not, and a failed order check denies the payment.
func TestVerifiedOrderReleasesItsPayment(t *testing.T) {
	s, _, clk := newStateService(t, Options{})
	order := func(uid string) string {
		return fmt.Sprintf(`{"stage":"order","uid":%q,"device":{"id":"d-1","ip":"198.51.100.7","ip_country":"CN"},"txn":{"id":"o-1","amount":98000,"currency":"CNY","category":"jewellery","purpose":"wedding","destination_new":false},"account":{"home_country":"CN","created_at":"2019-01-01T00:00:00Z"}}`, uid)
	}
	payment := func(uid, dev string, amount float64, cur string) string {
		return fmt.Sprintf(`{"stage":"payment","uid":%q,"device":{"id":%q,"ip":"198.51.100.7","ip_country":"CN"},"txn":{"id":"p-1","order_id":"o-1","amount":%v,"currency":%q,"category":"jewellery","purpose":"wedding","destination_new":false},"account":{"home_country":"CN","created_at":"2019-01-01T00:00:00Z"}}`, uid, dev, amount, cur)
	}
	d := mustDecide(t, s, order("u-o"))
	if d.Outcome != pdp.StepUp {
		t.Fatalf("a 98 000 CNY jewellery order: %+v", d)
	}
	for _, m := range d.StepUp.Methods {
		verify(t, s, d.StepUp.ChallengeID, m, "passed")
	}
	clk.Add(time.Minute)
	if d := mustDecide(t, s, order("u-o")); d.Outcome != pdp.Allow {
		t.Fatalf("the verified order: %+v", d)
	}
	for name, body := range map[string]string{
		"more than the order": payment("u-o", "d-1", 98001, "CNY"),
		"from another device": payment("u-o", "d-2", 98000, "CNY"),
		"in another currency": payment("u-o", "d-1", 98000, "USD"),
	} {
		clk.Add(10 * time.Second)
		if d := mustDecide(t, s, body); d.Outcome == pdp.Allow {
			t.Errorf("payment %s released by the order's check: %+v", name, d)
		}
	}
	clk.Add(10 * time.Second)
	if d := mustDecide(t, s, payment("u-o", "d-1", 98000, "CNY")); d.Outcome != pdp.Allow {
		t.Fatalf("the verified order's payment: %+v", d)
	}
	// The order is paid: a second payment naming it (another txn.id) is a
	// transaction of its own, which the order's check does not release.
	clk.Add(10 * time.Second)
	if d := mustDecide(t, s, strings.Replace(payment("u-o", "d-1", 98000, "CNY"), `"p-1"`, `"p-2"`, 1)); d.Outcome == pdp.Allow {
		t.Fatalf("a second payment of the paid order released by its check: %+v", d)
	}
	// A failed check of the order denies its payment.
	d = mustDecide(t, s, order("u-f"))
	verify(t, s, d.StepUp.ChallengeID, d.StepUp.Methods[0], "failed")
	clk.Add(10 * time.Second)
	if d := mustDecide(t, s, payment("u-f", "d-1", 98000, "CNY")); d.Outcome != pdp.Deny {
		t.Fatalf("payment of an order whose check failed: %+v", d)
	}
}

// An order is never verified and then left unpayable: whatever the
// caller sends of the purchase (a purpose or none, the merchant said known
// or not), a large order is either denied at once or, verified, its
// payment of the same purchase is allowed; and a payment denied after the
// order's check leaves the account's caps as they were. (A 98 000 CNY
// order with a purpose but no destination_new was stepped up and verified,
// its payment denied extreme_amount_unclear_purpose, and that denial put a
// 15 000 cap over the order's 98 000.)
func TestVerifiedOrderIsPaidOrDeniedAtOnce(t *testing.T) {
	s, st, clk := newStateService(t, Options{})
	for i, extra := range []string{``, `,"purpose":"wedding"`, `,"destination_new":false`, `,"purpose":"wedding","destination_new":false`} {
		uid := fmt.Sprintf("u-%d", i)
		body := func(stage, id, order string) string {
			return fmt.Sprintf(`{"stage":%q,"uid":%q,"device":{"id":"d-1","ip":"198.51.100.7","ip_country":"CN"},"txn":{"id":%q%s,"amount":98000,"currency":"CNY","category":"jewellery"%s},"account":{"home_country":"CN","created_at":"2019-01-01T00:00:00Z"}}`,
				stage, uid, id, order, extra)
		}
		clk.Add(time.Minute)
		d := mustDecide(t, s, body("order", "o-1", ""))
		if d.Outcome == pdp.Deny {
			continue
		}
		if d.Outcome != pdp.StepUp {
			t.Fatalf("order%s: %+v", extra, d)
		}
		for _, m := range d.StepUp.Methods {
			verify(t, s, d.StepUp.ChallengeID, m, "passed")
		}
		clk.Add(10 * time.Second)
		if d := mustDecide(t, s, body("order", "o-1", "")); d.Outcome != pdp.Allow {
			t.Fatalf("verified order%s: %+v", extra, d)
		}
		before, err := st.Account(uid, clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		clk.Add(10 * time.Second)
		if d := mustDecide(t, s, body("payment", "p-1", `,"order_id":"o-1"`)); d.Outcome != pdp.Allow {
			after, _ := st.Account(uid, clk.Now())
			t.Errorf("order%s verified and allowed, its payment: %s %v (limits %+v, then %+v)", extra, d.Outcome, d.Reasons, before.Limits, after.Limits)
		}
	}
}

// A limit is a release's cap: a verified operation that is denied for
// another reason (here the service learnt during the check that the user
// is remotely assisted) releases nothing and sets no cap; the deny
// answered with the conditional release's 15 000 cap and put it on the
// account.
func TestDeniedVerifiedOperationSetsNoCap(t *testing.T) {
	s, st, clk := newStateService(t, Options{})
	body := homePay("payment", "u-c", "t-1", "", 6000)
	d := mustDecide(t, s, body)
	if d.Outcome != pdp.StepUp {
		t.Fatalf("6 000 CNY: %+v", d)
	}
	for _, m := range d.StepUp.Methods {
		verify(t, s, d.StepUp.ChallengeID, m, "passed")
	}
	clk.Add(10 * time.Second)
	assisted := strings.Replace(body, `"account":`, `"context":{"remote_assistance":true},"account":`, 1)
	d = mustDecide(t, s, assisted)
	if d.Outcome != pdp.Deny || d.Limit != nil || slices.ContainsFunc(d.Obligations, func(o pdp.Obligation) bool { return o.Type == pdp.ObligationLimit }) {
		t.Fatalf("the verified retry, remotely assisted: %s %v limit %+v obligations %+v", d.Outcome, d.Reasons, d.Limit, d.Obligations)
	}
	if err := st.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if a, err := st.Account("u-c", clk.Now()); err != nil || len(a.Limits) != 0 {
		t.Fatalf("limits after the denied retry: %+v %v", a, err)
	}
	// The same retry without the assistance is the release, with its cap.
	clk.Add(10 * time.Second)
	if d := mustDecide(t, s, body); d.Outcome != pdp.Allow || d.Limit == nil {
		t.Fatalf("the verified retry: %+v", d)
	}
}

// A traveller pays in the local currency. The reference policy has rates
// for the currencies of the markets its customers travel to, so everyday
// amounts there are valued as what they are: 1 800 JPY was a currency
// without a rate, valued as the most valuable one (14 040 CNY), stepped
// up, and the release's cap then denied the next coffee.
func TestTravellersPayInTheLocalCurrency(t *testing.T) {
	s, _, clk := newStateService(t, Options{})
	home := `{"stage":"payment","uid":"u-t","device":{"id":"d-t","ip":"198.51.100.7","ip_country":"CN"},"txn":{"id":"t-0","amount":60,"currency":"CNY","category":"groceries"},"account":{"home_country":"CN","created_at":"2019-01-01T00:00:00Z"}}`
	if d := mustDecide(t, s, home); d.Outcome != pdp.Allow {
		t.Fatalf("at home: %+v", d)
	}
	for i, c := range []struct {
		country, currency string
		amount            float64
	}{{"JP", "JPY", 1800}, {"KR", "KRW", 25000}, {"TH", "THB", 350}, {"VN", "VND", 150000}, {"MY", "MYR", 40}, {"GB", "GBP", 12}, {"AU", "AUD", 30}, {"TW", "TWD", 400}, {"MO", "MOP", 120}} {
		clk.Add(10 * time.Minute)
		body := fmt.Sprintf(`{"stage":"payment","uid":"u-t","device":{"id":"d-t","ip":"203.0.113.9","ip_country":%q},"txn":{"id":"t-%d","amount":%v,"currency":%q,"category":"groceries"},"account":{"home_country":"CN","created_at":"2019-01-01T00:00:00Z"}}`,
			c.country, i+1, c.amount, c.currency)
		if d := mustDecide(t, s, body); d.Outcome != pdp.Allow {
			t.Errorf("%v %s in %s: %s %v", c.amount, c.currency, c.country, d.Outcome, d.Reasons)
		}
	}
}

// Tiered freezes end to end: a first burst is a temporary freeze that
// lifts itself into a probation; a second burst within the day is a
// review freeze that waits for an operator, and further attempts freeze
// nothing more (a temporary freeze was stacked on the review freeze and
// journaled as a third freeze).
func TestSecondBurstWithinADayIsAReviewFreeze(t *testing.T) {
	s, st, clk := newStateService(t, Options{})
	burst := func(tag string, n int) {
		for i := range n {
			clk.Add(2 * time.Second)
			mustDecide(t, s, homePay("payment", "u-b", fmt.Sprintf("%s-%d", tag, i), "", 20))
		}
	}
	active := func() []pdp.Freeze {
		a, err := st.Account("u-b", clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		var out []pdp.Freeze
		for _, f := range a.Freezes {
			if f.Active(clk.Now()) {
				out = append(out, f)
			}
		}
		return out
	}
	burst("a", 8)
	if f := active(); len(f) != 1 || f[0].Kind != pdp.FreezeTemporary {
		t.Fatalf("after the first burst: %+v", f)
	}
	clk.Add(31 * time.Minute)
	burst("b", 10)
	f := active()
	if len(f) != 1 || f[0].Kind != pdp.FreezeReview || f[0].Rule != "high_frequency_repeated" {
		t.Fatalf("after the second burst, in force: %+v", f)
	}
	clk.Add(2 * time.Hour)
	if d := mustDecide(t, s, homePay("payment", "u-b", "later", "", 20)); d.Outcome != pdp.Deny || !slices.Contains(d.Reasons, "account_frozen") {
		t.Fatalf("two hours later: %+v", d)
	}
	if err := st.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	var freezes int
	if err := st.Journal(t.Context(), state.JournalFilter{UID: "u-b"}, func(a pdp.AuditRecord) error {
		if a.Action == "freeze" {
			freezes++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if freezes != 2 {
		t.Fatalf("%d freeze records in the journal, want 2 (the temporary and the review freeze)", freezes)
	}
}

// Every release starts the probation: a temporary freeze of the policy's
// own (high frequency) that lifts itself leaves a probation in which a
// large payment needs face and SMS, and the freeze is a freeze record of
// the journal (kept like the operators').
func TestAutomaticReleaseStartsProbation(t *testing.T) {
	s, st, clk := newStateService(t, Options{})
	for i := range 6 {
		clk.Add(2 * time.Second)
		mustDecide(t, s, homePay("payment", "u-hf", fmt.Sprintf("t-%d", i), "", 20))
	}
	if d := mustDecide(t, s, homePay("payment", "u-hf", "t-x", "", 20)); !slices.Contains(d.Reasons, "account_frozen") {
		t.Fatalf("after six payments in a minute: %+v", d)
	}
	clk.Add(31 * time.Minute)
	d := mustDecide(t, s, homePay("payment", "u-hf", "t-big", "", 1500))
	if d.Outcome != pdp.StepUp || !slices.Contains(d.Reasons, "probation_large_amount") {
		t.Fatalf("1 500 CNY after the freeze lifted itself: %+v", d)
	}
	var freezes int
	if err := st.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := st.Journal(t.Context(), state.JournalFilter{UID: "u-hf"}, func(a pdp.AuditRecord) error {
		if a.Action == "freeze" {
			freezes++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if freezes != 1 {
		t.Fatalf("%d freeze records in the journal, want 1 (the extensions are decision records)", freezes)
	}
}

// Messages for people: the situation's text from the policy's templates,
// in the request's locale (its language, else the configured one), with
// the freeze's end or the cap filled in, and never a reason code.
func TestMessagesForPeople(t *testing.T) {
	s, _, clk := newStateService(t, Options{})
	withLocale := func(body, locale string) string {
		if locale == "" {
			return body
		}
		return strings.Replace(body, `{"stage"`, fmt.Sprintf(`{"locale":%q,"stage"`, locale), 1)
	}
	step := withdrawalBody("u-m", "t-1", 300)
	cases := []struct {
		body, want string
	}{
		{withLocale(step, "zh"), "为了您的账户安全，请完成身份验证后继续。"},
		{withLocale(step, "zh-CN"), "为了您的账户安全，请完成身份验证后继续。"},
		{withLocale(step, "fr"), "Please verify your identity to continue."}, // the configured default, en
		{step, "Please verify your identity to continue."},
	}
	for _, c := range cases {
		clk.Add(20 * time.Second)
		if d := mustDecide(t, s, c.body); d.Message != c.want {
			t.Errorf("%.60s: %q, want %q", c.body, d.Message, c.want)
		}
	}
	// A scam statement: the anti-fraud warning, in Chinese.
	scam := strings.Replace(withLocale(homePay("withdrawal", "u-s", "t-1", "", 900), "zh"), `"account"`,
		`"context":{"third_party_guidance":true},"account"`, 1)
	d := mustDecide(t, s, scam)
	if d.Warning == nil || !strings.Contains(d.Warning.Message, "110") || !strings.Contains(d.Warning.Message, "安全账户") {
		t.Errorf("anti-fraud warning: %+v", d.Warning)
	}
	// Frozen by the policy for 30 minutes: the message says until when.
	for i := range 7 {
		clk.Add(2 * time.Second)
		d = mustDecide(t, s, homePay("payment", "u-f", fmt.Sprintf("t-%d", i), "", 20))
	}
	until := clk.Now().Add(30 * time.Minute).UTC().Format("2006-01-02 15:04")
	if !strings.Contains(d.Message, until) {
		t.Errorf("frozen: %q, want the end of the freeze %s", d.Message, until)
	}
	// A release: the cap it comes with.
	release := strings.Replace(withLocale(withdrawalBody("u-r", "t-1", 6000), "en"), `"withdrawal"`, `"payment"`, 1)
	d = mustDecide(t, s, release)
	verify(t, s, d.StepUp.ChallengeID, "face", "passed")
	clk.Add(20 * time.Second)
	d = mustDecide(t, s, release)
	if d.Outcome != pdp.Allow || !strings.Contains(d.Message, "15000 CNY") {
		t.Errorf("release with a cap: %s %q", d.Outcome, d.Message)
	}
	for _, m := range []string{d.Message} {
		for _, code := range []string{"step_up_verified", "large_amount", "high_frequency", "new_device"} {
			if strings.Contains(m, code) {
				t.Errorf("message %q names a rule", m)
			}
		}
	}
}

// A freeze or restriction of the policy's whose obligation names no
// probation still leaves one when it lifts itself.
func TestEveryAutomaticReleaseStartsProbation(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	in := &request.Input{Now: now}
	for _, o := range []pdp.Obligation{
		{Type: pdp.ObligationRestrict, Functions: []pdp.Stage{pdp.StageWithdrawal}, Duration: time.Hour, Reason: "r"},
		{Type: pdp.ObligationFreeze, Kind: "temporary", Duration: time.Hour, Reason: "f"},
	} {
		a := &pdp.AccountState{}
		applyObligation(a, o, in, "d-1")
		if p := a.ProbationAt(now.Add(2 * time.Hour)); !p.Active(now.Add(2 * time.Hour)) {
			t.Errorf("%s lifted without a probation: %+v", o.Type, a.Freezes)
		}
	}
}
