package state

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
)

// sweepChunk bounds the deletions of one sweep transaction, so the
// committer (and with it sync writes) never waits long behind a sweep.
const sweepChunk = 2048

// Sweep deletes the list entries that have expired, the verifications
// past their retention, the decision records past DecisionTrailMax or
// DecisionTrailRetention and the kept records past AuditRetention (with a
// checkpoint: chainPruneJob), as of the Store's clock, and returns how
// many records it removed. The sweeper runs it every SweepInterval; expiry and
// pruning are not audited actions. Reads ignore expired entries whether
// swept or not.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	total := 0
	for _, job := range s.sweepJobs() {
		for {
			var n int
			var more bool
			err := s.do(ctx, &request{job: func(be Backend) (*Batch, func(), error) {
				var b *Batch
				var after func()
				var err error
				b, after, n, more, err = job(be, s.cfg.Clock())
				return b, after, err
			}})
			if err != nil {
				return total, err
			}
			total += n
			if !more {
				break
			}
		}
	}
	return total, nil
}

// sweepJob is one chunk of a sweep: the batch that deletes up to
// sweepChunk records, what to do once it is committed, how many records
// it removes and whether more are due.
type sweepJob func(be Backend, now time.Time) (b *Batch, after func(), removed int, more bool, err error)

func (s *Store) sweepJobs() []sweepJob { return []sweepJob{s.expiryJob, s.pruneJob, s.chainPruneJob} }

// sweepAll runs in the committer: it sweeps chunk by chunk, committing
// each one, and serves queued writes between chunks.
func (s *Store) sweepAll() (int, error) {
	total := 0
	for _, job := range s.sweepJobs() {
		for {
			for len(s.reqs) > 0 {
				s.handle(<-s.reqs)
			}
			if s.ov.pending() >= int64(s.cfg.FlushMaxPending) {
				s.commitGroup(nil)
			}
			b, after, n, more, err := job(s.be, s.cfg.Clock())
			if err != nil {
				return total, err
			}
			if b != nil && !b.empty() {
				if err := s.commit(b); err != nil {
					return total, err
				}
			}
			if after != nil {
				after()
			}
			total += n
			if !more {
				break
			}
		}
	}
	return total, nil
}

// expiryJob finds up to sweepChunk due index entries and the records they
// point to. It runs in the committer, so nothing changes between its reads
// and its commit. An index entry whose record has since been replaced
// with another expiry (or deleted) is dropped alone.
func (s *Store) expiryJob(be Backend, now time.Time) (b *Batch, after func(), removed int, more bool, err error) {
	b = &Batch{}
	dueBy := expiryNanos(clampNanos(now))
	var bumps []func()
	err = be.Scan(BucketExpiry, nil, nil, func(k, _ []byte) error {
		at, target, key, ok := parseExpiryKey(k)
		if !ok || at > dueBy {
			if ok {
				return ErrStop
			}
			b.del(BucketExpiry, slices.Clone(k)) // unparsable: drop it
			return nil
		}
		if len(b.Writes) >= sweepChunk {
			more = true
			return ErrStop
		}
		b.del(BucketExpiry, slices.Clone(k))
		if target != BucketLists && target != BucketVerifications {
			return nil
		}
		var due time.Time
		var bump func()
		found := false
		if err := be.Get(target, [][]byte{key}, func(_ int, v []byte) error {
			if v == nil {
				return nil
			}
			found = true
			switch target {
			case BucketLists:
				e, err := decodeListEntry(v)
				if err != nil {
					return err
				}
				due, bump = e.Expires, func() { s.bumpSubject(e.Subject, e.Value) }
			case BucketVerifications:
				ver, err := decodeVerification(v)
				if err != nil {
					return err
				}
				h := s.c.key(nsVerification, ver.UID, ver.Subject)
				due, bump = verificationDue(&ver), func() { s.c.bump(h) }
			}
			return nil
		}); err != nil {
			if errors.Is(err, ErrCorrupt) {
				return nil // left for an operator; its index entry goes
			}
			return err
		}
		if found && !due.IsZero() && expiryNanos(clampNanos(due)) == at {
			b.del(target, slices.Clone(key))
			bumps = append(bumps, bump)
			removed++
		}
		return nil
	})
	if err != nil {
		return nil, nil, 0, false, err
	}
	return b, func() {
		for _, bump := range bumps {
			bump()
		}
		s.stats.swept.Add(uint64(removed))
	}, removed, more, nil
}

// pruneJob deletes up to sweepChunk decision records (and their UID
// index entries) that are older than DecisionTrailRetention or further
// back than DecisionTrailMax records from the newest one this Store
// committed. It walks the journal from where the last prune stopped
// (every record before that is kept for good or gone) and stops at the
// first record due for neither.
func (s *Store) pruneJob(be Backend, now time.Time) (b *Batch, after func(), removed int, more bool, err error) {
	var beyond uint64 // records up to this seq are past DecisionTrailMax
	if last, max := s.lastSeq, s.cfg.DecisionTrailMax; max > 0 && last > uint64(max) {
		beyond = last - uint64(max)
	}
	var cutoff time.Time // records before this are past DecisionTrailRetention
	if s.cfg.DecisionTrailRetention > 0 {
		cutoff = now.Add(-s.cfg.DecisionTrailRetention)
	}
	if beyond == 0 && cutoff.IsZero() {
		return nil, nil, 0, false, nil
	}
	b = &Batch{}
	next := s.pruneFrom
	err = be.Scan(BucketJournal, nil, seqKey(next), func(k, v []byte) error {
		if len(k) != 8 {
			return corrupt("journal key", fmt.Errorf("%x", k))
		}
		seq := binary.BigEndian.Uint64(k)
		a, err := decodeAudit(seq, v)
		if err != nil {
			return fmt.Errorf("journal %d: %w", seq, err)
		}
		if seq > beyond && !a.At.Before(cutoff) {
			return ErrStop
		}
		if len(b.Writes) >= sweepChunk {
			more = true
			return ErrStop
		}
		if a.Action == pdp.ActionDecision {
			b.del(BucketJournal, seqKey(seq))
			if a.UID != "" {
				b.del(BucketJournalByUID, journalUIDKey(a.UID, seq))
			}
			removed++
		}
		next = seq + 1
		return nil
	})
	if err != nil {
		return nil, nil, 0, false, err
	}
	return b, func() {
		s.pruneFrom = next
		s.stats.pruned.Add(uint64(removed))
	}, removed, more, nil
}
