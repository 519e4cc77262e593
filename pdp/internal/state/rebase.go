package state

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
)

// Account writes with a Shared backend.
//
// Several sidecars change one account: an operator freezes it through one
// while another carries out a decision's obligations. A change computed
// from a cached state and written as it is would overwrite the other
// sidecar's (last writer wins). Instead every account write is a
// compare-and-set (Write.If): it applies only if the backend still holds
// the value the change was computed from. The changes themselves are
// functions (UpdateAccount's fn), so on a conflict they are applied again
// to the newer value:
//
//   - an async change keeps its fn in the overlay entry until a flush has
//     persisted it; every flush reads the entries' current values, applies
//     the pending fns to them (rebaseSnaps) and writes on condition; on a
//     conflict the flush starts over, at most maxConflictRetries times,
//     then leaves the entries for the next flush;
//   - a sync change runs in the committer (updateShared): it flushes the
//     overlay, reads the value, applies the entry's pending fns (if the
//     flush failed) and fn, and writes on condition, again up to
//     maxConflictRetries times; past them the caller gets the
//     *ConflictError.
//
// A commit whose result is unknown (a timeout) may have landed. Each
// flush records the digest of what it wrote and how many fns that
// includes (try); a later flush that finds that value applies only the fns
// after them, so a change is not applied twice. Should another sidecar
// write on top of such a landed value before this one learns of it, the
// changes it included are applied again (obligations are idempotent: a
// repeated freeze extends the one in force; an event appears twice).
//
// maxConflictRetries bounds the attempts of one flush or sync write.
const maxConflictRetries = 8

// isConflict reports whether err is a *ConflictError.
func isConflict(err error) bool {
	var ce *ConflictError
	return errors.As(err, &ce)
}

// replay applies fns to a copy of base, skipping a change that fails or
// leaves the account invalid (async changes do neither in practice), and
// prunes the result as of now.
func replay(base *pdp.AccountState, fns []func(*pdp.AccountState) error, now time.Time) *pdp.AccountState {
	st := cloneAccount(base)
	for _, fn := range fns {
		next := cloneAccount(st)
		if fn(next) == nil && validateAccount(next) == nil {
			st = next
		}
	}
	st.UID = base.UID
	pruneAccount(st, now)
	return st
}

// pending returns the fns of an entry that the backend value with digest d
// does not include yet: all of them, unless d is what an earlier flush
// wrote.
func pending(fns []func(*pdp.AccountState) error, tries []try, d Digest) []func(*pdp.AccountState) error {
	for i := len(tries) - 1; i >= 0; i-- {
		if tries[i].d == d {
			return fns[tries[i].n:]
		}
	}
	return fns
}

// readAccount reads the stored value of uid from the backend (not the
// cache): the decoded state (empty when absent) and its digest.
func (s *Store) readAccount(uid string) (*pdp.AccountState, Digest, error) {
	var (
		st  *pdp.AccountState
		raw []byte
	)
	err := s.be.Get(BucketAccounts, [][]byte{[]byte(uid)}, func(_ int, v []byte) error {
		if v == nil {
			return nil
		}
		raw = bytes.Clone(v)
		var err error
		st, err = decodeAccount(v)
		return err
	})
	if err != nil {
		return nil, Digest{}, err
	}
	if st == nil {
		st = &pdp.AccountState{}
	}
	st.UID = uid
	return st, ValueDigest(raw), nil
}

// rebaseSnaps computes, for each snapshot entry with a state, the state a
// flush writes to a Shared backend: the value stored now with the entry's
// pending changes applied again, conditional on that value (see the top
// of this file). A blind entry is written as it is.
func (s *Store) rebaseSnaps(snaps []ovSnap) error {
	const page = 512
	now := s.cfg.Clock()
	var idx []int
	for i := range snaps {
		if snaps[i].st != nil && !snaps[i].blind {
			idx = append(idx, i)
		}
	}
	for len(idx) > 0 {
		part := idx[:min(page, len(idx))]
		idx = idx[len(part):]
		keys := make([][]byte, len(part))
		for j, i := range part {
			keys[j] = []byte(snaps[i].uid)
		}
		err := s.be.Get(BucketAccounts, keys, func(j int, v []byte) error {
			sn := &snaps[part[j]]
			base := &pdp.AccountState{UID: sn.uid}
			if v != nil {
				st, err := decodeAccount(v)
				if err != nil {
					return fmt.Errorf("account %q: %w", sn.uid, err)
				}
				st.UID, base = sn.uid, st
			}
			d := ValueDigest(v)
			sn.wrote, sn.cond = replay(base, pending(sn.fns, sn.tries, d), now), &d
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// updateShared is UpdateAccount's sync path with a Shared backend: the
// change is computed in the committer from the stored value, and written
// on condition (see the top of this file). The caller holds the UID's
// lock, so the overlay entry of uid changes only in the committer.
func (s *Store) updateShared(ctx context.Context, h uint64, uid string, ver uint64, now time.Time, audit *pdp.AuditRecord, fn func(*pdp.AccountState) error) (*pdp.AccountState, error) {
	var st *pdp.AccountState
	r := &request{}
	r.job = func(Backend) (*Batch, func(), error) {
		// Async changes of the account were made before this one: the
		// flush writes them first (should it fail, they are applied
		// below and written with this change). A backend out of reach
		// fails this write too: no need to wait for it twice.
		if err := s.commitGroup(nil); errors.Is(err, ErrUnavailable) {
			return nil, nil, err
		}
		base, d, err := s.readAccount(uid)
		if err != nil {
			return nil, nil, err
		}
		var fns []func(*pdp.AccountState) error
		if e, ok := s.ov.entry(h, uid); ok && e.st != nil {
			if e.blind {
				base = e.st // its changes are not known one by one: last writer wins
			} else {
				fns = pending(e.fns, e.tries, d)
			}
		}
		cur := replay(base, fns, now)
		next := cloneAccount(cur)
		if err := fn(next); err != nil {
			return nil, nil, err
		}
		next.UID = uid
		pruneAccount(next, now)
		if err := validateAccount(next); err != nil {
			return nil, nil, err
		}
		b := &Batch{Writes: []Write{{Bucket: BucketAccounts, Key: []byte(uid), Value: encodeAccount(next), If: &d}}}
		queueWrite(b, next, cur.OpenWork(now), now)
		if rec := auditRecord(audit, now); rec != nil { // after fn, which may complete it
			if rec.UID == "" {
				rec.UID = uid
			}
			if err := s.journal(b, rec); err != nil {
				return nil, nil, err
			}
		}
		st = next
		return b, func() { s.afterAccountWrite(h, uid, ver, now, st) }, nil
	}
	if err := s.do(ctx, r); err != nil {
		return nil, err
	}
	return st, nil
}

// afterAccountWrite is the bookkeeping of a committed sync account write
// of version ver: the overlay's state of uid is superseded and st cached.
// The caller holds the UID's lock: st stays the latest state until it
// returns, so it may be cached under the new generation.
func (s *Store) afterAccountWrite(h uint64, uid string, ver uint64, now time.Time, st *pdp.AccountState) {
	s.ov.supersede(h, uid, ver)
	s.c.bump(h)
	s.c.put(h, &centry{ns: nsAccount, k1: uid, gen: s.c.gen(h), until: now.UnixNano() + int64(s.cfg.CacheTTL), acct: st})
}
