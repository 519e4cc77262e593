package velocity

import (
	"math/rand"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
)

func BenchmarkObserveHot(b *testing.B) {
	tr := newTracker(b, Config{}, smallCap)
	obs := Observation{UID: "u-7f3c2a", Device: "dev-3f2acc7f57c29bdb", IP: "203.0.113.7", Amount: 12.5}
	var v pdp.Velocity
	now := base
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Millisecond)
		tr.Observe(now, obs, &v)
	}
}

// zipfKeys are 1M distinct users; user i has device i and one of 65536 IPs.
type zipfKeys struct {
	uids, devs, ips []string
	seq             []int32 // Zipf(1.1) draws over the users
}

var zipf *zipfKeys

func loadZipf() *zipfKeys {
	if zipf != nil {
		return zipf
	}
	const users = 1 << 20
	z := &zipfKeys{uids: make([]string, users), devs: make([]string, users), ips: make([]string, 1<<16)}
	for i := range users {
		z.uids[i] = "uid-" + strconv.Itoa(i*7919+13)
		z.devs[i] = "dev-" + strconv.FormatUint(uint64(i)*0x9e3779b97f4a7c15, 16)
	}
	for i := range z.ips {
		z.ips[i] = "10." + strconv.Itoa(i>>8) + "." + strconv.Itoa(i&255) + ".1"
	}
	zf := rand.NewZipf(rand.New(rand.NewSource(1)), 1.1, 1, users-1)
	z.seq = make([]int32, 1<<21)
	for i := range z.seq {
		z.seq[i] = int32(zf.Uint64())
	}
	zipf = z
	return z
}

func (z *zipfKeys) obs(i int) Observation {
	u := int(z.seq[i&(len(z.seq)-1)])
	return Observation{UID: z.uids[u], Device: z.devs[u], IP: z.ips[u&(len(z.ips)-1)], Amount: 20}
}

// warm observes the whole draw sequence once, so that the timed loop runs
// in steady state: every key it meets exists.
func (z *zipfKeys) warm(tr *Tracker, now time.Time) {
	var v pdp.Velocity
	for i := range z.seq {
		tr.Observe(now, z.obs(i), &v)
	}
}

// BenchmarkObserveZipf observes requests whose users follow Zipf(1.1) over
// 1M users (each with its own device; 65536 IPs): 2.1M possible keys, of
// which the 2M draws touch about 0.8M.
func BenchmarkObserveZipf(b *testing.B) {
	z := loadZipf()
	for _, bc := range []struct {
		name    string
		maxKeys int
	}{{"fits", 4 << 20}, {"evicting/MaxKeys=256k", 256 << 10}} {
		b.Run(bc.name, func(b *testing.B) {
			tr := newTracker(b, Config{MaxKeys: bc.maxKeys}, smallCap)
			z.warm(tr, base)
			var v pdp.Velocity
			now := base
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				now = now.Add(time.Millisecond)
				tr.Observe(now, z.obs(i), &v)
			}
		})
	}
}

func BenchmarkObserveParallel(b *testing.B) {
	z := loadZipf()
	tr := newTracker(b, Config{Shards: 64}, smallCap)
	z.warm(tr, base)
	b.ReportAllocs()
	b.ResetTimer()
	var next atomic.Int32
	b.RunParallel(func(pb *testing.PB) {
		var v pdp.Velocity
		i := int(next.Add(1)) * 1_000_003 // each goroutine walks the draws from its own offset
		for pb.Next() {
			i++
			tr.Observe(base.Add(time.Duration(i)*time.Microsecond), z.obs(i), &v)
		}
	})
}

func BenchmarkRead(b *testing.B) {
	b.Run("hot", func(b *testing.B) {
		tr := newTracker(b, Config{}, smallCap)
		var v pdp.Velocity
		for i := range 100 {
			tr.Observe(at(i), Observation{UID: "u", Device: "d", IP: "ip", Amount: 1}, &v)
		}
		b.ReportAllocs()
		for b.Loop() {
			tr.Read(at(100), "u", "d", "ip", &v)
		}
	})
	b.Run("zipf", func(b *testing.B) {
		z := loadZipf()
		tr := newTracker(b, Config{MaxKeys: 4 << 20}, smallCap)
		z.warm(tr, base)
		var v pdp.Velocity
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			o := z.obs(i)
			tr.Read(base, o.UID, o.Device, o.IP, &v)
		}
	})
}

// TestBytesPerKey measures the heap a tracker holds per key, after GC, for
// 100k keys seen once (small mode) and 100k keys seen 8 times (rings).
func TestBytesPerKey(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates ~100 MB")
	}
	const n = 100_000
	ids := make([]string, n)
	for i := range ids {
		ids[i] = "uid-" + strconv.Itoa(i)
	}
	for _, tc := range []struct {
		name  string
		times int
		limit float64
	}{{"seen once", 1, 200}, {"seen 8 times (rings)", 8, 1000}} {
		tr := newTracker(t, Config{MaxKeys: 1 << 20, Shards: 64}, smallCap)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		var v pdp.Velocity
		for r := range tc.times {
			for i, id := range ids {
				tr.Observe(at(r*60+i%60), Observation{UID: id, Amount: 1}, &v)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		per := float64(after.HeapAlloc-before.HeapAlloc) / n
		t.Logf("%s: %d keys, HeapAlloc +%d bytes: %.0f bytes/key (rings %d)",
			tc.name, tr.Len(), after.HeapAlloc-before.HeapAlloc, per, tr.wins())
		if tr.Len() != n || per > tc.limit {
			t.Errorf("%.0f bytes per key over %v", per, tc.limit)
		}
		runtime.KeepAlive(tr)
	}
}

func (t *Tracker) wins() int {
	n := 0
	for i := range t.shards {
		n += t.shards[i].wins.live()
	}
	return n
}
