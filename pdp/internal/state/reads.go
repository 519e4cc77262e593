package state

import (
	"errors"
	"net/netip"
	"strings"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
)

var lists = [3]pdp.ListKind{pdp.ListBlock, pdp.ListAllow, pdp.ListVIP}

// Reputation returns what the lists say about one subject at now: entries
// that have expired at now do not count. For an IP, the entries of the
// address and of every range that covers it count (value in any spelling:
// ::ffff:1.2.3.4 is 1.2.3.4, a zone is ignored; an IP that does not parse
// is an ErrInvalid error); for a card BIN (6 to 8 digits, else ErrInvalid)
// the entries of the BIN and of the shorter BINs it begins (41111111:
// 411111, 4111111 and 41111111). The block reason is that of the most
// specific block entry. A subject the backend's filter of the lists' keys
// says is on none (the bbolt backend's, most subjects) is answered from it
// (after the cache's table of recent fills, before ristretto) and kept
// only in that table, not in ristretto. A cache hit costs no allocation; a
// miss reads the
// three lists from the backend in one snapshot and caches the result until
// the earliest expiry among the entries found, CacheTTL (NegativeTTL when
// no entry applies) or the next write of the subject, whichever comes
// first; IP ranges come from the in-memory range index on every call
// (ranges.go). An unknown subject kind is an error. When a Shared backend
// cannot answer a miss, a block cached earlier, or a range block, is still
// served until the block's own expiry (stale if error: fail closed);
// anything else is an error wrapping ErrUnavailable.
func (s *Store) Reputation(kind pdp.SubjectKind, value string, now time.Time) (pdp.Reputation, error) {
	var addr netip.Addr
	switch kind {
	case pdp.SubjectUID, pdp.SubjectDevice:
	case pdp.SubjectIP:
		var ok bool
		if addr, value, ok = requestIP(value); !ok {
			return pdp.Reputation{}, invalid("ip: not an IP address")
		}
	case pdp.SubjectCardBIN:
		if !isBIN(value) {
			return pdp.Reputation{}, invalid("card_bin: not 6 to 8 digits")
		}
	default:
		return pdp.Reputation{}, invalid("subject kind %d", kind)
	}
	rep, err := s.reputation(kind, value, now)
	if kind != pdp.SubjectIP {
		return rep, err
	}
	n := now.UnixNano()
	if err != nil {
		// A range block is known whatever the backend says.
		if r, rerr := s.reputationIP(pdp.Reputation{}, addr, n); rerr == nil && r.Blocked && errors.Is(err, ErrUnavailable) {
			return r, nil
		}
		return pdp.Reputation{}, err
	}
	return s.reputationIP(rep, addr, n)
}

// reputation is Reputation's read of the entries of value itself (and,
// for a BIN, of the shorter BINs it begins), through the cache.
func (s *Store) reputation(kind pdp.SubjectKind, value string, now time.Time) (pdp.Reputation, error) {
	ns := uint8(kind)
	h := s.c.key(ns, value, "")
	if !s.enter(h) {
		return pdp.Reputation{}, ErrClosed
	}
	defer s.exit(h)
	g := s.c.gen(h)
	n := now.UnixNano()
	if e := s.c.getRecent(h, ns, value, "", n); e != nil {
		return e.rep, nil
	}
	var kbuf [3 * (maxBIN - minBIN + 1)][]byte
	var of [len(kbuf)]pdp.ListKind // the list of each key
	keys := kbuf[:0]
	for _, l := range lists {
		shortest := len(value)
		if kind == pdp.SubjectCardBIN {
			shortest = minBIN
		}
		for m := shortest; m <= len(value); m++ { // a BIN's entries, shortest first
			of[len(keys)] = l
			keys = append(keys, listKey(l, kind, value[:m]))
		}
	}
	// A subject on no list, most of them, is answered by the backend's
	// filter of the lists' keys without a read, and kept only in the
	// table of recent fills: it takes no room in ristretto from accounts
	// and costs no ristretto write, and the session's next call (or the
	// next customer's with the same BIN) finds it there.
	if s.absent != nil && s.absent(BucketLists, keys) {
		s.c.putRecent(h, &centry{ns: ns, k1: strings.Clone(value), gen: g, until: n + int64(s.cfg.NegativeTTL), hard: 1<<63 - 1})
		return pdp.Reputation{}, nil
	}
	if e := s.c.get(h, ns, value, "", n); e != nil {
		return e.rep, nil
	}
	var rep pdp.Reputation
	until, known := int64(1<<63-1), false
	err := s.read(BucketLists, keys, func(i int, v []byte) error {
		if v == nil {
			return nil
		}
		e, err := decodeListEntry(v)
		if err != nil {
			return err
		}
		if !e.Active(now) {
			return nil
		}
		known = true
		if !e.Expires.IsZero() {
			until = min(until, e.Expires.UnixNano())
		}
		switch of[i] {
		case pdp.ListBlock:
			rep.Blocked, rep.BlockReason = true, e.Reason // the longest BIN's last
		case pdp.ListAllow:
			rep.Allowed = true
		case pdp.ListVIP:
			rep.VIP = true
		}
		return nil
	})
	if err != nil {
		// Stale if error, for blocks only: with the shared state out of
		// reach, a block this sidecar knew still denies (fail closed);
		// anything else is unknown.
		if e := s.c.stale(h, ns, value, ""); e != nil && e.rep.Blocked && n < e.hard && errors.Is(err, ErrUnavailable) {
			s.stats.staleServed.Add(1)
			return e.rep, nil
		}
		return pdp.Reputation{}, err
	}
	s.c.put(h, &centry{ns: ns, k1: strings.Clone(value), gen: g, until: min(until, n+int64(s.ttl(known))), hard: until, rep: rep})
	return rep, nil
}

func (s *Store) ttl(known bool) time.Duration {
	if known {
		return s.cfg.CacheTTL
	}
	return s.cfg.NegativeTTL
}

// Account returns the state of uid as of the latest write, async writes
// included. The snapshot is shared and immutable: callers must not modify
// it or anything it points to. Nothing known yields an empty state with
// UID set. Freezes, limits and probation that have expired may still be
// present (they are pruned by the next write): check Active(now). A cache
// hit costs no allocation. As for Reputation's blocks, a cached state with
// a freeze in force is served when a Shared backend cannot answer.
func (s *Store) Account(uid string, now time.Time) (*pdp.AccountState, error) {
	h := s.c.key(nsAccount, uid, "")
	n := now.UnixNano()
	st, err := s.account(h, uid, n, true)
	if err != nil && errors.Is(err, ErrUnavailable) {
		// Stale if error, for a freeze in force (as for blocks, see
		// Reputation). Writes never start from a stale state.
		if e := s.c.stale(h, nsAccount, uid, ""); e != nil && frozen(e.acct, n) {
			s.stats.staleServed.Add(1)
			return e.acct, nil
		}
	}
	return st, err
}

// account reads the account through the cache; fast bounds a backend
// read by a Shared backend's budget.
func (s *Store) account(h uint64, uid string, n int64, fast bool) (*pdp.AccountState, error) {
	if !s.enter(h) {
		return nil, ErrClosed
	}
	defer s.exit(h)
	g := s.c.gen(h)
	if e := s.c.get(h, nsAccount, uid, "", n); e != nil {
		return e.acct, nil
	}
	if st, ok := s.ov.get(h, uid); ok {
		return st, nil // not cached: the overlay is as fast, the flush seeds the cache
	}
	// The caller's string may alias a reused buffer: what is kept is a copy.
	uid = strings.Clone(uid)
	var st *pdp.AccountState
	get := s.be.Get
	if fast {
		get = s.read
	}
	err := get(BucketAccounts, [][]byte{[]byte(uid)}, func(_ int, v []byte) error {
		if v == nil {
			return nil
		}
		var err error
		if st, err = decodeAccount(v); err == nil {
			st.UID = uid
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	known := st != nil
	if !known {
		st = &pdp.AccountState{UID: uid}
	}
	s.c.put(h, &centry{ns: nsAccount, k1: uid, gen: g, until: n + int64(s.ttl(known)), acct: st})
	return st, nil
}

// Verification returns the verification recorded for (uid, subject); now
// only serves the cache's expiry (as for the other reads, the caller's
// decision time saves a clock read). The Results and Methods are shared:
// callers must not modify them. Verifications are kept until
// VerificationRetention after their challenge expired.
func (s *Store) Verification(uid, subject string, now time.Time) (pdp.Verification, bool, error) {
	h := s.c.key(nsVerification, uid, subject)
	if !s.enter(h) {
		return pdp.Verification{}, false, ErrClosed
	}
	defer s.exit(h)
	g := s.c.gen(h)
	n := now.UnixNano()
	cached := func(e *centry) (pdp.Verification, bool, error) {
		if e.verif == nil {
			return pdp.Verification{}, false, nil
		}
		return *e.verif, true, nil
	}
	if e := s.c.getRecent(h, nsVerification, uid, subject, n); e != nil {
		return cached(e)
	}
	// An account that never verified, most of them, is answered by the
	// backend's filter of the UIDs with verifications without a read, and
	// kept only in the table of recent fills (as Reputation's absent
	// subjects).
	key := [1][]byte{verificationKey(uid, subject)}
	if s.absent != nil && s.absent(BucketVerifications, key[:]) {
		s.c.putRecent(h, &centry{ns: nsVerification, k1: strings.Clone(uid), k2: strings.Clone(subject), gen: g, until: n + int64(s.cfg.NegativeTTL)})
		return pdp.Verification{}, false, nil
	}
	if e := s.c.get(h, nsVerification, uid, subject, n); e != nil {
		return cached(e)
	}
	var v *pdp.Verification
	err := s.read(BucketVerifications, key[:], func(_ int, b []byte) error {
		if b == nil {
			return nil
		}
		d, err := decodeVerification(b)
		v = &d
		return err
	})
	if err != nil {
		return pdp.Verification{}, false, err
	}
	s.c.put(h, &centry{ns: nsVerification, k1: strings.Clone(uid), k2: strings.Clone(subject), gen: g, until: n + int64(s.ttl(v != nil)), verif: v})
	if v == nil {
		return pdp.Verification{}, false, nil
	}
	return *v, true, nil
}

// enter registers a call that may touch the cache, the overlay, the
// commit queue or the backend; it fails once Close has begun. Close waits
// for the registered calls before it flushes and closes anything
// (ristretto's Close, for one, is not safe against concurrent use). The
// counter is striped by key hash so that concurrent reads of different
// keys do not contend.
func (s *Store) enter(h uint64) bool {
	c := &s.inflight[h%uint64(len(s.inflight))].n
	c.Add(1)
	if s.closed.Load() {
		c.Add(^uint64(0))
		return false
	}
	return true
}

func (s *Store) exit(h uint64) { s.inflight[h%uint64(len(s.inflight))].n.Add(^uint64(0)) }

// frozen reports whether a freeze of st is in force at n (Unix ns).
func frozen(st *pdp.AccountState, n int64) bool {
	t := time.Unix(0, n)
	for _, f := range st.Freezes {
		if f.Active(t) {
			return true
		}
	}
	return false
}
