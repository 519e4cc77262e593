package sim

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// testEpisode builds an episode of scenario sc for a fixed account.
func testEpisode(sc *Scenario, build func(b *builder)) *Episode {
	a := newAccount(1, 7, DefaultStart)
	e := &Episode{Scenario: sc, Start: DefaultStart, Seq: 1, r: rand.New(rand.NewPCG(1, 2)), actor: customer}
	b := &builder{e: e, r: e.r, a: a, at: DefaultStart, payDelay: [2]int{5, 40}}
	build(b)
	return e
}

var (
	allow   = &Answer{Outcome: "allow"}
	deny    = &Answer{Outcome: "deny", Reasons: []string{"x"}}
	stepUp2 = &Answer{Outcome: "step_up", Reasons: []string{"sensitive_change_before_large_amount"},
		Methods: []string{"face", "sms"}, ChallengeID: "c2.test"}
)

// drive plays the episode: answers[i] answers the i-th decide call; it
// returns the calls made.
func drive(t *testing.T, e *Episode, answers ...*Answer) []Call {
	t.Helper()
	var calls []Call
	var prev *Answer
	for n := 0; ; n++ {
		c, ok := e.Next(prev)
		if !ok {
			return calls
		}
		if n > 100 {
			t.Fatal("episode does not end")
		}
		calls = append(calls, c)
		prev = nil
		if c.Kind == CallDecide {
			if len(answers) == 0 {
				t.Fatalf("decide call %d has no answer: %s", len(calls), c.Body)
			}
			prev, answers = answers[0], answers[1:]
			c.Txn.observe(prev)
		}
	}
}

func kinds(calls []Call) string {
	var s []string
	for _, c := range calls {
		k := map[CallKind]string{CallDecide: "decide", CallVerify: "verify", CallEvent: "event", CallOutcome: "outcome"}[c.Kind]
		if c.Retry {
			k = "retry"
		}
		s = append(s, k)
	}
	return strings.Join(s, " ")
}

// A customer answers a two-method step-up with both methods passed, then
// retries the same operation (same txn.id, the challenge named) and, once
// the order is allowed, pays it.
func TestStepUpIsVerifiedAndRetried(t *testing.T) {
	e := testEpisode(bigPurchase, func(b *builder) { b.purchase(0, b.device(), "phone", 6000) })
	calls := drive(t, e, stepUp2, allow, allow)
	if got := kinds(calls); got != "decide verify verify retry decide outcome" {
		t.Fatalf("calls: %s", got)
	}
	type verification struct {
		ChallengeID string `json:"challenge_id"`
		Method      string `json:"method"`
		Result      string `json:"result"`
	}
	var v1, v2 verification
	_ = json.Unmarshal(calls[1].Body, &v1)
	_ = json.Unmarshal(calls[2].Body, &v2)
	if v1.Method != "face" || v2.Method != "sms" || v1.Result != "passed" || v2.Result != "passed" || v1.ChallengeID != "c2.test" {
		t.Fatalf("verifications %+v %+v", v1, v2)
	}
	var first, retry, pay wireRequest
	for i, w := range []*wireRequest{&first, &retry, &pay} {
		if err := json.Unmarshal(calls[[]int{0, 3, 4}[i]].Body, w); err != nil {
			t.Fatal(err)
		}
	}
	if retry.Txn.ID != first.Txn.ID || retry.Txn.Amount != first.Txn.Amount || retry.ChallengeID != "c2.test" || first.ChallengeID != "" {
		t.Fatalf("retry %+v of %+v", retry, first)
	}
	if pay.Stage != "payment" || pay.Txn.ID == first.Txn.ID || pay.Txn.Amount != first.Txn.Amount {
		t.Fatalf("payment %+v after order %+v", pay, first)
	}
	order := calls[0].Txn
	if !order.SteppedUp || !order.Allowed() || order.Denied || order.Caught != "step_up" || order.Decisions != 2 {
		t.Fatalf("order %+v", order)
	}
	if calls[1].Delay < 10*time.Second {
		t.Fatalf("a face check took %v", calls[1].Delay)
	}
}

// An order that is not allowed is not paid: a denied or abandoned order
// ends the purchase.
func TestUnallowedOrderIsNotPaid(t *testing.T) {
	for name, a := range map[string]actor{"denied": customer, "abandoned": {abandon: 1}} {
		t.Run(name, func(t *testing.T) {
			e := testEpisode(bigPurchase, func(b *builder) { b.purchase(0, b.device(), "phone", 6000) })
			e.actor = a
			ans := deny
			if name == "abandoned" {
				ans = stepUp2
			}
			calls := drive(t, e, ans)
			if got := kinds(calls); got != "decide" {
				t.Fatalf("calls: %s", got)
			}
			if tx := calls[0].Txn; tx.Allowed() || tx.Abandoned != (name == "abandoned") {
				t.Fatalf("order %+v", tx)
			}
		})
	}
}

// A fraudster who fails a check reports it, retries and is denied; a
// burst shopper whose order is denied skips its payment and goes on with
// the next item; a declined card testing payment is reported failed, an
// allowed withdrawal completed.
func TestFailuresKeepGoingWhereTheyShould(t *testing.T) {
	e := testEpisode(accountTakeover, func(b *builder) {
		o := b.withdraw(0, b.device(), 9000, "", b.newDestination(0))
		o.keepGoing = true
		b.withdraw(60*time.Second, b.device(), 2000, "", b.newDestination(0))
	})
	e.actor = actor{pass: map[string]float64{"": 0}}
	calls := drive(t, e, stepUp2, deny, allow)
	if got := kinds(calls); got != "decide verify verify retry decide outcome" {
		t.Fatalf("takeover calls: %s", got)
	}
	if !strings.Contains(string(calls[1].Body), `"result":"failed"`) || !calls[0].Txn.Denied || !calls[4].Txn.Allowed() ||
		!strings.Contains(string(calls[5].Body), `"status":"completed"`) {
		t.Fatalf("takeover: %s %+v %+v", calls[1].Body, calls[0].Txn, calls[4].Txn)
	}

	e = testEpisode(promotionBurst, func(b *builder) { buildBurst(b, 2, [2]int{15, 40}, [2]int{5, 20}) })
	calls = drive(t, e, deny, allow, allow)
	if got := kinds(calls); got != "decide decide decide outcome" {
		t.Fatalf("burst calls: %s", got)
	}
	var second wireRequest
	_ = json.Unmarshal(calls[1].Body, &second)
	if second.Stage != "order" {
		t.Fatalf("after a denied order the next call is a %s", second.Stage)
	}

	e = testEpisode(cardTesting, func(b *builder) {
		o := b.pay(0, b.device(), "gift_card", 5)
		o.declined, o.keepGoing = true, true
	})
	calls = drive(t, e, allow)
	if got := kinds(calls); got != "decide outcome" || !strings.Contains(string(calls[1].Body), `"status":"failed"`) {
		t.Fatalf("card testing calls: %s %s", got, calls[len(calls)-1].Body)
	}
}

// A step-up that keeps coming back is abandoned after maxRounds.
func TestRepeatedStepUpIsAbandoned(t *testing.T) {
	e := testEpisode(dailyPayment, func(b *builder) { b.pay(0, b.device(), "groceries", 80) })
	calls := drive(t, e, stepUp2, stepUp2, stepUp2)
	if got := kinds(calls); got != "decide verify verify retry verify verify retry" {
		t.Fatalf("calls: %s", got)
	}
	if tx := calls[0].Txn; !tx.Abandoned || tx.Allowed() || tx.Decisions != 3 {
		t.Fatalf("txn %+v", tx)
	}
}

// Only a customer's own transactions count towards velocity abuse, an
// order and its payment once, more than VelocityAbuse within a minute.
func TestVelocityAbuseCountsPurchasesInAMinute(t *testing.T) {
	t0 := DefaultStart
	mk := func(uid string, secs []int, withPayments bool, sc *Scenario) []*Txn {
		var out []*Txn
		for i, s := range secs {
			id := uid + string(rune('a'+i))
			out = append(out, &Txn{ID: id, UID: uid, Stage: "order", Scenario: sc, At: t0.Add(time.Duration(s) * time.Second)})
			if withPayments {
				out = append(out, &Txn{ID: id + "p", UID: uid, Stage: "payment", OrderID: id, Scenario: sc, At: t0.Add(time.Duration(s+1) * time.Second)})
			}
		}
		return out
	}
	var txns []*Txn
	txns = append(txns, mk("six", []int{0, 10, 20, 30, 40, 60}, true, promotionBurst)...)
	txns = append(txns, mk("five", []int{0, 10, 20, 30, 40, 61, 200}, true, promotionBurst)...)
	txns = append(txns, mk("victim", []int{0, 1, 2, 3, 4, 5}, false, cardTesting)...)
	got := velocityAbusers(txns)
	if !got["six"] || got["five"] || got["victim"] || len(got) != 1 {
		t.Fatalf("abusers %v", got)
	}
}

func TestParseAnswer(t *testing.T) {
	for _, tc := range []struct {
		body string
		ok   bool
	}{
		{`{"outcome":"allow","reasons":[]}`, true},
		{`{"outcome":"step_up","reasons":["large_amount"],"step_up":{"methods":["face"],"challenge_id":"c2.x"}}`, true},
		{`{"outcome":"step_up","reasons":["large_amount"]}`, false},
		{`{"outcome":"maybe"}`, false},
		{`{"error":{"code":"wrong_type"}}`, false},
		{`not json`, false},
	} {
		a, err := ParseAnswer([]byte(tc.body))
		if (err == nil) != tc.ok {
			t.Errorf("%s: %+v, %v", tc.body, a, err)
		}
	}
}

func FuzzParseAnswer(f *testing.F) {
	f.Add([]byte(`{"outcome":"step_up","step_up":{"methods":["face"],"challenge_id":"c"}}`))
	f.Add([]byte(`{"outcome":"deny","reasons":["x"]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseAnswer(b)
		if err != nil {
			return
		}
		switch a.Outcome {
		case "allow", "deny":
		case "step_up":
			if a.ChallengeID == "" || len(a.Methods) == 0 {
				t.Fatalf("step_up without a challenge accepted: %q", b)
			}
		default:
			t.Fatalf("outcome %q accepted", a.Outcome)
		}
	})
}
