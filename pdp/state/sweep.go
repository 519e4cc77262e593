package state

import (
	"context"
	"errors"
	"slices"
	"time"
)

// sweepChunk bounds the deletions of one sweep transaction, so the
// committer (and with it sync writes) never waits long behind a sweep.
const sweepChunk = 2048

// Sweep deletes the list entries that have expired and the verifications
// past their retention, as of the Store's clock, and returns how many
// records it removed. The sweeper runs it every SweepInterval; expiry is
// not an audited action. Reads ignore expired entries whether swept or not.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	total := 0
	for {
		var n int
		var more bool
		err := s.do(ctx, &request{job: func(be Backend) (*Batch, func(), error) {
			var b *Batch
			var after func()
			var err error
			b, after, n, more, err = s.sweepJob(be, s.cfg.Clock())
			return b, after, err
		}})
		if err != nil {
			return total, err
		}
		total += n
		if !more {
			return total, nil
		}
	}
}

// sweepAll runs in the committer: it sweeps chunk by chunk, committing
// each one, and serves queued writes between chunks.
func (s *Store) sweepAll() (int, error) {
	total := 0
	for {
		for len(s.reqs) > 0 {
			s.handle(<-s.reqs)
		}
		if s.ov.pending() >= int64(s.cfg.FlushMaxPending) {
			s.commitGroup(nil)
		}
		b, after, n, more, err := s.sweepJob(s.be, s.cfg.Clock())
		if err != nil {
			return total, err
		}
		if b != nil && !b.empty() {
			if _, err := s.be.Commit(b); err != nil {
				return total, err
			}
		}
		if after != nil {
			after()
		}
		total += n
		if !more {
			return total, nil
		}
	}
}

// sweepJob finds up to sweepChunk due index entries and the records they
// point to. It runs in the committer, so nothing changes between its reads
// and its commit. An index entry whose record has since been replaced
// with another expiry (or deleted) is dropped alone.
func (s *Store) sweepJob(be Backend, now time.Time) (b *Batch, after func(), removed int, more bool, err error) {
	b = &Batch{}
	dueBy := expiryNanos(clampNanos(now))
	var hashes []uint64
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
		var h uint64
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
				due, h = e.Expires, s.c.key(uint8(e.Subject), e.Value, "")
			case BucketVerifications:
				ver, err := decodeVerification(v)
				if err != nil {
					return err
				}
				due, h = verificationDue(&ver), s.c.key(nsVerification, ver.UID, ver.TxnID)
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
			hashes = append(hashes, h)
			removed++
		}
		return nil
	})
	if err != nil {
		return nil, nil, 0, false, err
	}
	return b, func() {
		for _, h := range hashes {
			s.c.bump(h)
		}
		s.stats.swept.Add(uint64(removed))
	}, removed, more, nil
}
