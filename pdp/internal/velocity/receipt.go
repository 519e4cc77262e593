package velocity

// Taking an observation back. The decision path counts a request while it
// decides (so that decisions in flight count each other: a burst of
// parallel requests meets the thresholds it would meet one by one), before
// it knows whether the decision takes effect: with a synchronous decision
// log, a decision that cannot be recorded is refused and must leave no
// trace. ObserveWithReceipt and RecordSpendWithReceipt note in a Receipt
// what they wrote; Undo takes exactly that back.
//
// What Undo restores, read through the tracker (Read, Peek, Observe's
// counts): every count, the purchase a retry is compared with, the
// distinct ids (an id the observation added is removed, one it refreshed
// gets its former time back, one it displaced from a full set comes back),
// and the day's spend; a key the observation created is removed again
// when nothing else was recorded on it since. Amounts are float sums: a
// key in small mode gets the very event removed, a ring slot or a spend
// bucket is lowered by the amount (a ring slot is set to zero when it
// counts no request any more; x + a − a is x exactly when x is zero), so
// a sum that held other requests can differ from what it was by a
// rounding of its last bits; counts are exact.
//
// What Undo does not restore: the keys' recency (the CLOCK reference bit,
// the time of the latest write, which only keeps a key a little longer),
// the tracker's latest second, and a key evicted to make room for one the
// observation created (a full shard; as any request may evict).
//
// Requests counted while a receipt is outstanding stay counted: counts and
// sums are lowered by what the observation added, whatever came since,
// and an id seen again since (at a later second) keeps that sighting. The
// limits are those of what the tracker keeps, one time per distinct id
// and one amount per purchase: a sighting of the same pair (a UID and a
// device, say) in the same second by a request that stays counted cannot
// be told from the one taken back and goes with it (that id reads low
// until the pair is seen again, an hour at most); receipts of the same
// pair taken back out of order can leave the id at the earlier one's time
// (it reads high, an hour at most); and a request counted as the retry of
// a purchase whose first observation is then taken back stays a retry.
// Each needs two decisions of the same account in flight at once and one
// of them refused.

// Receipt is what one ObserveWithReceipt and one RecordSpendWithReceipt
// recorded, for Undo. The zero Receipt holds nothing; it is a value of
// about 440 bytes that the caller keeps (no allocation).
type Receipt struct {
	n   uint8
	ops [maxUndoOps]undoOp
	// Counted: the observation counted as an operation (not a retry of a
	// purchase counted already), as Observe reports it.
	Counted bool
}

// maxUndoOps: an observation writes at most 9 keys (purchase, attempts,
// UID, device, IP and four distinct sets), a spend 2 (purchase and UID).
const maxUndoOps = 11

// undoOp is one key's write: a request recorded (opRecord), an id seen
// (opSee) and/or a spend added (opSpend), at the clock second sec.
type undoOp struct {
	h      uint64
	amount float64
	sec    uint32
	id     uint32 // opSee: the id seen
	prev   seen   // opSee: what the slot held (opHad: the id's former time)
	flags  uint8
}

const (
	opRecord  uint8 = 1 << iota
	opLogin         // the request recorded is a login
	opSee           // id was seen
	opHad           // id was there already
	opSpend         // amount was added to the spending
	opCreated       // the write created the key
)

func recordOp(h uint64, c clock, amount float64, login, created bool) undoOp {
	op := undoOp{h: h, sec: c.sec, amount: amount, flags: opRecord}
	if login {
		op.flags |= opLogin
	}
	if created {
		op.flags |= opCreated
	}
	return op
}

func spendOp(h uint64, c clock, amount float64, created bool) undoOp {
	op := undoOp{h: h, sec: c.sec, amount: amount, flags: opSpend}
	if created {
		op.flags |= opCreated
	}
	return op
}

// saw adds, when ok, the sighting of id that see reported (prev, had).
func (op undoOp) saw(ok bool, id uint32, prev seen, had bool) undoOp {
	if !ok {
		return op
	}
	op.flags |= opSee
	op.id, op.prev = id, prev
	if had {
		op.flags |= opHad
	}
	return op
}

func (r *Receipt) add(op undoOp) {
	if int(r.n) < len(r.ops) {
		r.ops[r.n] = op
		r.n++
	}
}

// Empty reports whether r holds nothing to take back.
func (r *Receipt) Empty() bool { return r.n == 0 }

// Undo takes back what r recorded, newest first, and empties r (a second
// Undo changes nothing). Safe for concurrent use with every other method.
func (t *Tracker) Undo(r *Receipt) {
	for i := int(r.n) - 1; i >= 0; i-- {
		op := &r.ops[i]
		s := t.shardOf(op.h)
		s.mu.Lock()
		if idx, ok := s.keys[op.h]; ok {
			e := s.entries.at(idx)
			s.undo(idx, e, op)
		}
		s.mu.Unlock()
	}
	*r = Receipt{}
}

// undo takes op back from e (entry idx). s.mu is held.
func (s *shard) undo(idx int32, e *entry, op *undoOp) {
	c := clockAt(op.sec)
	if op.flags&opRecord != 0 {
		s.unrecord(e, c, op.amount, op.flags&opLogin != 0)
	}
	if op.flags&opSee != 0 {
		s.unsee(e, op.id, op.sec, op.prev, op.flags&opHad != 0)
	}
	if op.flags&opSpend != 0 && e.spend != 0 && op.amount > 0 {
		s.spends.at(e.spend).sub(c, op.amount)
	}
	if op.flags&opCreated == 0 {
		return
	}
	// A key this write created goes again if nothing else is on it.
	if e.win != 0 && s.wins.at(e.win).empty() {
		s.wins.release(e.win)
		e.win = 0
	}
	if e.spend != 0 && s.spends.at(e.spend).empty() {
		s.spends.release(e.spend)
		e.spend = 0
	}
	if e.set != 0 && e.nids == 0 {
		s.sets.release(e.set)
		e.set = 0
	}
	if e.n == 0 && e.nids == 0 && e.win == 0 && e.set == 0 && e.fail == 0 && e.spend == 0 {
		s.remove(idx, e)
	}
}

// unrecord takes one request recorded at c out of e: the small event
// itself, or one from the ring buckets that still hold c.
func (s *shard) unrecord(e *entry, c clock, amount float64, login bool) {
	if e.win != 0 {
		s.wins.at(e.win).sub(c, amount, login)
		return
	}
	for i := int(e.n) - 1; i >= 0; i-- {
		if e.secs[i] != c.sec || e.amts[i] != amount || (e.login>>i&1 != 0) != login {
			continue
		}
		// Remove event i, keeping the order of the others.
		low := e.login & (1<<i - 1)
		high := e.login >> (i + 1) << i
		copy(e.secs[i:e.n], e.secs[i+1:e.n])
		copy(e.amts[i:e.n], e.amts[i+1:e.n])
		e.n--
		e.secs[e.n], e.amts[e.n] = 0, 0
		e.login = low | high
		return
	}
}

// unsee takes back the sighting of id at sec: an id seen again since keeps
// its later time.
func (s *shard) unsee(e *entry, id, sec uint32, prev seen, had bool) {
	ids := s.ids(e)
	for i := range ids {
		if ids[i].id != id {
			continue
		}
		switch {
		case ids[i].sec != sec:
		case had:
			ids[i].sec = prev.sec
		case prev != seen{}:
			ids[i] = prev // the id this one displaced
		default:
			last := len(ids) - 1
			ids[i], ids[last] = ids[last], seen{}
			e.nids--
		}
		return
	}
}

// sub takes one request recorded at c out of the buckets that still hold
// c, and recomputes the totals.
func (w *windows) sub(c clock, amount float64, login bool) {
	if c.b1h <= w.head1h && counted(c.b1h, w.head1h, slots1h) {
		i := c.b1h % slots1h
		if login {
			w.lg1h[i] = decr(w.lg1h[i])
		} else if w.n1h[i] > 0 {
			w.n1h[i]--
			w.a1h[i] = lower(w.a1h[i], amount, w.n1h[i])
		}
	}
	if !login {
		if c.b1m <= w.head1m && counted(c.b1m, w.head1m, slots1m) {
			if i := c.b1m % slots1m; w.n1m[i] > 0 {
				w.n1m[i]--
				w.a1m[i] = lower(w.a1m[i], amount, w.n1m[i])
			}
		}
		if c.b24h <= w.head24h && counted(c.b24h, w.head24h, slots24h) {
			if i := c.b24h % slots24h; w.n24h[i] > 0 {
				w.n24h[i]--
				w.a24h[i] = lower(w.a24h[i], amount, w.n24h[i])
			}
		}
	}
	w.retotal()
}

// empty reports that w holds no request.
func (w *windows) empty() bool { return w.c1m == 0 && w.c1h == 0 && w.c24h == 0 && w.l1h == 0 }

// sub takes amount added at c back out of its bucket (if the ring still
// holds it), never below zero, and recomputes the total.
func (s *spending) sub(c clock, amount float64) {
	if c.b24h > s.head || !counted(c.b24h, s.head, slots24h) {
		return
	}
	i := c.b24h % slots24h
	s.a[i] = max(0, s.a[i]-amount)
	s.total = sum(s.a[:])
}

// empty reports that s holds no spend.
func (s *spending) empty() bool { return s.total == 0 && sum(s.a[:]) == 0 }

func decr(n uint32) uint32 {
	if n > 0 {
		return n - 1
	}
	return 0
}

// lower is sum less amount, for a bucket now holding n requests: exactly
// zero when it holds none, never below zero.
func lower(sum, amount float64, n uint32) float64 {
	if n == 0 {
		return 0
	}
	return max(0, sum-amount)
}
