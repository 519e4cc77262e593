package state

import (
	"hash/maphash"
	"sync/atomic"
	"unsafe"

	"github.com/dgraph-io/ristretto/v2"
	"github.com/riskpdp/riskpdp/pdp"
)

// Cache namespaces: reputation entries use the subject kind (1 to 4).
const (
	nsAccount      = 8
	nsVerification = 9
)

// genBits sizes the generation stripes: 2¹⁶ counters, 512 KiB. A write
// invalidates the cached entries of every key in its stripe, so one write
// costs on average (cached keys)/65536 extra misses.
const genBits = 16

// recentSlots sizes cache.recent (32 KiB of pointers).
const recentSlots = 1 << 12

// centry is one cached read. It carries its own key (ristretto keys are
// 64-bit hashes and do not detect collisions), the generation of its
// stripe when the read that filled it started, and the time (Unix ns, in
// the time of the reads) until which it may be served.
type centry struct {
	ns     uint8
	k1, k2 string
	gen    uint64
	until  int64
	// hard is when the cached list entries themselves expire (Unix ns):
	// a stale block is served during an outage only before it (see stale).
	hard  int64
	rep   pdp.Reputation
	acct  *pdp.AccountState
	verif *pdp.Verification // nil: none
}

// cache is a ristretto cache whose entries are validated on every hit
// against a generation counter per key stripe.
//
// ristretto's Set is asynchronous and may be dropped, and a Set that fills
// from an old read can land after the write that made it old; deleting on
// write cannot stop that. Instead: a reader loads the stripe generation
// before it reads the overlay or the store and stores it in the entry; a
// writer bumps the generation after its change is visible (committed, or in
// the overlay). A hit counts only if the entry's generation is still the
// stripe's, so an entry filled from a read that may have missed a write is
// never served after that write returned. Dropped or rejected Sets only
// cost a later miss.
type cache struct {
	rc *ristretto.Cache[uint64, *centry]
	// recent is a direct-mapped table of the latest fills and hits, in
	// front of ristretto, whose Set is applied asynchronously (or dropped,
	// or refused by its admission policy): without it the read right after
	// a fill, a decision's update of the account it has just read, missed
	// and read the backend again. Its entries are validated like
	// ristretto's; it holds at most recentSlots entries beyond MaxCost.
	recent [recentSlots]atomic.Pointer[centry]
	seed   maphash.Seed
	gens   []atomic.Uint64
	// Counters. ristretto's own Metrics are off: they keep a map of up to
	// 100k admission times (megabytes) and read the clock per admission.
	hits, misses                 striped
	evictions, rejected, dropped atomic.Uint64
}

// striped is a counter spread over cache lines by key hash, so that reads
// of different keys on different cores do not contend.
type striped [16]struct {
	n atomic.Uint64
	_ [56]byte
}

func (c *striped) add(h uint64) { c[h%uint64(len(c))].n.Add(1) }

func (c *striped) load() (n uint64) {
	for i := range c {
		n += c[i].n.Load()
	}
	return n
}

func newCache(maxCost int64) (*cache, error) {
	c := &cache{seed: maphash.MakeSeed(), gens: make([]atomic.Uint64, 1<<genBits)}
	rc, err := ristretto.NewCache(&ristretto.Config[uint64, *centry]{
		NumCounters: max(maxCost/64, 1024),
		MaxCost:     maxCost,
		BufferItems: 64,
		OnEvict:     func(*ristretto.Item[*centry]) { c.evictions.Add(1) },
		OnReject:    func(*ristretto.Item[*centry]) { c.rejected.Add(1) },
		// Of two fills racing for one key keep the one from the later read.
		ShouldUpdate: func(cur, prev *centry) bool {
			return cur.gen >= prev.gen || cur.ns != prev.ns || cur.k1 != prev.k1 || cur.k2 != prev.k2
		},
	})
	if err != nil {
		return nil, err
	}
	c.rc = rc
	return c, nil
}

func (c *cache) key(ns uint8, k1, k2 string) uint64 {
	h := maphash.String(c.seed, k1)
	if k2 != "" {
		h = (h ^ maphash.String(c.seed, k2)) * 0x100000001b3
	}
	return h ^ uint64(ns)*0x9e3779b97f4a7c15
}

func (c *cache) stripe(h uint64) *atomic.Uint64 { return &c.gens[h>>(64-genBits)] }

func (c *cache) gen(h uint64) uint64 { return c.stripe(h).Load() }

// bump invalidates every cached entry of h's stripe.
func (c *cache) bump(h uint64) { c.stripe(h).Add(1) }

// get returns the entry for the key if it may be served at now.
func (c *cache) get(h uint64, ns uint8, k1, k2 string, now int64) *centry {
	e := c.lookup(h, ns, k1, k2)
	if e == nil || !c.servable(h, e, now) {
		c.misses.add(h)
		return nil
	}
	c.hits.add(h)
	return e
}

// getRecent is get on the table of recent fills alone: it counts a hit,
// and nothing when the table does not have the key (the caller goes on to
// get, or to a filter).
func (c *cache) getRecent(h uint64, ns uint8, k1, k2 string, now int64) *centry {
	e := c.slot(h).Load()
	if e == nil || !e.is(ns, k1, k2) || !c.servable(h, e, now) {
		return nil
	}
	c.hits.add(h)
	return e
}

// servable reports whether e, held for h, may be served at now: not past
// its time, and filled since the last write of its stripe.
func (c *cache) servable(h uint64, e *centry, now int64) bool {
	return now < e.until && e.gen == c.gen(h)
}

// slot is h's entry in the table of recent fills.
func (c *cache) slot(h uint64) *atomic.Pointer[centry] { return &c.recent[h&(recentSlots-1)] }

// lookup returns the entry held for the key, from recent or else from
// ristretto (then made recent), whatever its generation and age.
func (c *cache) lookup(h uint64, ns uint8, k1, k2 string) *centry {
	slot := c.slot(h)
	if e := slot.Load(); e != nil && e.is(ns, k1, k2) {
		return e
	}
	e, ok := c.rc.Get(h)
	if !ok || !e.is(ns, k1, k2) {
		return nil
	}
	slot.Store(e)
	return e
}

func (e *centry) is(ns uint8, k1, k2 string) bool { return e.ns == ns && e.k1 == k1 && e.k2 == k2 }

// stale returns the entry for the key whatever its generation and age:
// what this sidecar last knew, for a read the backend cannot answer.
func (c *cache) stale(h uint64, ns uint8, k1, k2 string) *centry {
	return c.lookup(h, ns, k1, k2)
}

// putRecent keeps e in the table of recent fills only (see recent), where
// it stays until another key's fill or hit takes its slot.
func (c *cache) putRecent(h uint64, e *centry) { c.slot(h).Store(e) }

// put caches e until e.until in the time of the reads. ristretto's own
// TTL is not used: it reads the wall clock on every Get (a third of the
// cost of a hit). An entry past its time stays until it is replaced or
// evicted, within CacheMaxCost like any other.
func (c *cache) put(h uint64, e *centry) {
	// Of two fills racing for one slot the later one stays, whichever
	// read it came from: an entry from the older read fails the
	// generation test once a write made it old, as in ristretto.
	c.putRecent(h, e)
	if !c.rc.Set(h, e, e.cost()) {
		c.dropped.Add(1)
	}
}

const centrySize = int64(unsafe.Sizeof(centry{}))

// entryOverhead is what ristretto's maps hold per entry beyond the 56
// bytes it adds to every cost itself (its store map and the policy's cost
// map take about 120 bytes at their load factor), plus the rounding of
// centry to its size class. With it, a cache full to CacheMaxCost holds
// about that many bytes of heap (270 measured per reputation entry, cost
// 248); Go maps do not shrink, so a cache that churned holds up to twice
// that (see the package doc).
const entryOverhead = 64

// cost estimates the bytes an entry holds.
func (e *centry) cost() int64 {
	n := centrySize + entryOverhead + int64(len(e.k1)+len(e.k2)+len(e.rep.BlockReason))
	if a := e.acct; a != nil {
		n += accountSize(a)
	}
	if v := e.verif; v != nil {
		n += int64(unsafe.Sizeof(*v)) + int64(len(v.ChallengeID))
		for _, m := range v.Methods {
			n += 16 + 2*int64(len(m)) + 48 // slice element, map key and bucket share
		}
	}
	return n
}

func accountSize(a *pdp.AccountState) int64 {
	n := int64(unsafe.Sizeof(*a)) + int64(len(a.UID)+len(a.Probation.Reason))
	for _, f := range a.Freezes {
		n += int64(unsafe.Sizeof(f)) + int64(len(f.Functions)+len(f.Rule)+len(f.TxnID)+len(f.DecisionID)+len(f.Actor.Operator)+len(f.Actor.Ticket)+len(f.Actor.Reason))
	}
	for _, l := range a.Limits {
		n += int64(unsafe.Sizeof(l)) + int64(len(l.Currency))
	}
	for _, e := range a.Events {
		n += int64(unsafe.Sizeof(e)) + int64(len(e.Kind)+len(e.DeviceID))
	}
	for _, d := range a.Devices {
		n += int64(unsafe.Sizeof(d)) + int64(len(d.ID))
	}
	for _, d := range a.Destinations {
		n += int64(unsafe.Sizeof(d)) + int64(len(d.ID))
	}
	for _, f := range a.Flags {
		n += int64(unsafe.Sizeof(f)) + int64(len(f.Kind)+len(f.Reason)+len(f.TxnID)+len(f.DecisionID))
	}
	for _, p := range a.Payments {
		n += int64(unsafe.Sizeof(p)) + int64(len(p.TxnID)+len(p.Purchase)+len(p.DecisionID)+len(p.Currency)+len(p.Category)) +
			int64(len(p.Outcomes))*int64(unsafe.Sizeof(pdp.OutcomeMark{}))
		for _, r := range p.Reasons {
			n += int64(len(r)) + 16
		}
	}
	return n
}

func (c *cache) close() { c.rc.Close() }
