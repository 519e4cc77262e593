package velocity

import (
	"hash/crc32"
	"math"
	"math/bits"
	"strconv"
	"testing"
	"time"
)

// base is 2026-01-01T00:00:00Z, aligned to every bucket width.
var base = time.Unix(1767225600, 0)

// at is base plus s seconds.
func at(s int) time.Time { return base.Add(time.Duration(s) * time.Second) }

// newTracker returns a tracker without sweeper whose keys keep at most small
// raw events (0: rings from the first request).
func newTracker(tb testing.TB, cfg Config, small uint8) *Tracker {
	tb.Helper()
	if cfg.SweepInterval == 0 {
		cfg.SweepInterval = -1
	}
	if cfg.Shards == 0 {
		cfg.Shards = 4
	}
	tr, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { tr.Close() })
	tr.setSmall(small)
	return tr
}

func (t *Tracker) setSmall(small uint8) {
	t.small = small
	for i := range t.shards {
		t.shards[i].small = small
	}
}

// modes runs f with keys in small mode and with rings from the start.
func modes(t *testing.T, f func(t *testing.T, small uint8)) {
	t.Run("small", func(t *testing.T) { f(t, smallCap) })
	t.Run("rings", func(t *testing.T) { f(t, 0) })
}

func itoa(i int) string { return strconv.Itoa(i) }
func nan() float64      { return math.NaN() }
func inf() float64      { return math.Inf(1) }

func crc32c(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

func mulHi(a, b uint64) (uint64, uint64) { return bits.Mul64(a, b) }
