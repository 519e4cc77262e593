package state

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gaissmai/bart"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/backoff"
)

// The IP range index. IP range entries ("10.0.0.0/8" on a list) are list
// entries like any other, durable in the backend under keys of their own
// (ipRangeKind); a request's address is looked up in an in-memory index of
// them, a bart.Table (a multibit trie with popcount-compressed nodes),
// because the backend can only answer "is this key there". The index is
// never the only copy: Open builds it from the backend before it returns,
// every commit that writes range keys updates it (in the committer, before
// the writer is released, so a range is in force when PutListEntry
// returns), and with a Shared backend the keys other sidecars changed are
// read again by the range refresher (one goroutine), as is everything
// whenever the backend reports that invalidations may have been missed,
// and every max(CacheTTL, 1s) as the backstop the cache TTL is for cached
// entries.
//
// Readers load the table through an atomic pointer and never lock; writers
// (the committer, the refresher) serialize on a mutex and publish a new
// table built with bart's persistent (copy-on-write) operations, or, for
// large batches, a clone changed in place.

// rangeVal is what the index holds for one prefix: the entries of each
// list (block, allow, vip) under it. Published values are never modified.
type rangeVal struct {
	pfx    netip.Prefix
	on     [3]bool   // the list has an entry for pfx
	bad    [3]bool   // ... whose record could not be decoded (ErrCorrupt)
	exp    [3]int64  // its expiry, Unix ns; math.MaxInt64: none
	reason [3]string // its reason
}

// rangeOp is one committed or re-read range key: its record, nil when
// the key is gone.
type rangeOp struct {
	key, val []byte
}

type rangeIndex struct {
	t atomic.Pointer[bart.Table[*rangeVal]]

	mu sync.Mutex // serializes writers of t
	// epoch counts the committer's updates, so that the refresher can tell
	// that a key it read may have been written after its read.
	epoch uint64
	// replay holds the committer's updates while a rebuild reads the
	// backend (rebuilding), applied again to the rebuilt table.
	rebuilding bool
	replay     []rangeOp

	// With a Shared backend: what the refresher must read again.
	pmu     sync.Mutex
	pending map[string]struct{}
	all     bool
	kick    chan struct{}
	done    chan struct{}

	rebuilds, refreshErrors, skipped atomic.Uint64
}

// rangeChunk: more updates than this at once are applied to a private
// clone of the table in place, rather than copy-on-write one by one.
const rangeChunk = 64

func (x *rangeIndex) init() {
	x.t.Store(new(bart.Table[*rangeVal]))
	x.pending = map[string]struct{}{}
	x.kick = make(chan struct{}, 1)
	x.done = make(chan struct{})
}

// rangeHit is what the ranges covering an address say.
type rangeHit struct {
	on      [3]bool // an active range of the list covers the address
	reason  string  // the most specific active block range's reason
	corrupt bool    // a covering range's record could not be decoded
}

// lookup finds the active ranges covering a at n (Unix ns): the longest
// match, then each shorter one that also covers a. No allocation.
func (x *rangeIndex) lookup(a netip.Addr, n int64) (h rangeHit) {
	t := x.t.Load()
	if t.Size() == 0 {
		return h
	}
	v, ok := t.Lookup(a)
	for ok {
		for i := range v.on {
			switch {
			case !v.on[i] || h.on[i]:
			case v.bad[i]:
				h.corrupt = true
			case n < v.exp[i]:
				h.on[i] = true
				if i == 0 {
					h.reason = v.reason[0]
				}
			}
		}
		bits := v.pfx.Bits()
		if bits == 0 || h.on == [3]bool{true, true, true} {
			break
		}
		v, ok = t.LookupPrefix(netip.PrefixFrom(v.pfx.Addr(), bits-1))
	}
	return h
}

// set returns t with op applied: in place when persist is false (t is
// private), copy-on-write otherwise. A key whose value is not a canonical
// range (written by something other than a Store) is counted and left
// out: it cannot be told which addresses it covers.
func (x *rangeIndex) set(t *bart.Table[*rangeVal], op rangeOp, persist bool) *bart.Table[*rangeVal] {
	list, _, value, ok := parseListKey(op.key)
	if !ok || list < pdp.ListBlock || list > pdp.ListVIP || !isRange(value) {
		x.skipped.Add(1)
		return t
	}
	if c, err := CanonicalListValue(list, pdp.SubjectIP, value); err != nil || c != value {
		x.skipped.Add(1)
		return t
	}
	p, err := netip.ParsePrefix(value)
	if err != nil {
		x.skipped.Add(1)
		return t
	}
	old, _ := t.Get(p)
	nv := &rangeVal{pfx: p}
	if old != nil {
		*nv = *old
	}
	i := list - 1
	nv.on[i], nv.bad[i], nv.exp[i], nv.reason[i] = false, false, 0, ""
	if op.val != nil {
		nv.on[i] = true
		e, err := decodeListEntry(op.val)
		if err != nil || e.List != list || e.Subject != pdp.SubjectIP || e.Value != value {
			nv.bad[i] = true
		} else {
			nv.exp[i] = math.MaxInt64
			if !e.Expires.IsZero() {
				nv.exp[i] = clampNanos(e.Expires).UnixNano()
			}
			nv.reason[i] = e.Reason
		}
	}
	if nv.on == [3]bool{} {
		switch {
		case old == nil:
			return t
		case persist:
			return t.DeletePersist(p)
		}
		t.Delete(p)
		return t
	}
	if persist {
		return t.InsertPersist(p, nv)
	}
	t.Insert(p, nv)
	return t
}

// apply publishes t with ops applied (the caller holds mu).
func (x *rangeIndex) apply(ops []rangeOp) {
	t := x.t.Load()
	persist := len(ops) <= rangeChunk
	if !persist {
		t = t.Clone()
	}
	for _, op := range ops {
		t = x.set(t, op, persist)
	}
	x.t.Store(t)
}

// committed applies the range writes of a batch the backend committed.
func (x *rangeIndex) committed(ops []rangeOp) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.apply(ops)
	x.epoch++
	if x.rebuilding {
		x.replay = append(x.replay, ops...)
	}
}

// rangeOps returns the range writes of b.
func rangeOps(b *Batch) []rangeOp {
	var ops []rangeOp
	for _, w := range b.Writes {
		if w.Bucket != BucketLists || !isRangeKey(w.Key) {
			continue
		}
		op := rangeOp{key: w.Key}
		if !w.Delete {
			op.val = w.Value
		}
		ops = append(ops, op)
	}
	return ops
}

// indexRanges keeps the index current with a commit of b that returned
// err. With a Shared backend the keys are also read again: another
// sidecar may write them between this commit and its index update, and
// a failed commit on Redis Cluster may have applied part of the batch.
func (s *Store) indexRanges(b *Batch, err error) {
	ops := rangeOps(b)
	if len(ops) == 0 {
		return
	}
	if err == nil {
		s.ranges.committed(ops)
	}
	if s.shared != nil {
		for _, op := range ops {
			s.ranges.queue(op.key)
		}
	}
}

// buildRanges reads every range entry of the backend into a new table.
func (x *rangeIndex) build(be Backend) (*bart.Table[*rangeVal], error) {
	t := new(bart.Table[*rangeVal])
	for _, l := range lists {
		err := be.Scan(BucketLists, rangePrefix(l), nil, func(k, v []byte) error {
			t = x.set(t, rangeOp{key: k, val: v}, false)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read IP ranges: %w", err)
		}
	}
	x.rebuilds.Add(1)
	return t, nil
}

// queue asks the refresher to read key again.
func (x *rangeIndex) queue(key []byte) {
	x.pmu.Lock()
	x.pending[string(key)] = struct{}{}
	x.pmu.Unlock()
	x.wake()
}

// queueAll asks the refresher to rebuild the index.
func (x *rangeIndex) queueAll() {
	x.pmu.Lock()
	x.all = true
	x.pmu.Unlock()
	x.wake()
}

func (x *rangeIndex) wake() {
	select {
	case x.kick <- struct{}{}:
	default:
	}
}

// take returns and clears what is pending.
func (x *rangeIndex) take() (all bool, keys [][]byte) {
	x.pmu.Lock()
	defer x.pmu.Unlock()
	all, x.all = x.all, false
	for k := range x.pending {
		keys = append(keys, []byte(k))
	}
	clear(x.pending)
	return all, keys
}

// refreshRanges is the range refresher, run with a Shared backend until
// Close: it reads again the range keys other sidecars changed, and
// everything when invalidations may have been lost or CacheTTL (at least
// a second) has passed since the last rebuild.
func (s *Store) refreshRanges() {
	x := &s.ranges
	defer close(x.done)
	tick := time.NewTicker(max(s.cfg.CacheTTL, time.Second))
	defer tick.Stop()
	var retry <-chan time.Time
	// 50 ms after a failure, doubling up to 5 s; a success starts over.
	wait := backoff.Exponential(50*time.Millisecond, 5*time.Second, 2, 0)
	for {
		select {
		case <-s.quit:
			return
		case <-x.kick:
		case <-tick.C:
			x.queueAll()
		case <-retry:
		}
		retry = nil
		all, keys := x.take()
		err := s.refresh(all, keys)
		if err == nil {
			wait.Reset()
			continue
		}
		// Put it back and try again later: Redis may be down (it then
		// reports a loss when it is back, which rebuilds anyway).
		x.refreshErrors.Add(1)
		in := wait.NextBackOff()
		s.cfg.Logger.Warn("state: IP ranges could not be read again; retrying", "err", err, "in", in)
		x.pmu.Lock()
		x.all = x.all || all
		for _, k := range keys {
			x.pending[string(k)] = struct{}{}
		}
		x.pmu.Unlock()
		retry = time.After(in)
	}
}

func (s *Store) refresh(all bool, keys [][]byte) error {
	x := &s.ranges
	if all {
		// The scan reads every key after it was queued: the pending keys
		// are covered.
		x.mu.Lock()
		x.rebuilding, x.replay = true, nil
		x.mu.Unlock()
		t, err := x.build(s.be)
		x.mu.Lock()
		defer x.mu.Unlock()
		replay := x.replay
		x.rebuilding, x.replay = false, nil
		if err != nil {
			return err
		}
		// The committer's updates made during the scan, which may have
		// missed them; each of their keys is queued to be read again too.
		for _, op := range replay {
			t = x.set(t, op, false)
		}
		x.t.Store(t)
		return nil
	}
	for len(keys) > 0 {
		n := min(len(keys), scanChunk)
		if err := s.refreshKeys(keys[:n]); err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}

// refreshKeys reads keys again and applies what it read, unless the
// committer updated the index meanwhile: its update may be newer than the
// read, so the keys are read once more.
func (s *Store) refreshKeys(keys [][]byte) error {
	x := &s.ranges
	x.mu.Lock()
	e0 := x.epoch
	x.mu.Unlock()
	ops := make([]rangeOp, len(keys))
	err := s.be.Get(BucketLists, keys, func(i int, v []byte) error {
		ops[i] = rangeOp{key: keys[i], val: slices.Clone(v)}
		return nil
	})
	if err != nil {
		return err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.epoch != e0 {
		x.pmu.Lock()
		for _, k := range keys {
			x.pending[string(k)] = struct{}{}
		}
		x.pmu.Unlock()
		x.wake()
		return nil
	}
	x.apply(ops)
	return nil
}

// reputationIP adds what the ranges say about a to rep.
func (s *Store) reputationIP(rep pdp.Reputation, a netip.Addr, n int64) (pdp.Reputation, error) {
	h := s.ranges.lookup(a, n)
	if h.on[0] && !rep.Blocked {
		rep.Blocked, rep.BlockReason = true, h.reason
	}
	rep.Allowed = rep.Allowed || h.on[1]
	rep.VIP = rep.VIP || h.on[2]
	if h.corrupt && !rep.Blocked {
		return pdp.Reputation{}, corrupt("IP range entry", errors.New("a range covering the address could not be decoded"))
	}
	return rep, nil
}
