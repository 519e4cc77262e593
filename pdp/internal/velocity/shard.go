package velocity

import (
	"sync"

	"github.com/riskpdp/riskpdp/pdp"
)

// shard is an independently locked part of the key space: a map from key
// hash to entry index and the pools of the entries and their parts. Every
// method expects mu held.
type shard struct {
	mu      sync.Mutex
	keys    map[uint64]int32
	entries pool[entry]
	wins    pool[windows]
	sets    pool[idSet]
	fails   pool[failures]
	spends  pool[spending]
	hand    int32 // CLOCK hand over entries
	max     int   // keys this shard may hold
	small   uint8 // small-mode capacity, smallCap but for tests

	evicted, expired uint64

	_ [64]byte // keep the next shard's mutex off this shard's cache lines
}

func (s *shard) init(max int, small uint8) {
	*s = shard{keys: make(map[uint64]int32), max: max, small: small}
	s.initPools()
}

// initPools empties the pools. Chunk lengths fill a Go size class:
//
//	entries  128 × 112 = 14336 in 14336
//	windows   34 × 720 = 24480 in 24576 (0.4% lost)
//	idSets    32 × 512 = 16384 in 16384
//	failures  35 × 464 = 16240 in 16384 (0.9%)
//	spending  66 × 216 = 14256 in 14336 (0.6%)
//
// A shard that may hold fewer keys gets chunks of its limit.
func (s *shard) initPools() {
	s.entries.init(128, s.max)
	s.wins.init(34, s.max)
	s.sets.init(32, s.max)
	s.fails.init(35, s.max)
	s.spends.init(66, s.max)
}

// get returns the entry of h, or nil.
func (s *shard) get(h uint64) *entry {
	if i, ok := s.keys[h]; ok {
		return s.entries.at(i)
	}
	return nil
}

// touch returns the entry of h, creating it (and evicting another key when
// the shard is full), and the clock of this write: sec, or the entry's last
// write when sec is earlier (a clock that went backwards is read as the
// latest time the key has seen). created says the key was new.
func (s *shard) touch(h uint64, sec uint32) (e *entry, c clock, created bool) {
	if i, ok := s.keys[h]; ok {
		e = s.entries.at(i)
		e.ref = true
	} else {
		created = true
		if len(s.keys) >= s.max {
			s.evict(clockAt(sec))
		}
		i := s.entries.alloc()
		s.keys[h] = i
		e = s.entries.at(i)
		e.hash = h // ref stays false: a key must be used twice to earn a second chance
	}
	e.last = max(e.last, sec)
	return e, clockAt(e.last), created
}

// evict removes one key: the first the CLOCK hand finds expired or not
// referenced since its last pass. Two passes always find one.
func (s *shard) evict(c clock) {
	for range 2*s.entries.n + 1 {
		if s.hand++; s.hand > s.entries.n {
			s.hand = 1
		}
		e := s.entries.at(s.hand)
		switch {
		case e.last == 0:
			continue
		case e.expired(c):
			s.expired++
		case e.ref:
			e.ref = false
			continue
		default:
			s.evicted++
		}
		s.remove(s.hand, e)
		return
	}
}

// remove deletes entry i (e) and releases its parts.
func (s *shard) remove(i int32, e *entry) {
	if e.win != 0 {
		s.wins.release(e.win)
	}
	if e.set != 0 {
		s.sets.release(e.set)
	}
	if e.fail != 0 {
		s.fails.release(e.fail)
	}
	if e.spend != 0 {
		s.spends.release(e.spend)
	}
	delete(s.keys, e.hash)
	s.entries.release(i)
}

// record adds one request at c to e: a login or a money movement.
func (s *shard) record(e *entry, c clock, amount float64, login bool) {
	if e.win != 0 {
		w := s.wins.at(e.win)
		if !w.expired(c) {
			w.add(c, amount, login)
			return
		}
		s.wins.release(e.win)
		e.win = 0
	}
	e.smallPrune(c)
	if e.n < s.small {
		i := e.n
		e.secs[i], e.amts[i] = c.sec, amount
		if login {
			e.login |= 1 << i
		}
		e.n++
		return
	}
	// Full of live events: replay them into rings, oldest first.
	e.win = s.wins.alloc()
	w := s.wins.at(e.win)
	for i := range int(e.n) {
		w.add(clockAt(e.secs[i]), e.amts[i], e.login>>i&1 != 0)
	}
	e.n, e.login, e.secs, e.amts = 0, 0, [smallCap]uint32{}, [smallCap]float64{}
	w.add(c, amount, login)
}

// counts fills out with e's request counts at c.
func (s *shard) counts(e *entry, c clock, out *pdp.WindowCounts) {
	if e.win != 0 {
		s.wins.at(e.win).read(c, out)
		return
	}
	*out = pdp.WindowCounts{}
	e.smallRead(c, out)
}

// ids returns the distinct ids e holds.
func (s *shard) ids(e *entry) []seen {
	if e.set != 0 {
		return s.sets.at(e.set)[:e.nids]
	}
	return e.ids[:e.nids]
}

// see records that id was seen with e at c. A slot whose id left the 1h
// window is reused; a full idSet replaces its least recently seen id, so the
// count stays at SetCap. It returns what it overwrote, for a Receipt: had,
// id was there (prev.sec its former time); else prev is the id a reused
// or replaced slot held, zero when id was added.
func (s *shard) see(e *entry, id uint32, c clock) (prev seen, had bool) {
	ids := s.ids(e)
	stale, oldest := -1, -1
	for i := range ids {
		switch {
		case ids[i].id == id:
			prev = ids[i]
			ids[i].sec = c.sec
			return prev, true
		case !in1h(ids[i].sec, c):
			stale = i
		case oldest < 0 || ids[i].sec < ids[oldest].sec:
			oldest = i
		}
	}
	if stale >= 0 {
		prev = ids[stale]
		ids[stale] = seen{id, c.sec}
		return prev, false
	}
	switch {
	case e.set == 0 && e.nids < setInline:
		e.ids[e.nids] = seen{id, c.sec}
		e.nids++
	case e.set == 0:
		e.set = s.sets.alloc()
		st := s.sets.at(e.set)
		copy(st[:], e.ids[:e.nids])
		e.ids = [setInline]seen{}
		st[e.nids] = seen{id, c.sec}
		e.nids++
	case e.nids < SetCap:
		s.sets.at(e.set)[e.nids] = seen{id, c.sec}
		e.nids++
	default:
		prev = ids[oldest]
		ids[oldest] = seen{id, c.sec}
	}
	return prev, false
}

// distinct is the number of ids seen with e in the 1h window at c.
func (s *shard) distinct(e *entry, c clock) uint32 { return distinctIn(s.ids(e), c) }

// uidParts fills the UID-only parts of out: failures and Spent24h.
func (s *shard) uidParts(e *entry, c clock, out *pdp.Velocity) {
	if e.fail != 0 {
		s.fails.at(e.fail).read(c, &out.Failures)
	}
	if e.spend != 0 {
		out.Spent24h = s.spends.at(e.spend).read(c)
	}
}

// prune releases the parts of a live entry that nothing counts at c.
func (s *shard) prune(e *entry, c clock) {
	if e.win != 0 && s.wins.at(e.win).expired(c) {
		s.wins.release(e.win)
		e.win = 0
	}
	if e.set != 0 && distinctIn(s.ids(e), c) == 0 {
		s.sets.release(e.set)
		e.set, e.nids = 0, 0
	}
	if e.fail != 0 && s.fails.at(e.fail).expired(c) {
		s.fails.release(e.fail)
		e.fail = 0
	}
	if e.spend != 0 && s.spends.at(e.spend).expired(c) {
		s.spends.release(e.spend)
		e.spend = 0
	}
}

// sweep removes the expired entries with indexes [from, from+n) and prunes
// the others; it returns how many it removed and whether it reached the end.
func (s *shard) sweep(from, n int32, c clock) (removed int, done bool) {
	end := min(from+n, s.entries.n+1)
	for i := from; i < end; i++ {
		e := s.entries.at(i)
		switch {
		case e.last == 0:
		case e.expired(c):
			s.remove(i, e)
			s.expired++
			removed++
		default:
			s.prune(e, c)
		}
	}
	return removed, end > s.entries.n
}
