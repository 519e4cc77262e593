package state

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
)

// JournalFilter selects audit records. Zero fields do not filter.
type JournalFilter struct {
	// FromSeq and ToSeq bound the sequence numbers, both inclusive.
	FromSeq, ToSeq uint64
	// UID selects the records of one account (through an index: the cost
	// is that account's records, not the journal's).
	UID string
	// Since and Until select records with Since ≤ At < Until. Records are
	// in sequence order, which is commit order, not At order, so a time
	// filter reads the whole sequence range: bound it by FromSeq when the
	// journal is long.
	Since, Until time.Time
}

func (f *JournalFilter) match(a *pdp.AuditRecord) bool {
	return (f.Since.IsZero() || !a.At.Before(f.Since)) && (f.Until.IsZero() || a.At.Before(f.Until)) &&
		(f.UID == "" || a.UID == f.UID)
}

// Journal calls fn for every audit record the filter selects, in sequence
// order, until fn returns an error (returned as is) or ctx ends. Records
// committed during the walk may or may not be seen. fn may call the Store.
func (s *Store) Journal(ctx context.Context, f JournalFilter, fn func(pdp.AuditRecord) error) error {
	if !s.enter(0) {
		return ErrClosed
	}
	defer s.exit(0)
	if f.UID != "" {
		return s.journalByUID(ctx, &f, fn)
	}
	return scanJournal(ctx, s.be, &f, func(a pdp.AuditRecord, _ []byte) error { return fn(a) })
}

// scanJournal calls fn with every record of be's journal from f.FromSeq
// to f.ToSeq that f matches, and its stored bytes (valid only during fn).
func scanJournal(ctx context.Context, be Backend, f *JournalFilter, fn func(a pdp.AuditRecord, stored []byte) error) error {
	return be.Scan(BucketJournal, nil, seqKey(f.FromSeq), func(k, v []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if len(k) != 8 {
			return corrupt("journal key", fmt.Errorf("%x", k))
		}
		seq := binary.BigEndian.Uint64(k)
		if f.ToSeq != 0 && seq > f.ToSeq {
			return ErrStop
		}
		a, err := decodeAudit(seq, v)
		if err != nil {
			return fmt.Errorf("journal %d: %w", seq, err)
		}
		if !f.match(&a) {
			return nil
		}
		return fn(a, v)
	})
}

func (s *Store) journalByUID(ctx context.Context, f *JournalFilter, fn func(pdp.AuditRecord) error) error {
	prefix := journalUIDPrefix(f.UID)
	return s.be.Scan(BucketJournalByUID, prefix, journalUIDKey(f.UID, f.FromSeq), func(k, _ []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		_, seq, ok := parseJournalUIDKey(k)
		if !ok {
			return corrupt("journal index key", fmt.Errorf("%x", k))
		}
		if f.ToSeq != 0 && seq > f.ToSeq {
			return ErrStop
		}
		var a pdp.AuditRecord
		found := false
		if err := s.be.Get(BucketJournal, [][]byte{seqKey(seq)}, func(_ int, v []byte) error {
			if v == nil {
				return nil
			}
			var err error
			found = true
			a, err = decodeAudit(seq, v)
			return err
		}); err != nil {
			return fmt.Errorf("journal %d: %w", seq, err)
		}
		if !found {
			return nil // pruned since the index was read (both go in one batch)
		}
		if !f.match(&a) {
			return nil
		}
		return fn(a)
	})
}
