package velocity

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
)

// Observation is one request as the tracker records it.
type Observation struct {
	// UID, Device and IP are the keys; an empty one is skipped.
	UID, Device, IP string
	// Purchase names the operation a money movement belongs to (its
	// order, else its transaction; purchase.go): a retry of a purchase the
	// UID was observed with in the last 24 h counts in no window again,
	// but as an attempt. "": every observation counts.
	Purchase string
	// Method is the payment method, Instrument a fingerprint of the
	// payment instrument (a card or account token, never its number): the
	// distinct methods per UID and per purchase, the distinct UIDs per
	// instrument and the distinct instruments per UID are counted over
	// the hour. "": not counted.
	Method, Instrument string
	// Destination: Instrument receives the money (a withdrawal's
	// destination), it is not one the UID pays with; it counts among the
	// instrument's UIDs, not among the UID's instruments.
	Destination bool
	// Amount is the money moved. Non-finite or negative amounts count as
	// a request of amount 0. Ignored for logins.
	Amount float64
	// Login marks a login: it counts in Logins1h instead of Count/Amount.
	Login bool
}

// Stats are counters of a tracker's bookkeeping.
type Stats struct {
	Keys        int    // keys tracked now
	Evictions   uint64 // live keys removed to admit others (or dropped by Restore)
	Expirations uint64 // keys removed because nothing they held counted any more
}

// Tracker counts requests per UID, device and IP over sliding windows. It is
// safe for concurrent use.
type Tracker struct {
	seed   sipKey
	keys   [numKinds]sipKey // per key kind, derived from seed
	shards []shard
	shift  uint  // shard of hash h is h >> shift
	small  uint8 // small-mode capacity (smallCap; tests lower it)
	// latest is the largest Unix second any write has used. It is raised
	// before the write, so every entry's last is at most latest.
	latest atomic.Uint32

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// Key kinds, separating the hash spaces of UIDs, devices and IPs.
const (
	kindUID = iota
	kindDevice
	kindIP
	kindPurchase        // a UID's purchase (purchase.go)
	kindAttempt         // a UID's money attempts, retries included
	kindUIDMethods      // the payment methods of a UID
	kindPurchaseMethods // the payment methods of a UID's purchase
	kindInstrument      // the UIDs of a payment instrument
	kindMethod          // a payment method, as an id in those sets
	kindUIDInstruments  // the payment instruments of a UID
	numKinds
)

// ErrUnknownFailureKind is returned by RecordFailure for a kind outside
// pdp.FailurePayment .. pdp.FailureLogin.
var ErrUnknownFailureKind = errors.New("velocity: unknown failure kind")

// New returns a tracker configured by cfg, and starts its sweeper unless
// cfg.SweepInterval is negative (then Close is optional).
func New(cfg Config) (*Tracker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand crashes the program instead)
	t := &Tracker{
		shards: make([]shard, cfg.Shards),
		shift:  uint(64 - bits.TrailingZeros(uint(cfg.Shards))),
		small:  smallCap,
	}
	t.setSeed(sipKey{binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:])})
	per := cfg.MaxKeys / cfg.Shards
	for i := range t.shards {
		t.shards[i].init(per, t.small)
	}
	if cfg.SweepInterval > 0 {
		t.stop, t.done = make(chan struct{}), make(chan struct{})
		go t.sweepLoop(cfg.SweepInterval)
	}
	return t, nil
}

func (t *Tracker) setSeed(k sipKey) {
	t.seed = k
	for kind := range t.keys {
		t.keys[kind] = sipKey{k.k0, k.k1 ^ uint64(kind+1)*0x9e3779b97f4a7c15}
	}
}

func (t *Tracker) hash(kind int, s string) uint64 { return sipHash(t.keys[kind], s) }

func (t *Tracker) shardOf(h uint64) *shard { return &t.shards[h>>t.shift] }

// tick converts now for a write and raises latest.
func (t *Tracker) tick(now time.Time) uint32 {
	sec := unixSec(now)
	for {
		l := t.latest.Load()
		if sec <= l || t.latest.CompareAndSwap(l, sec) {
			return sec
		}
	}
}

// Observe records one request at now and fills out with the counts of its
// keys including this request. Each key is updated and read under one lock
// hold. Empty Device or IP leave their parts of out zero; out.Failures and
// out.Spent24h are read for the UID. Allocation-free for known keys. It
// reports whether the request counted as an operation: false for a retry
// of a purchase counted already (what a fleet-wide count must skip too).
func (t *Tracker) Observe(now time.Time, obs Observation, out *pdp.Velocity) (counted bool) {
	return t.observe(now, obs, out, nil)
}

// ObserveWithReceipt is Observe that also notes in rc what it recorded,
// for Undo (receipt.go).
func (t *Tracker) ObserveWithReceipt(now time.Time, obs Observation, out *pdp.Velocity, rc *Receipt) (counted bool) {
	rc.Counted = t.observe(now, obs, out, rc)
	return rc.Counted
}

func (t *Tracker) observe(now time.Time, obs Observation, out *pdp.Velocity, rc *Receipt) bool {
	sec := t.tick(now)
	amount := obs.Amount
	if !(amount > 0) || amount > math.MaxFloat64 {
		amount = 0
	}
	amount, counts := t.retry(&obs, sec, amount, true, rc)
	if !counts {
		t.Read(now, obs.UID, obs.Device, obs.IP, out)
		t.attempt(obs.UID, sec, true, out, rc)
		t.othersSpent(&obs, sec, out)
		t.distincts(&obs, sec, true, out, rc)
		return false
	}
	defer t.distincts(&obs, sec, true, out, rc)
	defer t.othersSpent(&obs, sec, out)
	*out = pdp.Velocity{}
	if obs.Purchase != "" && obs.UID != "" && !obs.Login {
		t.attempt(obs.UID, sec, true, out, rc)
	}
	var hu, hd uint64
	if obs.UID != "" {
		hu = t.hash(kindUID, obs.UID)
	}
	if obs.Device != "" {
		hd = t.hash(kindDevice, obs.Device)
	}
	if obs.UID != "" {
		s := t.shardOf(hu)
		s.mu.Lock()
		e, c, created := s.touch(hu, sec)
		s.record(e, c, amount, obs.Login)
		var prev seen
		var had bool
		if obs.Device != "" {
			prev, had = s.see(e, uint32(hd), c)
		}
		s.counts(e, c, &out.UID)
		out.UIDDevices1h = s.distinct(e, c)
		s.uidParts(e, c, out)
		s.mu.Unlock()
		if rc != nil {
			rc.add(recordOp(hu, c, amount, obs.Login, created).saw(obs.Device != "", uint32(hd), prev, had))
		}
	}
	if obs.Device != "" {
		s := t.shardOf(hd)
		s.mu.Lock()
		e, c, created := s.touch(hd, sec)
		s.record(e, c, amount, obs.Login)
		var prev seen
		var had bool
		if obs.UID != "" {
			prev, had = s.see(e, uint32(hu), c)
		}
		s.counts(e, c, &out.Device)
		out.DeviceUIDs1h = s.distinct(e, c)
		s.mu.Unlock()
		if rc != nil {
			rc.add(recordOp(hd, c, amount, obs.Login, created).saw(obs.UID != "", uint32(hu), prev, had))
		}
	}
	if obs.IP != "" {
		hi := t.hash(kindIP, obs.IP)
		s := t.shardOf(hi)
		s.mu.Lock()
		e, c, created := s.touch(hi, sec)
		s.record(e, c, amount, obs.Login)
		s.counts(e, c, &out.IP)
		s.mu.Unlock()
		if rc != nil {
			rc.add(recordOp(hi, c, amount, obs.Login, created))
		}
	}
	return true
}

// Read fills out with the counts of the keys at now without recording
// anything (not even recency for eviction). Unknown or empty keys read as
// zero.
func (t *Tracker) Read(now time.Time, uid, device, ip string, out *pdp.Velocity) {
	*out = pdp.Velocity{}
	sec := unixSec(now)
	if uid != "" {
		h := t.hash(kindUID, uid)
		s := t.shardOf(h)
		s.mu.Lock()
		if e := s.get(h); e != nil {
			c := clockAt(max(sec, e.last))
			s.counts(e, c, &out.UID)
			out.UIDDevices1h = s.distinct(e, c)
			s.uidParts(e, c, out)
		}
		s.mu.Unlock()
	}
	if device != "" {
		h := t.hash(kindDevice, device)
		s := t.shardOf(h)
		s.mu.Lock()
		if e := s.get(h); e != nil {
			c := clockAt(max(sec, e.last))
			s.counts(e, c, &out.Device)
			out.DeviceUIDs1h = s.distinct(e, c)
		}
		s.mu.Unlock()
	}
	if ip != "" {
		h := t.hash(kindIP, ip)
		s := t.shardOf(h)
		s.mu.Lock()
		if e := s.get(h); e != nil {
			s.counts(e, clockAt(max(sec, e.last)), &out.IP)
		}
		s.mu.Unlock()
	}
}

// Peek fills out with the counts Observe(now, obs, out) would report,
// without recording anything: the request counts in its own windows as it
// would once observed (one more operation, its amount, its device among
// the UID's and its UID among the device's), so a read-only evaluation
// meets each threshold exactly where a decision would.
func (t *Tracker) Peek(now time.Time, obs Observation, out *pdp.Velocity) {
	t.Read(now, obs.UID, obs.Device, obs.IP, out)
	sec := unixSec(now)
	if obs.Purchase != "" && obs.UID != "" && !obs.Login {
		t.attempt(obs.UID, sec, false, out, nil)
	}
	amount := obs.Amount
	if !(amount > 0) || amount > math.MaxFloat64 {
		amount = 0
	}
	amount, counts := t.retry(&obs, sec, amount, false, nil)
	defer t.distincts(&obs, sec, false, out, nil)
	defer t.othersSpent(&obs, sec, out)
	if !counts {
		return
	}
	include := func(w *pdp.WindowCounts) {
		if obs.Login {
			w.Logins1h++
			return
		}
		w.Count1m++
		w.Count1h++
		w.Count24h++
		w.Amount1m += amount
		w.Amount1h += amount
		w.Amount24h += amount
	}
	if obs.UID != "" {
		include(&out.UID)
		if obs.Device != "" && !t.sawWith(kindUID, obs.UID, uint32(t.hash(kindDevice, obs.Device)), sec) {
			out.UIDDevices1h = min(out.UIDDevices1h+1, SetCap)
		}
	}
	if obs.Device != "" {
		include(&out.Device)
		if obs.UID != "" && !t.sawWith(kindDevice, obs.Device, uint32(t.hash(kindUID, obs.UID)), sec) {
			out.DeviceUIDs1h = min(out.DeviceUIDs1h+1, SetCap)
		}
	}
	if obs.IP != "" {
		include(&out.IP)
	}
}

// sawWith reports whether the key (of kind) has id among the ids it saw in
// the hour before sec.
func (t *Tracker) sawWith(kind int, key string, id uint32, sec uint32) bool {
	h := t.hash(kind, key)
	s := t.shardOf(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.get(h)
	if e == nil {
		return false
	}
	c := clockAt(max(sec, e.last))
	for _, x := range s.ids(e) {
		if x.id == id && in1h(x.sec, c) {
			return true
		}
	}
	return false
}

// RecordFailure records a failed payment, PIN entry or login of uid at now.
// An empty uid is ignored.
func (t *Tracker) RecordFailure(now time.Time, uid string, kind pdp.FailureKind) error {
	if kind < pdp.FailurePayment || kind > pdp.FailureLogin {
		return fmt.Errorf("%w %d", ErrUnknownFailureKind, kind)
	}
	if uid == "" {
		return nil
	}
	sec := t.tick(now)
	h := t.hash(kindUID, uid)
	s := t.shardOf(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, c, _ := s.touch(h, sec)
	if e.fail == 0 {
		e.fail = s.fails.alloc()
	}
	s.fails.at(e.fail).add(c, int(kind-pdp.FailurePayment))
	return nil
}
