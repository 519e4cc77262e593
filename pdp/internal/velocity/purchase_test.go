package velocity

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
)

func newTestTracker(t *testing.T) *Tracker {
	t.Helper()
	tr, err := New(Config{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// A purchase counts once however often it is decided: retries count only
// as attempts, a larger retry counts its increase as one more operation, an
// order and its payment share the purchase, and a day later the same key
// is a new purchase.
func TestRetriesCountOnce(t *testing.T) {
	tr := newTestTracker(t)
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	obs := func(at time.Duration, purchase string, amount float64) pdp.Velocity {
		var v pdp.Velocity
		tr.Observe(t0.Add(at), Observation{UID: "u", Device: "d", IP: "ip", Purchase: purchase, Amount: amount}, &v)
		return v
	}
	steps := []struct {
		at                time.Duration
		purchase          string
		amount            float64
		count, attempts   uint32
		amount1h, device1 float64
	}{
		{0, "txn:t-1", 60, 1, 1, 60, 60},
		{10 * time.Second, "txn:t-1", 60, 1, 2, 60, 60},    // retry after a step-up
		{20 * time.Second, "txn:t-1", 60, 1, 3, 60, 60},    // network retry
		{30 * time.Second, "txn:t-1", 50, 1, 4, 60, 60},    // smaller: nothing more
		{40 * time.Second, "txn:t-1", 100, 2, 5, 100, 100}, // larger: the increase, as one more
		{50 * time.Second, "order:o-1", 200, 3, 6, 300, 300},
		{60 * time.Second, "order:o-1", 200, 3, 7, 300, 300}, // its payment
		{25 * time.Hour, "txn:t-1", 60, 1, 1, 60, 60},        // a day later: new
	}
	for i, s := range steps {
		v := obs(s.at, s.purchase, s.amount)
		if v.UID.Count24h != s.count || v.Attempts1h != s.attempts || v.UID.Amount1h != s.amount1h || v.Device.Amount1h != s.device1 {
			t.Fatalf("step %d (%s %v): count %d attempts %d amount %v device %v; want %d %d %v %v",
				i, s.purchase, s.amount, v.UID.Count24h, v.Attempts1h, v.UID.Amount1h, v.Device.Amount1h, s.count, s.attempts, s.amount1h, s.device1)
		}
	}
}

// A purchase adds to the day's spend once, at its largest amount; a
// payment reported failed takes its spend back from the hour it was added
// in, and nothing of other purchases.
func TestSpendPerPurchase(t *testing.T) {
	tr := newTestTracker(t)
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	spent := func(at time.Duration) float64 {
		var v pdp.Velocity
		tr.Read(t0.Add(at), "u", "", "", &v)
		return v.Spent24h
	}
	tr.RecordSpend(t0, "u", "txn:a", 100)
	tr.RecordSpend(t0.Add(time.Minute), "u", "txn:a", 100) // an allowed retry
	if got := spent(time.Minute); got != 100 {
		t.Fatalf("after a retry: %v", got)
	}
	tr.RecordSpend(t0.Add(2*time.Hour), "u", "txn:a", 150) // larger: the increase
	tr.RecordSpend(t0.Add(3*time.Hour), "u", "txn:b", 40)
	if got := spent(3 * time.Hour); got != 190 {
		t.Fatalf("a 150 and a 40: %v", got)
	}
	if back := tr.UnrecordSpend(t0.Add(4*time.Hour), "u", "txn:a"); back != 150 {
		t.Fatalf("taken back %v, want 150", back)
	}
	if got := spent(4 * time.Hour); got != 40 {
		t.Fatalf("after a's failure: %v", got)
	}
	if back := tr.UnrecordSpend(t0.Add(5*time.Hour), "u", "txn:a"); back != 0 {
		t.Fatalf("taken back twice: %v", back)
	}
	// b's 40 leaves the window a day after it was added, not before.
	if got := spent(26 * time.Hour); got != 40 {
		t.Fatalf("a day after a: %v", got)
	}
	if got := spent(28 * time.Hour); got != 0 {
		t.Fatalf("a day after b: %v", got)
	}
}

// Peek reports what Observe reports for purchases and retries too, and
// records nothing.
func TestPeekIsObserveForPurchases(t *testing.T) {
	a, b := newTestTracker(t), newTestTracker(t)
	rng := rand.New(rand.NewPCG(3, 5))
	ts := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for i := range 3000 {
		ts = ts.Add(time.Duration(rng.IntN(40)) * time.Second)
		obs := Observation{UID: fmt.Sprintf("u-%d", rng.IntN(8)), Device: fmt.Sprintf("d-%d", rng.IntN(10)),
			Purchase: fmt.Sprintf("txn:%d", rng.IntN(30)), Amount: float64(10 * rng.IntN(20)),
			Method: []string{"", "card", "bank"}[rng.IntN(3)], Instrument: []string{"", "i-1", "i-2", "i-3"}[rng.IntN(4)],
			Destination: rng.IntN(4) == 0}
		var peeked, observed, want pdp.Velocity
		a.Peek(ts, obs, &peeked)
		a.Observe(ts, obs, &observed)
		b.Observe(ts, obs, &want)
		if peeked != want || observed != want {
			t.Fatalf("step %d %+v:\n peek    %+v\n observe %+v\n want    %+v", i, obs, peeked, observed, want)
		}
	}
}

// The day's spend a purchase is compared with is the others': an allowed
// purchase decided again does not meet its own amount in Spent24h.
func TestSpendExcludesThePurchaseItself(t *testing.T) {
	tr := newTestTracker(t)
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	var v pdp.Velocity
	tr.Observe(t0, Observation{UID: "u", Purchase: "txn:a", Amount: 6800}, &v)
	tr.RecordSpend(t0, "u", "txn:a", 6800)
	for _, o := range []struct {
		purchase string
		want     float64
	}{{"txn:a", 0}, {"txn:b", 6800}, {"txn:a", 0}} {
		tr.Observe(t0.Add(time.Minute), Observation{UID: "u", Purchase: o.purchase, Amount: 6800}, &v)
		var p pdp.Velocity
		tr.Peek(t0.Add(time.Minute), Observation{UID: "u", Purchase: o.purchase, Amount: 6800}, &p)
		if v.Spent24h != o.want || p.Spent24h != o.want {
			t.Fatalf("%s: Spent24h %v (peek %v), want %v", o.purchase, v.Spent24h, p.Spent24h, o.want)
		}
	}
}

// Distinct counts over the hour: the methods of a UID and of one purchase,
// the UIDs of an instrument, the instruments a UID pays with (a
// withdrawal's destination is not one, and its request gets 0); a repeat
// adds nothing, the hour forgets.
func TestDistinctCounts(t *testing.T) {
	tr := newTestTracker(t)
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	type want struct{ uidMethods, purchaseMethods, instrumentUIDs, uidInstruments uint32 }
	steps := []struct {
		at  time.Duration
		obs Observation
		want
	}{
		{0, Observation{UID: "u", Purchase: "order:o", Method: "card", Instrument: "c-1"}, want{1, 1, 1, 1}},
		{time.Second, Observation{UID: "u", Purchase: "order:o", Method: "card", Instrument: "c-2"}, want{1, 1, 1, 2}},
		{2 * time.Second, Observation{UID: "u", Purchase: "order:o", Method: "bank", Instrument: "b-1"}, want{2, 2, 1, 3}},
		{3 * time.Second, Observation{UID: "u", Purchase: "order:o", Method: "bank", Instrument: "b-1"}, want{2, 2, 1, 3}}, // a retry
		{4 * time.Second, Observation{UID: "u", Purchase: "txn:t", Method: "balance", Instrument: "c-1"}, want{3, 1, 1, 3}},
		{5 * time.Second, Observation{UID: "v", Purchase: "txn:x", Method: "card", Instrument: "c-1"}, want{1, 1, 2, 1}},
		{6 * time.Second, Observation{UID: "v", Purchase: "txn:y", Method: "bank", Instrument: "dest-9", Destination: true}, want{2, 1, 1, 0}},
		{7 * time.Second, Observation{UID: "w", Purchase: "txn:z", Method: "bank", Instrument: "dest-9", Destination: true}, want{1, 1, 2, 0}},
		{8 * time.Second, Observation{UID: "w", Login: true, Method: "card", Instrument: "c-1"}, want{}}, // a login counts nothing
		{2 * time.Hour, Observation{UID: "u", Purchase: "order:o2", Method: "card", Instrument: "c-3"}, want{1, 1, 1, 1}},
	}
	for i, s := range steps {
		var v pdp.Velocity
		tr.Observe(t0.Add(s.at), s.obs, &v)
		got := want{v.UIDMethods1h, v.PurchaseMethods1h, v.InstrumentUIDs1h, v.UIDInstruments1h}
		if got != s.want {
			t.Fatalf("step %d %+v: %+v, want %+v", i, s.obs, got, s.want)
		}
	}
}

// The operator's view of an account reads what the decisions counted for
// it, as it stands: attempts, payment methods and instruments in the hour
// (they read 0 while the decisions saw 16 attempts and 1 instrument).
func TestReadAccountShowsWhatDecisionsCount(t *testing.T) {
	tr := newTestTracker(t)
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	var last pdp.Velocity
	for i, o := range []struct{ purchase, method, instrument string }{
		{"txn:a", "wechat", "i-1"}, {"txn:a", "wechat", "i-1"}, {"txn:b", "card", "i-2"}, {"txn:c", "card", "i-3"}, {"txn:c", "alipay", "i-4"},
	} {
		tr.Observe(t0.Add(time.Duration(i)*time.Second), Observation{UID: "u", Device: "d", Purchase: o.purchase, Amount: 10,
			Method: o.method, Instrument: o.instrument}, &last)
	}
	var v pdp.Velocity
	tr.ReadAccount(t0.Add(5*time.Second), "u", &v)
	if v.Attempts1m != last.Attempts1m || v.Attempts1h != last.Attempts1h || v.Attempts1m != 5 ||
		v.UIDMethods1h != last.UIDMethods1h || v.UIDMethods1h != 3 ||
		v.UIDInstruments1h != last.UIDInstruments1h || v.UIDInstruments1h != 4 ||
		v.UID != last.UID || v.PurchaseMethods1h != 0 || v.InstrumentUIDs1h != 0 {
		t.Fatalf("account view %+v, the last decision counted %+v", v, last)
	}
	var none pdp.Velocity
	tr.ReadAccount(t0, "nobody", &none)
	if none != (pdp.Velocity{}) {
		t.Fatalf("an account never seen: %+v", none)
	}
}
