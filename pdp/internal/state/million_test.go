package state

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
)

// BenchmarkMillionEntries loads 1,000,000 blocklist entries (10 bulk
// transactions of 100k), then reads random subjects through caches of
// several sizes. It reports the file size, and per read: ns, hit ratio,
// the heap after GC with the cache filled (live objects and spans in use)
// and the spans in use with the store open and the cache still cold. Skipped with -short; run it alone:
//
//	go test -run '^$' -bench MillionEntries -benchtime 1s ./pdp/internal/state
func BenchmarkMillionEntries(b *testing.B) {
	if testing.Short() {
		b.Skip("loads a million entries")
	}
	const n = 1_000_000
	path := filepath.Join(b.TempDir(), "state.db")
	values := make([]string, n)
	for i := range values {
		values[i] = fmt.Sprintf("dev-%08x", uint32(i)*2654435761) // spread over the key space
	}
	base := heapStats()

	s, err := Open(Config{Path: path, SweepInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	batch := make([]pdp.ListEntry, 0, 100_000)
	for i, v := range values {
		batch = append(batch, pdp.ListEntry{List: pdp.ListBlock, Subject: pdp.SubjectDevice, Value: v, Reason: "threat feed", Created: t0})
		if len(batch) == cap(batch) || i == n-1 {
			if err := s.PutListEntries(bg, batch, pdp.AuditRecord{Actor: pdp.Actor{Operator: "loader"}}); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	load := time.Since(start)
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	batch = nil
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("loaded %d entries in %v (%.0f/s); file %.1f MiB (%.0f bytes/entry)",
		n, load.Round(time.Millisecond), n/load.Seconds(), float64(fi.Size())/(1<<20), float64(fi.Size())/n)

	for _, tc := range []struct {
		name    string
		maxCost int64
		hot     int // subjects read (the first hot of values); 0: all
	}{
		{"uniform/cache=64MiB", 64 << 20, 0},
		{"uniform/cache=8MiB", 8 << 20, 0},
		{"hot100k/cache=64MiB", 64 << 20, 100_000},
	} {
		b.Run(tc.name, func(b *testing.B) {
			start := time.Now()
			s, err := Open(Config{Path: path, CacheMaxCost: tc.maxCost, SweepInterval: -1})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			opened := time.Since(start)
			cold := heapStats().sub(base)
			keys := values
			if tc.hot > 0 {
				keys = values[:tc.hot]
			}
			r := rand.New(rand.NewPCG(1, 2))
			now := t0
			// Warm the cache with as many reads as there are keys.
			for range len(keys) {
				if _, err := s.Reputation(pdp.SubjectDevice, keys[r.IntN(len(keys))], now); err != nil {
					b.Fatal(err)
				}
			}
			st0 := s.Stats()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				rep, err := s.Reputation(pdp.SubjectDevice, keys[r.IntN(len(keys))], now)
				if err != nil || !rep.Blocked {
					b.Fatal("entry lost", rep, err)
				}
			}
			b.StopTimer()
			st := s.Stats()
			hits, misses := st.CacheHits-st0.CacheHits, st.CacheMisses-st0.CacheMisses
			b.ReportMetric(float64(hits)/float64(hits+misses), "hit-ratio")
			h := heapStats().sub(base)
			b.ReportMetric(h.live, "live-MiB")
			b.ReportMetric(h.inuse, "inuse-MiB")
			b.ReportMetric(cold.inuse, "cold-inuse-MiB")
			b.Logf("open %v; cache cost %.1f MiB, %d evictions", opened.Round(time.Millisecond), float64(st.CacheCost)/(1<<20), st.CacheEvictions)
		})
	}
}

// heap is the heap after GC in MiB: live objects (HeapAlloc) and the
// spans holding them (HeapInuse, which adds fragmentation).
type heap struct{ live, inuse float64 }

func heapStats() heap {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return heap{float64(m.HeapAlloc) / (1 << 20), float64(m.HeapInuse) / (1 << 20)}
}

func (h heap) sub(o heap) heap { return heap{h.live - o.live, h.inuse - o.inuse} }
