package velocity

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
)

// An observation and a spend taken back with Undo leave nothing a later
// request could see: tracker a observes and spends every request with a
// receipt and takes a third of them back, tracker b only ever sees the
// others; every answer of a is b's, request after request (purchases and
// their retries, attempts, distinct devices, methods and instruments,
// full distinct sets, small mode, rings and the change between them, the
// day's spend), and so is the number of keys.
func TestUndoAsIfNeverObserved(t *testing.T) {
	for _, small := range []uint8{0, 2, smallCap} {
		for _, wide := range []bool{false, true} {
			t.Run(fmt.Sprintf("small=%d/wide=%v", small, wide), func(t *testing.T) {
				undoAsIfNeverObserved(t, small, wide, 1)
			})
		}
	}
	// Amounts that are not whole: sums may differ in their last bits.
	t.Run("fractional", func(t *testing.T) { undoAsIfNeverObserved(t, smallCap, false, 0.01) })
}

func undoAsIfNeverObserved(t *testing.T, small uint8, wide bool, unit float64) {
	a, b := newTracker(t, Config{}, small), newTracker(t, Config{}, small)
	rng := rand.New(rand.NewPCG(uint64(small)+1, 17))
	uids, devices := 20, 40
	if wide { // few accounts on many devices: the distinct sets fill up
		uids, devices = 3, 150
	}
	pick := func(prefix string, n int) string {
		if rng.IntN(6) == 0 {
			return ""
		}
		return fmt.Sprintf("%s%d", prefix, rng.IntN(n))
	}
	steps := []int{0, 0, 1, 3, 5, 30, 61, 299, 301, 3601, 86400}
	ts := base
	undone := 0
	for i := range 6000 {
		ts = ts.Add(time.Duration(steps[rng.IntN(len(steps))]) * time.Second)
		obs := Observation{UID: fmt.Sprintf("u%d", rng.IntN(uids)), Device: pick("d", devices), IP: pick("i", 10),
			Amount: float64(rng.IntN(500)) * unit, Login: rng.IntN(6) == 0}
		if !obs.Login {
			obs.Purchase, obs.Method, obs.Instrument = pick("p", 30), pick("m", 3), pick("card", 10)
			obs.Destination = rng.IntN(4) == 0
		}
		spend := !obs.Login && rng.IntN(2) == 0
		var rc Receipt
		var got, want pdp.Velocity
		a.ObserveWithReceipt(ts, obs, &got, &rc)
		if spend {
			a.RecordSpendWithReceipt(ts, obs.UID, obs.Purchase, obs.Amount, &rc)
		}
		if rng.IntN(3) == 0 {
			// What the refused request saw is what b, which will never
			// see it, would have counted.
			b.Peek(ts, obs, &want)
			a.Undo(&rc)
			if !rc.Empty() {
				t.Fatal("Undo left the receipt full")
			}
			undone++
		} else {
			b.Observe(ts, obs, &want)
			if spend {
				b.RecordSpend(ts, obs.UID, obs.Purchase, obs.Amount)
			}
		}
		if !sameVelocity(got, want, unit != 1) {
			t.Fatalf("request %d %+v:\n got %+v\nwant %+v", i, obs, got, want)
		}
	}
	if ka, kb := a.Stats().Keys, b.Stats().Keys; ka != kb {
		t.Fatalf("%d keys, want %d", ka, kb)
	}
	t.Logf("%d requests taken back", undone)
}

// sameVelocity compares exactly, or with approx the amounts to a relative
// 1e-9.
func sameVelocity(x, y pdp.Velocity, approx bool) bool {
	if !approx {
		return x == y
	}
	near := func(p, q *float64) bool {
		ok := math.Abs(*p-*q) <= 1e-9*max(1, math.Abs(*q))
		*p = *q
		return ok
	}
	ok := true
	for _, w := range []struct{ p, q *pdp.WindowCounts }{{&x.UID, &y.UID}, {&x.Device, &y.Device}, {&x.IP, &y.IP}} {
		ok = near(&w.p.Amount1m, &w.q.Amount1m) && near(&w.p.Amount1h, &w.q.Amount1h) && near(&w.p.Amount24h, &w.q.Amount24h) && ok
	}
	ok = near(&x.Spent24h, &y.Spent24h) && ok
	return ok && x == y
}

// An id displaced from a full distinct set by the observation comes back.
func TestUndoRestoresAFullSet(t *testing.T) {
	modes(t, func(t *testing.T, small uint8) {
		tr := newTracker(t, Config{}, small)
		var v pdp.Velocity
		for i := range SetCap {
			tr.Observe(at(i), Observation{UID: "u", Device: fmt.Sprintf("d%d", i)}, &v)
		}
		var rc Receipt
		tr.ObserveWithReceipt(at(100), Observation{UID: "u", Device: "d-new"}, &v, &rc)
		tr.Undo(&rc)
		// d0 is the oldest: displaced by d-new, it is back, so seeing it
		// again adds nothing while seeing d-new still would.
		tr.Peek(at(101), Observation{UID: "u", Device: "d0"}, &v)
		if v.UIDDevices1h != SetCap || !tr.sawWith(kindUID, "u", uint32(tr.hash(kindDevice, "d0")), uint32(at(101).Unix())) {
			t.Fatalf("d0 not back: %d", v.UIDDevices1h)
		}
		if tr.sawWith(kindUID, "u", uint32(tr.hash(kindDevice, "d-new")), uint32(at(101).Unix())) {
			t.Fatal("d-new still seen")
		}
	})
}

// Undo is exact for counts while other goroutines observe the same keys
// (run with -race): of 8 × 300 requests of one account, each with a spend,
// the half taken back leave the other half counted.
func TestUndoConcurrent(t *testing.T) {
	const workers, perW = 8, 300
	modes(t, func(t *testing.T, small uint8) {
		tr := newTracker(t, Config{Shards: 4}, small)
		now := at(30)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				var v pdp.Velocity
				for i := range perW {
					var rc Receipt
					obs := Observation{UID: "hot", Device: fmt.Sprintf("d%d", w), IP: "10.0.0.1", Amount: 2,
						Purchase: fmt.Sprintf("p-%d-%d", w, i), Method: "card", Instrument: "shared"}
					tr.ObserveWithReceipt(now, obs, &v, &rc)
					tr.RecordSpendWithReceipt(now, "hot", obs.Purchase, 3, &rc)
					if i%2 == 1 {
						tr.Undo(&rc)
					}
				}
			})
		}
		wg.Wait()
		kept := uint32(workers * perW / 2)
		var v pdp.Velocity
		tr.Peek(now, Observation{UID: "hot", IP: "10.0.0.1", Purchase: "probe"}, &v)
		if v.UID.Count1m != kept+1 || v.UID.Amount1m != float64(2*kept) || v.IP.Count24h != kept+1 ||
			v.Spent24h != float64(3*kept) || v.Attempts1m != kept+1 {
			t.Fatalf("want %d requests kept: %+v", kept, v)
		}
	})
}

// Requests counted while a receipt is outstanding (decisions in flight
// while another waits for its record) stay counted when it is taken back:
// tracker a holds up to four receipts open while it observes other
// requests, then takes them back, newest first; b never sees them. Once
// nothing is outstanding, a answers as b. The requests are at least a
// second apart and the outstanding ones have purchases of their own: the
// limits receipt.go describes (one time per distinct id; a retry of a
// purchase whose first observation is taken back stays a retry) are not
// what this checks.
func TestUndoAfterLaterRequests(t *testing.T) {
	for _, small := range []uint8{0, 2, smallCap} {
		t.Run(fmt.Sprintf("small=%d", small), func(t *testing.T) {
			a, b := newTracker(t, Config{}, small), newTracker(t, Config{}, small)
			rng := rand.New(rand.NewPCG(uint64(small)+5, 3))
			ts := base
			var open []*Receipt
			for i := range 4000 {
				ts = ts.Add(time.Duration(1+rng.IntN(40)) * time.Second)
				obs := Observation{UID: fmt.Sprintf("u%d", rng.IntN(4)), Device: fmt.Sprintf("d%d", rng.IntN(6)),
					IP: fmt.Sprintf("i%d", rng.IntN(3)), Amount: float64(1 + rng.IntN(99)), Login: rng.IntN(6) == 0}
				if !obs.Login {
					obs.Method, obs.Instrument = fmt.Sprintf("m%d", rng.IntN(3)), fmt.Sprintf("c%d", rng.IntN(5))
				}
				var got, want pdp.Velocity
				if len(open) < 4 && rng.IntN(3) == 0 {
					if !obs.Login {
						obs.Purchase = fmt.Sprintf("r-%d", i)
					}
					rc := new(Receipt)
					a.ObserveWithReceipt(ts, obs, &got, rc)
					if !obs.Login {
						a.RecordSpendWithReceipt(ts, obs.UID, obs.Purchase, obs.Amount, rc)
					}
					open = append(open, rc)
					continue
				}
				if !obs.Login {
					obs.Purchase = fmt.Sprintf("p%d", rng.IntN(20))
				}
				a.Observe(ts, obs, &got)
				b.Observe(ts, obs, &want)
				if !obs.Login && rng.IntN(2) == 0 {
					a.RecordSpend(ts, obs.UID, obs.Purchase, obs.Amount)
					b.RecordSpend(ts, obs.UID, obs.Purchase, obs.Amount)
				}
				if len(open) == 0 && got != want {
					t.Fatalf("request %d %+v:\n got %+v\nwant %+v", i, obs, got, want)
				}
				if len(open) > 0 && rng.IntN(2) == 0 {
					k := len(open) - 1
					a.Undo(open[k])
					open = open[:k]
				}
			}
		})
	}
}
