package velocity

import (
	"testing"

	"github.com/riskpdp/riskpdp/pdp"
)

type ev struct {
	s      int // seconds after base
	amount float64
	login  bool
}

func TestWindowSliding(t *testing.T) {
	money := func(s int) ev { return ev{s: s, amount: 1} }
	tests := []struct {
		name   string
		events []ev
		read   int
		want   pdp.WindowCounts
	}{
		{"same second", []ev{money(0)}, 0, wc(1, 1, 1, 1, 1, 1, 0)},
		{"1m: last W included", []ev{money(0)}, 60, wc(1, 1, 1, 1, 1, 1, 0)},
		{"1m: up to B more", []ev{money(0)}, 64, wc(1, 1, 1, 1, 1, 1, 0)},
		{"1m: gone at W+B", []ev{money(0)}, 65, wc(0, 1, 1, 0, 1, 1, 0)},
		{"1m: bucket end, same expiry", []ev{money(4)}, 64, wc(1, 1, 1, 1, 1, 1, 0)},
		{"1m: bucket end gone", []ev{money(4)}, 65, wc(0, 1, 1, 0, 1, 1, 0)},
		{"1m: next bucket", []ev{money(5)}, 69, wc(1, 1, 1, 1, 1, 1, 0)},
		{"1m: next bucket gone", []ev{money(5)}, 70, wc(0, 1, 1, 0, 1, 1, 0)},
		{"1h: last second", []ev{money(299)}, 3899, wc(0, 1, 1, 0, 1, 1, 0)},
		{"1h: gone", []ev{money(299)}, 3900, wc(0, 0, 1, 0, 0, 1, 0)},
		{"24h: last second", []ev{money(3599)}, 89999, wc(0, 0, 1, 0, 0, 1, 0)},
		{"24h: gone", []ev{money(0)}, 90000, wc(0, 0, 0, 0, 0, 0, 0)},
		{"login 1h", []ev{{s: 0, login: true}}, 3899, wc(0, 0, 0, 0, 0, 0, 1)},
		{"login gone", []ev{{s: 0, login: true}}, 3900, wc(0, 0, 0, 0, 0, 0, 0)},
		{"sums across buckets", []ev{{0, 10, false}, {10, 5, false}, {70, 1, false}}, 70,
			wc(2, 3, 3, 6, 16, 16, 0)},
		{"long idle gap", []ev{{0, 7, false}, {48 * 3600, 3, false}}, 48 * 3600,
			wc(1, 1, 1, 3, 3, 3, 0)},
		{"idle gap of years", []ev{{0, 7, false}, {3 * 365 * 86400, 3, false}}, 3 * 365 * 86400,
			wc(1, 1, 1, 3, 3, 3, 0)},
		{"clock back across a bucket: recorded at latest", []ev{money(104), money(98)}, 162,
			wc(2, 2, 2, 2, 2, 2, 0)},
		{"read before the last write reads at it", []ev{money(100)}, 50, wc(1, 1, 1, 1, 1, 1, 0)},
		{"every 5 s for 2 min", every(0, 5, 25), 120, wc(13, 25, 25, 13, 25, 25, 0)},
		{"every 5 min for 2 h", every(0, 300, 25), 7200, wc(1, 13, 25, 1, 13, 25, 0)},
		{"every hour for 2 days", every(0, 3600, 49), 48 * 3600, wc(1, 2, 25, 1, 2, 25, 0)},
	}
	modes(t, func(t *testing.T, small uint8) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tr := newTracker(t, Config{}, small)
				var v pdp.Velocity
				for _, e := range tt.events {
					tr.Observe(at(e.s), Observation{UID: "u", IP: "ip", Amount: e.amount, Login: e.login}, &v)
				}
				tr.Read(at(tt.read), "u", "", "ip", &v)
				if v.UID != tt.want {
					t.Errorf("uid: got %+v, want %+v", v.UID, tt.want)
				}
				if v.IP != tt.want {
					t.Errorf("ip: got %+v, want %+v", v.IP, tt.want)
				}
			})
		}
	})
}

// wc builds WindowCounts: counts 1m, 1h, 24h, amounts 1m, 1h, 24h, logins.
func wc(c1m, c1h, c24h uint32, a1m, a1h, a24h float64, logins uint32) pdp.WindowCounts {
	return pdp.WindowCounts{Count1m: c1m, Count1h: c1h, Count24h: c24h,
		Amount1m: a1m, Amount1h: a1h, Amount24h: a24h, Logins1h: logins}
}

// every is n money events of amount 1, step seconds apart from start.
func every(start, step, n int) []ev {
	evs := make([]ev, n)
	for i := range evs {
		evs[i] = ev{s: start + i*step, amount: 1}
	}
	return evs
}

func TestObserveIncludesRequest(t *testing.T) {
	modes(t, func(t *testing.T, small uint8) {
		tr := newTracker(t, Config{}, small)
		var v pdp.Velocity
		for i := 1; i <= 10; i++ {
			tr.Observe(at(i), Observation{UID: "u", Device: "d", IP: "ip", Amount: 2}, &v)
			want := wc(uint32(i), uint32(i), uint32(i), float64(2*i), float64(2*i), float64(2*i), 0)
			if v.UID != want || v.Device != want || v.IP != want {
				t.Fatalf("request %d: got %+v", i, v)
			}
			if v.UIDDevices1h != 1 || v.DeviceUIDs1h != 1 {
				t.Fatalf("request %d: distinct %d %d", i, v.UIDDevices1h, v.DeviceUIDs1h)
			}
		}
	})
}

func TestEmptyKeysSkipped(t *testing.T) {
	tr := newTracker(t, Config{}, smallCap)
	var v pdp.Velocity
	tr.Observe(at(0), Observation{UID: "u", Amount: 1}, &v)
	if v.Device != (pdp.WindowCounts{}) || v.IP != (pdp.WindowCounts{}) || v.UIDDevices1h != 0 {
		t.Fatalf("got %+v", v)
	}
	tr.Observe(at(0), Observation{Device: "d", Amount: 1}, &v)
	if v.UID != (pdp.WindowCounts{}) || v.Device.Count1m != 1 || v.DeviceUIDs1h != 0 {
		t.Fatalf("got %+v", v)
	}
	if n := tr.Len(); n != 2 {
		t.Fatalf("Len = %d, want 2", n)
	}
}

func TestAmountsCleaned(t *testing.T) {
	tr := newTracker(t, Config{}, smallCap)
	var v pdp.Velocity
	for _, a := range []float64{-5, nan(), inf(), 3} {
		tr.Observe(at(0), Observation{UID: "u", Amount: a}, &v)
	}
	if v.UID.Count1m != 4 || v.UID.Amount24h != 3 {
		t.Fatalf("got %+v", v.UID)
	}
}

func TestDistinctWindow(t *testing.T) {
	modes(t, func(t *testing.T, small uint8) {
		tr := newTracker(t, Config{}, small)
		var v pdp.Velocity
		tr.Observe(at(0), Observation{UID: "u", Device: "d1"}, &v)
		tr.Observe(at(300), Observation{UID: "u", Device: "d2"}, &v)
		tr.Observe(at(310), Observation{UID: "u2", Device: "d2"}, &v)
		if v.UIDDevices1h != 1 || v.DeviceUIDs1h != 2 {
			t.Fatalf("got %d %d", v.UIDDevices1h, v.DeviceUIDs1h)
		}
		for _, c := range []struct{ s, devices, uids int }{
			{3899, 2, 2}, {3900, 1, 2}, {4199, 1, 2}, {4200, 0, 0},
		} {
			tr.Read(at(c.s), "u", "d2", "", &v)
			if int(v.UIDDevices1h) != c.devices || int(v.DeviceUIDs1h) != c.uids {
				t.Errorf("at %d: got %d devices, %d uids; want %d, %d", c.s, v.UIDDevices1h, v.DeviceUIDs1h, c.devices, c.uids)
			}
		}
		// Seeing d1 again refreshes it rather than adding a second copy.
		tr.Observe(at(4200), Observation{UID: "u", Device: "d1"}, &v)
		tr.Observe(at(4201), Observation{UID: "u", Device: "d1"}, &v)
		if v.UIDDevices1h != 1 {
			t.Fatalf("after refresh: %d", v.UIDDevices1h)
		}
	})
}

func TestDistinctSaturates(t *testing.T) {
	tr := newTracker(t, Config{}, smallCap)
	var v pdp.Velocity
	for i := range 200 {
		tr.Observe(at(i), Observation{UID: "u", Device: "d" + itoa(i)}, &v)
		if want := uint32(min(i+1, SetCap)); v.UIDDevices1h != want {
			t.Fatalf("device %d: UIDDevices1h %d, want %d", i, v.UIDDevices1h, want)
		}
		tr.Observe(at(i), Observation{UID: "u" + itoa(i), Device: "shared"}, &v)
		if want := uint32(min(i+1, SetCap)); v.DeviceUIDs1h != want {
			t.Fatalf("uid %d: DeviceUIDs1h %d, want %d", i, v.DeviceUIDs1h, want)
		}
	}
	// The saturated set forgets its ids as they leave the window.
	tr.Read(at(199+3900), "u", "shared", "", &v)
	if v.UIDDevices1h != 0 || v.DeviceUIDs1h != 0 {
		t.Fatalf("after the window: %d %d", v.UIDDevices1h, v.DeviceUIDs1h)
	}
}

func TestFailuresAndSpend(t *testing.T) {
	tr := newTracker(t, Config{}, smallCap)
	if err := tr.RecordFailure(at(0), "u", pdp.FailurePIN); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := tr.RecordFailure(at(10), "u", pdp.FailurePayment); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.RecordFailure(at(3599), "u", pdp.FailureLogin); err != nil {
		t.Fatal(err)
	}
	if err := tr.RecordFailure(at(0), "u", 0); err == nil {
		t.Fatal("kind 0 accepted")
	}
	if err := tr.RecordFailure(at(0), "u", pdp.FailureLogin+1); err == nil {
		t.Fatal("kind 4 accepted")
	}
	tr.RecordSpend(at(0), "u", "", 100)
	tr.RecordSpend(at(3599), "u", "", 50)
	tr.RecordSpend(at(0), "u", "", -1)
	tr.RecordSpend(at(0), "", "", 1)

	tests := []struct {
		s     int
		fails pdp.Failures
		spent float64
	}{
		{3599, pdp.Failures{Payment1h: 2, Payment24h: 2, PIN1h: 1, PIN24h: 1, Login1h: 1, Login24h: 1}, 150},
		{3900, pdp.Failures{Payment24h: 2, PIN24h: 1, Login1h: 1, Login24h: 1}, 150},
		{89999, pdp.Failures{Payment24h: 2, PIN24h: 1, Login24h: 1}, 150},
		{90000, pdp.Failures{}, 0},
	}
	var v pdp.Velocity
	for _, tt := range tests {
		tr.Read(at(tt.s), "u", "", "", &v)
		if v.Failures != tt.fails || v.Spent24h != tt.spent {
			t.Errorf("at %d: got %+v spent %v, want %+v spent %v", tt.s, v.Failures, v.Spent24h, tt.fails, tt.spent)
		}
	}
	// Observe reads them too, and they do not count as requests.
	tr.Observe(at(3599), Observation{UID: "u", Amount: 1}, &v)
	if v.Failures.PIN1h != 1 || v.Spent24h != 150 || v.UID.Count24h != 1 {
		t.Fatalf("observe: %+v", v)
	}
}
