package velocity

import (
	"bytes"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
)

// TestConcurrentExact has goroutines observe one shared key set and their
// own keys while others read, record failures and spends, sweep and
// snapshot; the totals must be exact. Run it with -race.
func TestConcurrentExact(t *testing.T) {
	const (
		workers = 16
		perW    = 500
	)
	modes(t, func(t *testing.T, small uint8) {
		tr := newTracker(t, Config{Shards: 8}, small)
		now := at(30) // every request in the same 1m window
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				var v pdp.Velocity
				own := fmt.Sprintf("w%d", w)
				for i := range perW {
					tr.Observe(now, Observation{UID: "hot", Device: own, IP: "10.0.0.1", Amount: 1}, &v)
					tr.Observe(now, Observation{UID: own, Device: "shared-dev", IP: own, Amount: 2, Login: i%2 == 0}, &v)
					tr.RecordSpend(now, "hot", "", 3)
					if err := tr.RecordFailure(now, own, pdp.FailurePIN); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		stop := make(chan struct{})
		var bg sync.WaitGroup
		bg.Go(func() {
			var v pdp.Velocity
			for {
				select {
				case <-stop:
					return
				default:
				}
				tr.Read(now, "hot", "shared-dev", "10.0.0.1", &v)
				tr.Sweep(now)
				if err := tr.Snapshot(&bytes.Buffer{}); err != nil {
					t.Error(err)
				}
				_ = tr.Stats()
			}
		})
		wg.Wait()
		close(stop)
		bg.Wait()

		var v pdp.Velocity
		tr.Read(now, "hot", "shared-dev", "10.0.0.1", &v)
		n := uint32(workers * perW)
		if want := wc(n, n, n, float64(n), float64(n), float64(n), 0); v.UID != want || v.IP != want {
			t.Errorf("hot: uid %+v, ip %+v; want %+v", v.UID, v.IP, want)
		}
		if want := wc(n/2, n/2, n/2, float64(n), float64(n), float64(n), n/2); v.Device != want {
			t.Errorf("shared-dev: %+v, want %+v", v.Device, want)
		}
		if v.UIDDevices1h != workers || v.DeviceUIDs1h != workers || v.Spent24h != float64(3*n) {
			t.Errorf("distinct %d %d, spent %v", v.UIDDevices1h, v.DeviceUIDs1h, v.Spent24h)
		}
		for w := range workers {
			own := fmt.Sprintf("w%d", w)
			tr.Read(now, own, own, own, &v)
			if v.UID.Count1m != perW/2 || v.UID.Logins1h != perW/2 || v.Failures.PIN1h != perW ||
				v.Device.Count1m != perW || v.IP.Count1m != perW/2 {
				t.Errorf("%s: %+v", own, v)
			}
		}
	})
}

// TestSweeperGoroutine checks that the background sweeper runs at the
// latest time the tracker was given and that Close stops it.
func TestSweeperGoroutine(t *testing.T) {
	tr := newTracker(t, Config{SweepInterval: time.Second}, smallCap)
	var v pdp.Velocity
	tr.Observe(at(0), Observation{UID: "old"}, &v)
	tr.Observe(at(26*3600), Observation{UID: "new"}, &v)
	deadline := time.Now().Add(10 * time.Second)
	for tr.Len() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("sweeper did not remove the expired key: Len %d", tr.Len())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if st := tr.Stats(); st.Expirations != 1 {
		t.Fatalf("stats %+v", st)
	}
}
