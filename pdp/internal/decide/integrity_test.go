package decide

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/config"
	"github.com/riskpdp/riskpdp/pdp/internal/metrics"
	"github.com/riskpdp/riskpdp/pdp/internal/policy"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
)

// testClock is a settable clock shared by a Service and its Store.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newStateService is the decision path over the reference policy with a
// real state file and velocity, on a clock the test moves.
func newStateService(t *testing.T, o Options) (*Service, *state.Store, *testClock) {
	t.Helper()
	clk := &testClock{t: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}
	st, err := state.Open(state.Config{Path: filepath.Join(t.TempDir(), "state.db"), SweepInterval: -1, Clock: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	o.State, o.Now = st, clk.Now
	if o.Velocity == nil {
		o.Velocity = newTracker(t)
	}
	return newTestService(t, o), st, clk
}

// verify reports one result through the service and fails the test on an
// error.
func verify(t *testing.T, s *Service, challenge, method, result string) pdp.Verification {
	t.Helper()
	v, err := s.Verify(context.Background(), []byte(fmt.Sprintf(`{"challenge_id":%q,"method":%q,"result":%q}`, challenge, method, result)))
	if err != nil {
		t.Fatalf("verify %s %s: %v", method, result, err)
	}
	return v
}

// metricValue reads one sample of the service's metrics ("" when absent).
func metricValue(t *testing.T, s *Service, sample string) string {
	t.Helper()
	var buf bytes.Buffer
	if err := s.metrics.Write(&buf); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(buf.String(), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			return v
		}
	}
	return ""
}

// op is a money movement as the tests write it.
type op struct {
	stage, uid, txn, currency, device string
	amount                            float64
	extraDevice                       string // more device members
	instrument                        string // txn.instrument, when not ""
}

func (o op) body() string {
	dev := ""
	if o.device != "" {
		dev = fmt.Sprintf(`"device":{"id":%q,"ip":"203.0.113.7","ip_country":"SG"%s},`, o.device, o.extraDevice)
	}
	instrument := ""
	if o.instrument != "" {
		instrument = fmt.Sprintf(`,"instrument":%q`, o.instrument)
	}
	return fmt.Sprintf(`{"stage":%q,"uid":%q,%s"txn":{"id":%q,"amount":%v,"currency":%q%s},"account":{"home_country":"CN","created_at":"2020-01-01T00:00:00Z"}}`,
		o.stage, o.uid, dev, o.txn, o.amount, o.currency, instrument)
}

// A passed check releases exactly the operation it was issued for: a
// retry with a larger (or any other) amount, another currency, device,
// destination (txn.instrument) or stage, or a login check reused for a
// payment, is decided afresh and counted; the exact retry is still
// released afterwards.
func TestVerificationReleasesOnlyWhatWasVerified(t *testing.T) {
	s, _, clk := newStateService(t, Options{})
	decide := func(body string) *pdp.Decision {
		clk.Add(20 * time.Second) // a person's pace: no velocity rule fires
		return mustDecide(t, s, body)
	}
	base := op{stage: "withdrawal", uid: "u-1", txn: "t-1", currency: "CNY", device: "d-1", amount: 4000, instrument: "acct-1"}
	d := decide(base.body())
	if d.Outcome != pdp.StepUp || !slices.Contains(d.StepUp.Methods, "face") {
		t.Fatalf("first attempt: %+v", d)
	}
	if v := verify(t, s, d.StepUp.ChallengeID, "face", "passed"); v.Status() != "passed" {
		t.Fatalf("status after face passed: %s", v.Status())
	}
	retries := []struct {
		name, field string
		o           op
	}{
		{"larger amount", "amount", op{stage: "withdrawal", uid: "u-1", txn: "t-1", currency: "CNY", device: "d-1", amount: 999999999}},
		{"a cent more", "amount", op{stage: "withdrawal", uid: "u-1", txn: "t-1", currency: "CNY", device: "d-1", amount: 4000.01}},
		{"smaller amount", "amount", op{stage: "withdrawal", uid: "u-1", txn: "t-1", currency: "CNY", device: "d-1", amount: 3999}},
		{"another currency", "currency", op{stage: "withdrawal", uid: "u-1", txn: "t-1", currency: "USD", device: "d-1", amount: 4000}},
		{"another device", "device", op{stage: "withdrawal", uid: "u-1", txn: "t-1", currency: "CNY", device: "d-2", amount: 4000,
			extraDevice: `,"emulator":true,"rooted":true,"proxy":true`}},
		{"no device", "device", op{stage: "withdrawal", uid: "u-1", txn: "t-1", currency: "CNY", amount: 4000}},
		{"another destination", "instrument", op{stage: "withdrawal", uid: "u-1", txn: "t-1", currency: "CNY", device: "d-1", amount: 4000, instrument: "acct-evil"}},
		{"no destination", "instrument", op{stage: "withdrawal", uid: "u-1", txn: "t-1", currency: "CNY", device: "d-1", amount: 4000, instrument: "-"}},
	}
	for i := range retries {
		// Each retry differs from the verified operation in its field only.
		switch retries[i].o.instrument {
		case "":
			retries[i].o.instrument = base.instrument
		case "-":
			retries[i].o.instrument = ""
		}
	}
	for _, r := range retries {
		before := metricValue(t, s, fmt.Sprintf(`pdp_challenge_mismatch_total{field=%q}`, r.field))
		d := decide(r.o.body())
		if d.Outcome == pdp.Allow || slices.Contains(d.Reasons, "step_up_verified") {
			t.Errorf("%s: released by the check of another operation: %+v", r.name, d)
		}
		if after := metricValue(t, s, fmt.Sprintf(`pdp_challenge_mismatch_total{field=%q}`, r.field)); after == before {
			t.Errorf("%s: mismatch of %s not counted (%s)", r.name, r.field, after)
		}
	}
	// Another stage with the same transaction id finds no verification.
	if d := decide(op{stage: "payment", uid: "u-1", txn: "t-1", currency: "CNY", device: "d-1", amount: 4000}.body()); d.Outcome == pdp.Allow {
		t.Errorf("a payment released by a withdrawal's check: %+v", d)
	}
	// Naming the challenge does not help a differing retry either.
	named := strings.Replace(op{stage: "withdrawal", uid: "u-1", txn: "t-1", currency: "CNY", device: "d-1", amount: 49999}.body(),
		`{"stage"`, fmt.Sprintf(`{"challenge_id":%q,"stage"`, d.StepUp.ChallengeID), 1)
	if d := decide(named); d.Outcome == pdp.Allow {
		t.Errorf("a larger amount released by naming the challenge: %+v", d)
	}
	// The exact retry is released, with a cap that covers it.
	d = decide(base.body())
	if d.Outcome != pdp.Allow || !slices.Contains(d.Reasons, "step_up_verified") {
		t.Fatalf("exact retry: %+v", d)
	}
	if d.Limit == nil || d.Limit.DailyAmount < 4000 || d.Limit.Currency != "CNY" {
		t.Errorf("release without a cap covering it: %+v", d.Limit)
	}
}

// A login check is bound to the login's device and stage: a payment whose
// transaction id spells the login's key is not released by it.
func TestLoginCheckDoesNotReleasePayment(t *testing.T) {
	s, _, _ := newStateService(t, Options{})
	login := `{"stage":"login","uid":"u-2","device":{"id":"dX","ip":"203.0.113.7","ip_country":"SG","emulator":true},"account":{"home_country":"CN"}}`
	d := mustDecide(t, s, login)
	if d.Outcome != pdp.StepUp {
		t.Fatalf("risky login: %+v", d)
	}
	for _, m := range d.StepUp.Methods {
		verify(t, s, d.StepUp.ChallengeID, m, "passed")
	}
	if d := mustDecide(t, s, login); d.Outcome != pdp.Allow {
		t.Fatalf("login retry after the check: %+v", d)
	}
	pay := op{stage: "payment", uid: "u-2", txn: "login:dX", currency: "CNY", device: "dX", amount: 6000, extraDevice: `,"emulator":true`}
	if d := mustDecide(t, s, pay.body()); d.Outcome == pdp.Allow {
		t.Fatalf("payment released by a login check: %+v", d)
	}
}

// Results reported at the same time for one challenge are all kept:
// a failure wins over a concurrent pass on every challenge, each answer is
// the state its own result produced, and no retry is allowed.
func TestConcurrentResultsFailureWins(t *testing.T) {
	s, st, clk := newStateService(t, Options{})
	const n = 60
	for i := range n {
		o := op{stage: "withdrawal", uid: fmt.Sprintf("u-race-%d", i), txn: "t-1", currency: "CNY", device: fmt.Sprintf("d-%d", i), amount: 4000}
		d := mustDecide(t, s, o.body())
		if d.Outcome != pdp.StepUp {
			t.Fatalf("%d: %+v", i, d)
		}
		results := []string{"failed", "passed"}
		if i%3 == 1 {
			results[0] = "refused"
		}
		if i%2 == 1 {
			results[0], results[1] = results[1], results[0]
		}
		answers := make([]string, 2)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for j, r := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				answers[j] = verify(t, s, d.StepUp.ChallengeID, "face", r).Status()
			}()
		}
		close(start)
		wg.Wait()
		v, ok, err := st.Verification(o.uid, "withdrawal:t-1", clk.Now())
		final := v.Status()
		if err != nil || !ok || (final != "failed" && final != "refused") {
			t.Fatalf("%d: final state %q (%v %v) after %v", i, final, ok, err, results)
		}
		for j, r := range results {
			if r != "passed" && answers[j] != final {
				t.Errorf("%d: %s answered %q, final %q", i, r, answers[j], final)
			}
			if r == "passed" && answers[j] != "passed" && answers[j] != final {
				t.Errorf("%d: passed answered %q, final %q", i, answers[j], final)
			}
		}
		if d := mustDecide(t, s, o.body()); d.Outcome != pdp.Deny {
			t.Errorf("%d: retry after %v answered %s %v", i, results, d.Outcome, d.Reasons)
		}
	}
}

// An allow never moves more than the limit it announces: a policy whose
// `limit` is below the operation's amount (or the day's spend plus it)
// gets a deny (release_over_cap), counted; within the cap the allow
// stands.
func TestAllowWithinTheLimitItAnnounces(t *testing.T) {
	fsys := fstest.MapFS{"riskpdp/policy.rego": {Data: []byte(`package riskpdp

rates := {"CNY": 1, "USD": 7}

limit := {"max_amount": 1000, "daily_amount": 1500, "currency": "CNY"} if input.derived.money == true
`)}}
	cfg := config.Default()
	limits := request.Limits{MaxDepth: cfg.Limits.MaxDepth, MaxAmount: cfg.Limits.MaxAmount}
	eng, err := policy.New(policy.Options{Source: policy.Source{FS: fsys, Label: "test"}, Package: "riskpdp",
		EvalTimeout: time.Second, Limits: limits, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(eng.Close)
	s, err := New(Options{Engine: eng, Metrics: metrics.New(), Limits: limits, Messages: cfg.Messages, Logger: quiet, Velocity: newTracker(t)})
	if err != nil {
		t.Fatal(err)
	}
	pay := func(txn string, amount float64, cur string) *pdp.Decision {
		return mustDecide(t, s, fmt.Sprintf(`{"stage":"payment","uid":"u-cap","txn":{"id":%q,"amount":%v,"currency":%q}}`, txn, amount, cur))
	}
	if d := pay("t-1", 900, "CNY"); d.Outcome != pdp.Allow || d.Limit == nil {
		t.Fatalf("900 CNY under a 1 000 CNY cap: %+v", d)
	}
	for _, c := range []struct {
		amount float64
		cur    string
	}{{1001, "CNY"}, {143, "USD"}, {900, "XYZ"}} { // 143 USD is 1 001 CNY; XYZ has no rate: valued high
		if d := pay("t-x", c.amount, c.cur); d.Outcome != pdp.Deny || !slices.Contains(d.Reasons, ReasonReleaseOverCap) || d.Limit != nil {
			t.Errorf("%v %s over a 1 000 CNY cap: %+v", c.amount, c.cur, d)
		}
	}
	// 900 spent: 700 more is over the 1 500 daily cap.
	if d := pay("t-2", 700, "CNY"); d.Outcome != pdp.Deny || !slices.Contains(d.Reasons, ReasonReleaseOverCap) {
		t.Errorf("700 CNY after 900 under a 1 500 CNY daily cap: %+v", d)
	}
	if got := metricValue(t, s, "pdp_release_over_cap_total"); got != "4" {
		t.Errorf("pdp_release_over_cap_total = %q, want 4", got)
	}
}
