package velocity

import "github.com/riskpdp/riskpdp/pdp"

const (
	// smallCap is how many requests a key keeps as raw events before it
	// moves to rings (windows).
	smallCap = 4
	// setInline is how many distinct ids an entry holds without an idSet.
	setInline = 4
	// SetCap is where UIDDevices1h and DeviceUIDs1h saturate.
	SetCap = 64
)

// entry is one tracked key: a UID, a device or an IP. 112 bytes. The parts a
// key does not use are not allocated: win, set, fail and spend index the
// shard's pools and are 0 when absent.
//
// A key starts in small mode: up to smallCap requests kept as (second,
// amount) events, counted at read time by the same bucket rule as the rings.
// The request that finds the small log full of live events moves the key to
// rings; a key whose rings have all expired goes back to small mode.
type entry struct {
	hash  uint64
	last  uint32 // Unix second of the latest write; 0 marks a free slot
	ref   bool   // CLOCK reference bit: touched since the hand last passed
	n     uint8  // small-mode events in secs/amts
	login uint8  // bit i: small event i is a login
	nids  uint8  // distinct ids held, inline in ids or in the idSet
	secs  [smallCap]uint32
	amts  [smallCap]float64
	ids   [setInline]seen
	win   int32 // windows
	set   int32 // idSet
	fail  int32 // failures
	spend int32 // spending
}

// seen is one distinct id (the low 32 bits of the other key's hash) and the
// second it was last seen with this key.
type seen struct{ id, sec uint32 }

// idSet holds the distinct ids of a key that saw more than setInline; the
// entry's nids counts them. 512 bytes.
type idSet [SetCap]seen

// expired reports that nothing e holds counts at c any more.
func (e *entry) expired(c clock) bool { return !in24h(e.last, c) }

// smallLive reports whether small event i still counts in some window.
func (e *entry) smallLive(i int, c clock) bool {
	if e.login>>i&1 != 0 {
		return in1h(e.secs[i], c)
	}
	return in24h(e.secs[i], c)
}

// smallPrune drops the small events no window counts at c, keeping order.
func (e *entry) smallPrune(c clock) {
	k := 0
	var login uint8
	for i := range int(e.n) {
		if !e.smallLive(i, c) {
			continue
		}
		e.secs[k], e.amts[k] = e.secs[i], e.amts[i]
		login |= (e.login >> i & 1) << k
		k++
	}
	for i := k; i < int(e.n); i++ {
		e.secs[i], e.amts[i] = 0, 0
	}
	e.n, e.login = uint8(k), login
}

// smallRead adds the small events that count at c to out.
func (e *entry) smallRead(c clock, out *pdp.WindowCounts) {
	for i := range int(e.n) {
		sec := e.secs[i]
		if e.login>>i&1 != 0 {
			if in1h(sec, c) {
				out.Logins1h++
			}
			continue
		}
		if in24h(sec, c) {
			out.Count24h++
			out.Amount24h += e.amts[i]
		}
		if in1h(sec, c) {
			out.Count1h++
			out.Amount1h += e.amts[i]
		}
		if in1m(sec, c) {
			out.Count1m++
			out.Amount1m += e.amts[i]
		}
	}
}

// distinctIn counts the ids of ids seen in the 1h window at c.
func distinctIn(ids []seen, c clock) uint32 {
	var n uint32
	for _, s := range ids {
		if in1h(s.sec, c) {
			n++
		}
	}
	return n
}
