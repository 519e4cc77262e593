package state

import (
	"context"
	"fmt"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
)

// The operators' queue. BucketQueue holds the UIDs of the accounts with
// open work (pdp.AccountState.OpenWork: an open follow-up flag, a review
// freeze in force, a pending approval, an open appeal), written with the
// account in the same batch: every write of an account with open work puts
// its UID, an operator's change that leaves none deletes it (work is closed
// only by operators, whose changes are synchronous). A state written
// before the index existed is indexed once at Open (queueIndexedKey).

var queueIndexedKey = []byte("queue_indexed")

// queueWrite adds the queue index's write for st to b: put while st has
// open work at now, deleted when it had some (had) and has none now.
func queueWrite(b *Batch, st *pdp.AccountState, had bool, now time.Time) {
	switch {
	case st.OpenWork(now):
		b.put(BucketQueue, []byte(st.UID), []byte{})
	case had:
		b.del(BucketQueue, []byte(st.UID))
	}
}

// Queue calls fn with the UID of every account in the operators' queue, in
// UID order, until fn returns ErrStop (Queue then returns nil) or another
// error. An account may have closed its work since it was indexed: the
// caller reads it (Account) and skips what has nothing open.
func (s *Store) Queue(ctx context.Context, fn func(uid string) error) error {
	return s.be.Scan(BucketQueue, nil, nil, func(key, _ []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return fn(string(key))
	})
}

// indexQueue indexes the accounts of a state written before the queue
// existed; it runs in Open, before the committer starts.
func (s *Store) indexQueue() error {
	done := false
	if err := s.be.Get(BucketMeta, [][]byte{queueIndexedKey}, func(_ int, v []byte) error {
		done = v != nil
		return nil
	}); err != nil {
		return fmt.Errorf("read queue index: %w", err)
	}
	if done {
		return nil
	}
	now := s.cfg.Clock()
	b := &Batch{}
	err := s.be.Scan(BucketAccounts, nil, nil, func(key, v []byte) error {
		st, err := decodeAccount(v)
		if err != nil {
			return nil // unreadable: reads report it; nothing to index
		}
		queueWrite(b, st, false, now)
		if len(b.Writes) >= sweepChunk {
			if err := s.commit(b); err != nil {
				return err
			}
			b = &Batch{}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("index the queue: %w", err)
	}
	b.put(BucketMeta, queueIndexedKey, []byte{1})
	if err := s.commit(b); err != nil {
		return fmt.Errorf("index the queue: %w", err)
	}
	return nil
}
