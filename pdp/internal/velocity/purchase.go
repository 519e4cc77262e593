package velocity

import (
	"math"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
)

// Transactions, not calls. A payment service decides one operation several
// times: a retry after a step-up and its verification, a network retry, an
// order and then its payment. The windows count purchases: each (UID,
// purchase) pair — Observation.Purchase, the order an operation belongs to
// or else its transaction — has a key of its own (kindPurchase) whose small
// events hold the amounts counted for it. A second observation of the
// purchase within 24 h is a retry: it counts in no window, unless its
// amount is larger than what was counted, in which case the difference
// counts as one more operation (a larger retry is never counted lower than
// a new operation would be). Two first observations of one purchase racing
// each other may both count: the windows read high, never low.
//
// Every money observation with a purchase, retries included, counts as an
// attempt of its UID (kindAttempt: Velocity.Attempts1m/1h), the signal of
// card testing and of many denied retries.
//
// The spend of a purchase is kept on its key too, so that it is added to
// the UID's Spent24h once (RecordSpend) and can be taken back where it was
// added when the payment fails (UnrecordSpend).

// purchaseHash is the key of uid's purchase p.
func (t *Tracker) purchaseHash(uid, p string) uint64 {
	return t.hash(kindPurchase, p) ^ (t.hash(kindUID, uid) * 0x9e3779b97f4a7c15)
}

// purchaseCounted returns the amount counted for the purchase with hash hp
// at c and whether it was seen within 24 h; with record, it then raises
// the purchase's amount to amount (when larger; a first sight records it),
// noted in rc when not nil. The caller holds no shard lock.
func (t *Tracker) purchaseCounted(hp uint64, sec uint32, amount float64, record bool, rc *Receipt) (counted float64, seen bool) {
	s := t.shardOf(hp)
	s.mu.Lock()
	defer s.mu.Unlock()
	var w pdp.WindowCounts
	if e := s.get(hp); e != nil {
		c := clockAt(max(sec, e.last))
		s.counts(e, c, &w)
		counted, seen = w.Amount24h, w.Count24h > 0
	}
	if record && (!seen || amount > counted) {
		e, c, created := s.touch(hp, sec)
		s.record(e, c, amount-counted, false)
		if rc != nil {
			rc.add(recordOp(hp, c, amount-counted, false, created))
		}
	}
	return counted, seen
}

// attempt records a money attempt of uid at sec (noted in rc when not
// nil), or with record false only reads, and sets out's attempt counts
// (including this attempt).
func (t *Tracker) attempt(uid string, sec uint32, record bool, out *pdp.Velocity, rc *Receipt) {
	h := t.hash(kindAttempt, uid)
	s := t.shardOf(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	var w pdp.WindowCounts
	if record {
		e, c, created := s.touch(h, sec)
		s.record(e, c, 0, false)
		s.counts(e, c, &w)
		if rc != nil {
			rc.add(recordOp(h, c, 0, false, created))
		}
	} else if e := s.get(h); e != nil {
		s.counts(e, clockAt(max(sec, e.last)), &w)
		w.Count1m++
		w.Count1h++
	} else {
		w.Count1m, w.Count1h = 1, 1
	}
	out.Attempts1m, out.Attempts1h = w.Count1m, w.Count1h
}

// othersSpent takes the purchase's own spend out of out.Spent24h: the day's
// spend a retry of an allowed purchase is compared with is what the other
// purchases moved (the same money does not count against a cap twice).
func (t *Tracker) othersSpent(obs *Observation, sec uint32, out *pdp.Velocity) {
	if obs.Purchase == "" || obs.UID == "" || obs.Login || out.Spent24h == 0 {
		return
	}
	hp := t.purchaseHash(obs.UID, obs.Purchase)
	s := t.shardOf(hp)
	s.mu.Lock()
	own := 0.0
	if e := s.get(hp); e != nil && e.spend != 0 {
		own = s.spends.at(e.spend).read(clockAt(max(sec, e.last)))
	}
	s.mu.Unlock()
	out.Spent24h = max(0, out.Spent24h-own)
}

// retry decides how obs counts: the amount to count (the whole amount for
// a new purchase, the increase for a larger retry) and whether it counts in
// the windows at all. With record, the purchase's amount is updated (and
// noted in rc when not nil).
func (t *Tracker) retry(obs *Observation, sec uint32, amount float64, record bool, rc *Receipt) (float64, bool) {
	if obs.Purchase == "" || obs.UID == "" || obs.Login {
		return amount, true
	}
	counted, seen := t.purchaseCounted(t.purchaseHash(obs.UID, obs.Purchase), sec, amount, record, rc)
	if !seen {
		return amount, true
	}
	if amount <= counted {
		return 0, false
	}
	return amount - counted, true
}

// RecordSpend adds amount to the 24h spending of uid (read as Spent24h),
// for a money movement of purchase that was allowed: a purchase adds to it
// once, its largest amount (an allowed retry adds nothing more; an empty
// purchase always adds). An empty uid, or an amount that is not finite and
// positive, is ignored.
func (t *Tracker) RecordSpend(now time.Time, uid, purchase string, amount float64) {
	t.recordSpend(now, uid, purchase, amount, nil)
}

// RecordSpendWithReceipt is RecordSpend that also notes in rc what it
// added, for Undo (receipt.go).
func (t *Tracker) RecordSpendWithReceipt(now time.Time, uid, purchase string, amount float64, rc *Receipt) {
	t.recordSpend(now, uid, purchase, amount, rc)
}

func (t *Tracker) recordSpend(now time.Time, uid, purchase string, amount float64, rc *Receipt) {
	if uid == "" || !(amount > 0) || amount > math.MaxFloat64 {
		return
	}
	sec := t.tick(now)
	if purchase != "" {
		hp := t.purchaseHash(uid, purchase)
		s := t.shardOf(hp)
		s.mu.Lock()
		e, c, created := s.touch(hp, sec)
		if e.spend == 0 {
			e.spend = s.spends.alloc()
		}
		sp := s.spends.at(e.spend)
		amount -= sp.read(c)
		if amount > 0 {
			sp.add(c, amount)
		}
		s.mu.Unlock()
		if rc != nil {
			rc.add(spendOp(hp, c, max(amount, 0), created))
		}
		if amount <= 0 {
			return
		}
	}
	h := t.hash(kindUID, uid)
	s := t.shardOf(h)
	s.mu.Lock()
	e, c, created := s.touch(h, sec)
	if e.spend == 0 {
		e.spend = s.spends.alloc()
	}
	s.spends.at(e.spend).add(c, amount)
	s.mu.Unlock()
	if rc != nil {
		rc.add(spendOp(h, c, amount, created))
	}
}

// UnrecordSpend takes the spend RecordSpend added for uid's purchase out
// of the UID's Spent24h, from the hours it was added in (a payment that
// failed does not count against a daily cap). It returns the amount taken
// back.
func (t *Tracker) UnrecordSpend(now time.Time, uid, purchase string) float64 {
	if uid == "" || purchase == "" {
		return 0
	}
	sec := t.tick(now)
	var back [slots24h]float64
	var head uint32
	hp := t.purchaseHash(uid, purchase)
	s := t.shardOf(hp)
	s.mu.Lock()
	if e := s.get(hp); e != nil && e.spend != 0 {
		sp := s.spends.at(e.spend)
		c := clockAt(max(sec, e.last))
		sp.add(c, 0) // bring the ring to c
		back, head = sp.a, sp.head
		clear(sp.a[:])
		sp.total = 0
	}
	s.mu.Unlock()
	if head == 0 {
		return 0
	}
	h := t.hash(kindUID, uid)
	s = t.shardOf(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.get(h)
	if e == nil || e.spend == 0 {
		return 0
	}
	sp := s.spends.at(e.spend)
	c := clockAt(max(sec, e.last))
	sp.add(c, 0)
	taken := 0.0
	for i := uint32(0); i < slots24h; i++ {
		b := head - i
		if a := back[b%slots24h]; a != 0 && counted(b, sp.head, slots24h) && b <= sp.head {
			sp.a[b%slots24h] -= a
			taken += a
		}
	}
	sp.total = sum(sp.a[:])
	return taken
}

// Distinct values per key, for payment-method switching and instruments
// shared between accounts: a pseudo-key's distinct-id set (the same set
// UIDDevices1h uses) holds the values seen with it in the hour.

// distinctAt records id with the key of hash h at sec (with record, noted
// in rc when not nil; else only reads, counting id as if recorded) and
// returns how many distinct ids the key saw in the hour, id included.
func (t *Tracker) distinctAt(h uint64, id uint32, sec uint32, record bool, rc *Receipt) uint32 {
	s := t.shardOf(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	if record {
		e, c, created := s.touch(h, sec)
		prev, had := s.see(e, id, c)
		if rc != nil {
			op := undoOp{h: h, sec: c.sec}
			if created {
				op.flags = opCreated
			}
			rc.add(op.saw(true, id, prev, had))
		}
		return s.distinct(e, c)
	}
	e := s.get(h)
	if e == nil {
		return 1
	}
	c := clockAt(max(sec, e.last))
	n := s.distinct(e, c)
	for _, x := range s.ids(e) {
		if x.id == id && in1h(x.sec, c) {
			return n
		}
	}
	return min(n+1, SetCap)
}

// distincts fills the distinct counts of obs: the payment methods of its
// UID and of its purchase, the UIDs of its instrument and the instruments
// of its UID, in the hour. With record they are recorded (noted in rc when
// not nil).
func (t *Tracker) distincts(obs *Observation, sec uint32, record bool, out *pdp.Velocity, rc *Receipt) {
	if obs.Login || obs.UID == "" {
		return
	}
	if obs.Method != "" {
		m := uint32(t.hash(kindMethod, obs.Method))
		out.UIDMethods1h = t.distinctAt(t.hash(kindUIDMethods, obs.UID), m, sec, record, rc)
		if obs.Purchase != "" {
			hp := t.hash(kindPurchaseMethods, obs.Purchase) ^ (t.hash(kindUIDMethods, obs.UID) * 0x9e3779b97f4a7c15)
			out.PurchaseMethods1h = t.distinctAt(hp, m, sec, record, rc)
		}
	}
	if obs.Instrument != "" {
		out.InstrumentUIDs1h = t.distinctAt(t.hash(kindInstrument, obs.Instrument), uint32(t.hash(kindUID, obs.UID)), sec, record, rc)
		if !obs.Destination {
			out.UIDInstruments1h = t.distinctAt(t.hash(kindUIDInstruments, obs.UID), uint32(t.hash(kindInstrument, obs.Instrument)), sec, record, rc)
		}
	}
}

// ReadAccount is Read of a UID alone, for an operator's view of the
// account: besides its windows, what the decisions count for the account
// itself, as it stands (no operation counted as if it were made): its
// attempts (Attempts1m/1h), its payment methods and the instruments it
// paid with in the hour (UIDMethods1h, UIDInstruments1h). The counts of
// one purchase or one instrument (PurchaseMethods1h, InstrumentUIDs1h)
// belong to an operation and stay zero.
func (t *Tracker) ReadAccount(now time.Time, uid string, out *pdp.Velocity) {
	t.Read(now, uid, "", "", out)
	if uid == "" {
		return
	}
	sec := unixSec(now)
	read := func(h uint64, f func(s *shard, e *entry, c clock)) {
		s := t.shardOf(h)
		s.mu.Lock()
		defer s.mu.Unlock()
		if e := s.get(h); e != nil {
			f(s, e, clockAt(max(sec, e.last)))
		}
	}
	read(t.hash(kindAttempt, uid), func(s *shard, e *entry, c clock) {
		var w pdp.WindowCounts
		s.counts(e, c, &w)
		out.Attempts1m, out.Attempts1h = w.Count1m, w.Count1h
	})
	read(t.hash(kindUIDMethods, uid), func(s *shard, e *entry, c clock) { out.UIDMethods1h = s.distinct(e, c) })
	read(t.hash(kindUIDInstruments, uid), func(s *shard, e *entry, c clock) { out.UIDInstruments1h = s.distinct(e, c) })
}
