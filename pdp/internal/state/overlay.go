package state

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
)

// overlay holds account changes made in async mode until the background
// committer has persisted them. While an entry is here it is the truth for
// its UID: reads consult it before the store. The committer removes an
// entry once the version it wrote is still the entry's version, so a change
// made during a flush stays for the next one.
type overlay struct {
	shards [64]ovShard
	n      atomic.Int64 // entries
	audits atomic.Int64 // audit records held by the entries
}

type ovShard struct {
	mu sync.Mutex
	m  map[string]ovEntry
	_  [40]byte // keep shards on separate cache lines
}

type ovEntry struct {
	st     *pdp.AccountState // nil: superseded by a sync write, only audits pending
	ver    uint64
	audits []pdp.AuditRecord // not yet journaled, in order
	// With a Shared backend (see rebase): the changes not yet persisted,
	// in order, so that a flush can apply them to whatever the backend
	// holds by then; and the flushes that may have persisted a prefix of
	// them (a commit that failed may still have landed).
	fns   []func(*pdp.AccountState) error
	tries []try
	// blind: more than maxPendingChanges changes piled up (flushes kept
	// failing) and fns was dropped: the next flush writes st as it is.
	blind bool
}

// try is a flush that wrote an account: the digest of the value it wrote
// and how many of the entry's fns that value includes.
type try struct {
	d Digest
	n int
}

// maxPendingChanges bounds an entry's fns; maxTries its tries.
const (
	maxPendingChanges = 1024
	maxTries          = 16
)

// ovSnap is one entry as a flush saw it.
type ovSnap struct {
	uid    string
	h      uint64
	st     *pdp.AccountState
	ver    uint64
	audits []pdp.AuditRecord
	fns    []func(*pdp.AccountState) error
	tries  []try
	blind  bool
	// Set by the flush: the state it writes (st, or with a Shared backend
	// the rebased state) and the condition of the write.
	wrote *pdp.AccountState
	cond  *Digest
}

func (o *overlay) shard(h uint64) *ovShard { return &o.shards[h%uint64(len(o.shards))] }

func (o *overlay) get(h uint64, uid string) (*pdp.AccountState, bool) {
	sh := o.shard(h)
	sh.mu.Lock()
	e, ok := sh.m[uid]
	sh.mu.Unlock()
	if !ok || e.st == nil {
		return nil, false
	}
	return e.st, true
}

// put records st as the UID's state at version ver, and the audit record
// if any; fn, when not nil, is the change that made st (kept for rebase).
func (o *overlay) put(h uint64, uid string, st *pdp.AccountState, ver uint64, audit *pdp.AuditRecord, fn func(*pdp.AccountState) error) {
	sh := o.shard(h)
	sh.mu.Lock()
	if sh.m == nil {
		sh.m = make(map[string]ovEntry)
	}
	e, ok := sh.m[uid]
	e.st, e.ver = st, ver
	if audit != nil {
		e.audits = append(e.audits, *audit)
		o.audits.Add(1)
	}
	if fn != nil && !e.blind {
		if len(e.fns) < maxPendingChanges {
			e.fns = append(e.fns, fn)
		} else {
			e.fns, e.tries, e.blind = nil, nil, true
		}
	}
	sh.m[uid] = e
	sh.mu.Unlock()
	if !ok {
		o.n.Add(1)
	}
}

func (o *overlay) len() int64 { return o.n.Load() }

// pending counts the records a flush would write.
func (o *overlay) pending() int64 { return o.n.Load() + o.audits.Load() }

// snapshot returns every entry. Audit slices are shared: entries only ever
// append to them or drop a prefix, so the snapshot's view stays intact.
func (o *overlay) snapshot(c *cache) []ovSnap {
	if o.n.Load() == 0 {
		return nil
	}
	var out []ovSnap
	for i := range o.shards {
		sh := &o.shards[i]
		sh.mu.Lock()
		for uid, e := range sh.m {
			out = append(out, ovSnap{uid: uid, st: e.st, ver: e.ver, audits: e.audits[:len(e.audits):len(e.audits)],
				fns: e.fns[:len(e.fns):len(e.fns)], tries: slices.Clone(e.tries), blind: e.blind})
		}
		sh.mu.Unlock()
	}
	for i := range out {
		out[i].h = c.key(nsAccount, out[i].uid, "")
	}
	return out
}

// seed is a flushed state that may be cached under generation gen.
type seed struct {
	h   uint64
	uid string
	st  *pdp.AccountState
	gen uint64
}

// ack forgets what a successful flush of snaps persisted. For each entry
// it removes it returns the state written and the generation of its
// stripe, read under the shard lock: a later write bumps the generation
// after its put, so a cache entry made from the seed is never served after
// such a write. An entry changed since the snapshot stays, with the
// changes the flush wrote dropped; with a Shared backend its state becomes
// the state written with the later changes applied again (now for
// pruning), so that changes other sidecars made show here too.
func (o *overlay) ack(snaps []ovSnap, c *cache, now time.Time) []seed {
	var seeds []seed
	for _, s := range snaps {
		sh := o.shard(s.h)
		sh.mu.Lock()
		if e, ok := sh.m[s.uid]; ok {
			o.audits.Add(-int64(len(s.audits)))
			if e.ver == s.ver {
				delete(sh.m, s.uid)
				o.n.Add(-1)
				if e.st != nil && s.wrote != nil {
					seeds = append(seeds, seed{s.h, s.uid, s.wrote, c.gen(s.h)})
				}
			} else {
				e.audits = e.audits[len(s.audits):]
				if s.cond != nil && !e.blind && e.st != nil && len(s.fns) <= len(e.fns) {
					e.fns, e.tries = e.fns[len(s.fns):], nil
					e.st = replay(s.wrote, e.fns, now)
				}
				sh.m[s.uid] = e
			}
		}
		sh.mu.Unlock()
	}
	return seeds
}

// tried records that a flush writes t for the entry of uid.
func (o *overlay) tried(h uint64, uid string, t try) {
	sh := o.shard(h)
	sh.mu.Lock()
	if e, ok := sh.m[uid]; ok && !e.blind {
		if len(e.tries) >= maxTries {
			e.tries = e.tries[1:]
		}
		e.tries = append(e.tries, t)
		sh.m[uid] = e
	}
	sh.mu.Unlock()
}

// entry returns a copy of uid's entry.
func (o *overlay) entry(h uint64, uid string) (ovEntry, bool) {
	sh := o.shard(h)
	sh.mu.Lock()
	e, ok := sh.m[uid]
	sh.mu.Unlock()
	return e, ok
}

// supersede records that a sync write of version ver, computed from the
// entry's state, has been committed: the entry's state is no longer needed
// (its audits still are, if a failed flush left them behind).
func (o *overlay) supersede(h uint64, uid string, ver uint64) {
	sh := o.shard(h)
	sh.mu.Lock()
	if e, ok := sh.m[uid]; ok && e.ver < ver {
		if len(e.audits) == 0 {
			delete(sh.m, uid)
			o.n.Add(-1)
		} else {
			e.st, e.fns, e.tries, e.blind = nil, nil, nil, false
			sh.m[uid] = e
		}
	}
	sh.mu.Unlock()
}
