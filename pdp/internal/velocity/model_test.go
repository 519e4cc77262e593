package velocity

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
)

// refKey is the reference model of one key: every event, kept forever, and
// counted by the documented rule at read time.
type refKey struct {
	last   int64
	events []refEvent
	ids    map[string]int64 // other key -> last seen
	fails  [3][]int64
	spends []refEvent
}

type refEvent struct {
	sec    int64
	amount float64
	login  bool
}

// in is the documented rule: ⌊t/B⌋ ≥ ⌊now/B⌋ − N.
func in(t, now, b, n int64) bool { return t/b >= now/b-n }

type refModel map[string]*refKey

func (m refModel) touch(k string, sec int64) (*refKey, int64) {
	r := m[k]
	if r == nil {
		r = &refKey{ids: map[string]int64{}}
		m[k] = r
	}
	r.last = max(r.last, sec)
	return r, r.last
}

func (r *refKey) counts(now int64) pdp.WindowCounts {
	var w pdp.WindowCounts
	if r == nil {
		return w
	}
	now = max(now, r.last)
	for _, e := range r.events {
		if e.login {
			if in(e.sec, now, 300, 12) {
				w.Logins1h++
			}
			continue
		}
		if in(e.sec, now, 5, 12) {
			w.Count1m++
			w.Amount1m += e.amount
		}
		if in(e.sec, now, 300, 12) {
			w.Count1h++
			w.Amount1h += e.amount
		}
		if in(e.sec, now, 3600, 24) {
			w.Count24h++
			w.Amount24h += e.amount
		}
	}
	return w
}

func (r *refKey) distinct(now int64) uint32 {
	var n uint32
	if r == nil {
		return 0
	}
	now = max(now, r.last)
	for _, s := range r.ids {
		if in(s, now, 300, 12) {
			n++
		}
	}
	return min(n, SetCap)
}

func (r *refKey) uidParts(now int64, v *pdp.Velocity) {
	if r == nil {
		return
	}
	now = max(now, r.last)
	c := func(k int, b, n int64) uint32 {
		var x uint32
		for _, s := range r.fails[k] {
			if in(s, now, b, n) {
				x++
			}
		}
		return x
	}
	v.Failures = pdp.Failures{
		Payment1h: c(0, 300, 12), Payment24h: c(0, 3600, 24),
		PIN1h: c(1, 300, 12), PIN24h: c(1, 3600, 24),
		Login1h: c(2, 300, 12), Login24h: c(2, 3600, 24),
	}
	for _, e := range r.spends {
		if in(e.sec, now, 3600, 24) {
			v.Spent24h += e.amount
		}
	}
}

func (m refModel) read(now int64, uid, dev, ip string) pdp.Velocity {
	var v pdp.Velocity
	if uid != "" {
		r := m["u:"+uid]
		v.UID = r.counts(now)
		v.UIDDevices1h = r.distinct(now)
		r.uidParts(now, &v)
	}
	if dev != "" {
		r := m["d:"+dev]
		v.Device = r.counts(now)
		v.DeviceUIDs1h = r.distinct(now)
	}
	if ip != "" {
		v.IP = m["i:"+ip].counts(now)
	}
	return v
}

func (m refModel) observe(now int64, o Observation) {
	e := refEvent{amount: o.Amount, login: o.Login}
	if o.UID != "" {
		r, sec := m.touch("u:"+o.UID, now)
		e.sec = sec
		r.events = append(r.events, e)
		if o.Device != "" {
			r.ids[o.Device] = sec
		}
	}
	if o.Device != "" {
		r, sec := m.touch("d:"+o.Device, now)
		e.sec = sec
		r.events = append(r.events, e)
		if o.UID != "" {
			r.ids[o.UID] = sec
		}
	}
	if o.IP != "" {
		r, sec := m.touch("i:"+o.IP, now)
		e.sec = sec
		r.events = append(r.events, e)
	}
}

// TestAgainstModel drives a tracker and the reference with random requests,
// failures, spends, reads, sweeps and snapshot round trips over time steps
// that cross bucket and window edges, jump days and step back a few seconds.
func TestAgainstModel(t *testing.T) {
	steps := []int64{0, 0, 1, 1, 4, 5, 6, 59, 60, 61, 64, 65, 299, 300, 301, 3599, 3600, 3601, 3900, 86400, 90000, 3 * 86400, -1, -4, -5, -6, -10}
	for _, small := range []uint8{0, 2, smallCap} {
		for seed := range uint64(8) {
			t.Run(fmt.Sprintf("small=%d/seed=%d", small, seed), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(seed, 42))
				tr := newTracker(t, Config{}, small)
				ref := refModel{}
				now := base.Unix()
				// Sweep and Restore drop what has expired at their time; a
				// later call at an earlier time cannot bring it back, so the
				// clock steps back only to the last such time.
				floor := now
				pick := func(prefix string, n int, empty bool) string {
					if empty && rng.IntN(4) == 0 {
						return ""
					}
					return fmt.Sprintf("%s%d", prefix, rng.IntN(n))
				}
				for op := range 3000 {
					// Mostly small steps, so that windows fill up.
					if rng.IntN(3) == 0 {
						now = max(floor, now+steps[rng.IntN(len(steps))])
					}
					ts := time.Unix(now, 0)
					uid, dev, ip := pick("u", 4, false), pick("d", 4, true), pick("i", 2, true)
					var got pdp.Velocity
					r := rng.IntN(100)
					switch {
					case r < 60:
						o := Observation{UID: uid, Device: dev, IP: ip, Amount: float64(rng.IntN(100)), Login: rng.IntN(5) == 0}
						ref.observe(now, o)
						tr.Observe(ts, o, &got)
					case r < 70:
						k := pdp.FailureKind(1 + rng.IntN(3))
						rk, sec := ref.touch("u:"+uid, now)
						rk.fails[k-1] = append(rk.fails[k-1], sec)
						if err := tr.RecordFailure(ts, uid, k); err != nil {
							t.Fatal(err)
						}
						tr.Read(ts, uid, dev, ip, &got)
					case r < 80:
						a := float64(1 + rng.IntN(1000))
						rk, sec := ref.touch("u:"+uid, now)
						rk.spends = append(rk.spends, refEvent{sec: sec, amount: a})
						tr.RecordSpend(ts, uid, "", a)
						tr.Read(ts, uid, dev, ip, &got)
					case r < 95:
						ts = ts.Add(time.Duration(rng.IntN(4000)) * time.Second)
						tr.Read(ts, uid, dev, ip, &got)
					case r < 98:
						tr.Sweep(ts)
						floor = now
						tr.Read(ts, uid, dev, ip, &got)
					default:
						var buf bytes.Buffer
						if err := tr.Snapshot(&buf); err != nil {
							t.Fatal(err)
						}
						tr = newTracker(t, Config{}, small)
						if err := tr.Restore(&buf, ts); err != nil {
							t.Fatalf("op %d: restore: %v", op, err)
						}
						floor = now
						tr.Read(ts, uid, dev, ip, &got)
					}
					if want := ref.read(ts.Unix(), uid, dev, ip); got != want {
						t.Fatalf("op %d (kind %d) at +%ds (%s %s %s):\n got %+v\nwant %+v", op, r, now-base.Unix(), uid, dev, ip, got, want)
					}
				}
			})
		}
	}
}

// Peek reports exactly what Observe reports for the same observation, and
// changes nothing: the next Observe answers as if Peek had not been called.
func TestPeekIsObserveWithoutRecording(t *testing.T) {
	mk := func() *Tracker {
		tr, err := New(Config{SweepInterval: -1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tr.Close() })
		return tr
	}
	a, b := mk(), mk()
	rng := rand.New(rand.NewPCG(7, 9))
	ts := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for i := range 5000 {
		ts = ts.Add(time.Duration(rng.IntN(90)) * time.Second)
		obs := Observation{UID: fmt.Sprintf("u-%d", rng.IntN(20)), Device: fmt.Sprintf("d-%d", rng.IntN(30)),
			IP: fmt.Sprintf("ip-%d", rng.IntN(10)), Amount: float64(rng.IntN(1000)), Login: rng.IntN(5) == 0}
		if rng.IntN(7) == 0 {
			obs.Device = ""
		}
		var peeked, observed pdp.Velocity
		a.Peek(ts, obs, &peeked)
		a.Observe(ts, obs, &observed)
		var want pdp.Velocity
		b.Observe(ts, obs, &want)
		if peeked != want || observed != want {
			t.Fatalf("step %d %+v:\n peek    %+v\n observe %+v\n want    %+v", i, obs, peeked, observed, want)
		}
		if rng.IntN(3) == 0 {
			a.RecordSpend(ts, obs.UID, "", 5)
			b.RecordSpend(ts, obs.UID, "", 5)
		}
	}
}
