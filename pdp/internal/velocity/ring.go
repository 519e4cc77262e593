package velocity

import (
	"math"
	"time"
)

// Bucket widths in seconds and ring sizes. A window of N buckets keeps a ring
// of N+1 slots: the N buckets before the current one and the current one.
const (
	width1m  = 5    // 1m window: 12 buckets of 5 s
	width1h  = 300  // 1h window: 12 buckets of 5 min
	width24h = 3600 // 24h window: 24 buckets of 1 h

	slots1m  = 13
	slots1h  = 13
	slots24h = 25
)

// clock is one instant as a Unix second and as bucket numbers at each width.
// Buckets are aligned to the Unix epoch: bucket b of width w covers the
// seconds [b·w, (b+1)·w).
type clock struct {
	sec            uint32
	b1m, b1h, b24h uint32
}

func clockAt(sec uint32) clock {
	return clock{sec: sec, b1m: sec / width1m, b1h: sec / width1h, b24h: sec / width24h}
}

// unixSec is t in whole Unix seconds, clamped to [1, MaxUint32] (year 2106).
// Flooring to the second is exact for bucketing since every width is a whole
// number of seconds.
func unixSec(t time.Time) uint32 {
	s := t.Unix()
	if s < 1 {
		return 1
	}
	if s > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(s)
}

// counted reports whether bucket b still counts at current bucket cur in a
// window kept in a ring of n slots: b >= cur-(n-1), written without underflow.
func counted(b, cur, n uint32) bool { return b+n-1 >= cur }

// in1m, in1h and in24h apply counted to an event at second sec.
func in1m(sec uint32, c clock) bool  { return counted(sec/width1m, c.b1m, slots1m) }
func in1h(sec uint32, c clock) bool  { return counted(sec/width1h, c.b1h, slots1h) }
func in24h(sec uint32, c clock) bool { return counted(sec/width24h, c.b24h, slots24h) }

// advance zeroes the slots of ring s whose buckets fall out when its newest
// bucket moves from head to cur. Slot of bucket b is b mod len(s). It does not
// move head: callers share one head between several arrays and set it after.
// A cur at or before head changes nothing.
func advance[T uint32 | float64](s []T, head, cur uint32) {
	if cur <= head {
		return
	}
	n := uint32(len(s))
	d := cur - head
	if d >= n {
		clear(s)
		return
	}
	i := (head + 1) % n
	for ; d > 0; d-- {
		s[i] = 0
		if i++; i == n {
			i = 0
		}
	}
}

// sum adds up all slots of s: the total of a ring at its head.
func sum[T uint32 | float64](s []T) T {
	var t T
	for _, x := range s {
		t += x
	}
	return t
}

// total sums the slots of ring s (newest bucket head) that count at current
// bucket cur: buckets cur-(n-1) .. head. A cur before head is read as head.
func total[T uint32 | float64](s []T, head, cur uint32) T {
	var t T
	if cur < head {
		cur = head
	}
	n := uint32(len(s))
	d := cur - head
	if d >= n {
		return t
	}
	i := (head + d + 1) % n
	for k := n - d; k > 0; k-- {
		t += s[i]
		if i++; i == n {
			i = 0
		}
	}
	return t
}
