package state

import "github.com/riskpdp/riskpdp/pdp"

// This file connects the Store to a Shared backend (see backend.go).

// read is the backend read of the cache misses of Reputation, Account and
// Verification: bounded by the read budget with a Shared backend.
func (s *Store) read(b Bucket, keys [][]byte, fn func(i int, value []byte) error) error {
	if s.shared != nil {
		return s.shared.GetFast(b, keys, fn)
	}
	return s.be.Get(b, keys, fn)
}

// watch registers the cache invalidation callbacks with a Shared backend.
func (s *Store) watch() {
	sh, ok := s.be.(Shared)
	if !ok {
		return
	}
	s.shared = sh
	sh.Watch(s.changed, s.lost)
}

// changed drops the cache entries computed from key of bucket b, which
// another writer changed: the generation of the entry's stripe moves on,
// so the next read goes to the backend. An IP range key is read again by
// the range refresher.
func (s *Store) changed(b Bucket, key []byte) {
	switch b {
	case BucketLists:
		if isRangeKey(key) {
			s.ranges.queue(key)
		} else if _, kind, value, ok := parseListKey(key); ok {
			s.bumpSubject(kind, value)
		}
	case BucketAccounts:
		s.c.bump(s.c.key(nsAccount, string(key), ""))
	case BucketVerifications:
		if uid, txn, ok := parseVerificationKey(key); ok {
			s.c.bump(s.c.key(nsVerification, uid, txn))
		}
	}
	s.stats.invalidations.Add(1)
}

// lost drops every cache entry and rebuilds the range index:
// invalidation reports may have been missed.
func (s *Store) lost() {
	for i := range s.c.gens {
		s.c.gens[i].Add(1)
	}
	s.ranges.queueAll()
	s.stats.cacheResets.Add(1)
}

// SeqKey is the key of journal record seq in BucketJournal, for backends
// that implement Commit.
func SeqKey(seq uint64) []byte { return seqKey(seq) }

// JournalUIDKey is the BucketJournalByUID key of record seq of uid.
func JournalUIDKey(uid string, seq uint64) []byte { return journalUIDKey(uid, seq) }

// Owner names what key of bucket b belongs to, for a backend that places
// related keys together (Redis Cluster hash tags): "u"+UID for an account,
// its queue entry, its UID list entries, its verifications and its journal
// index; "k",
// the subject kind and value for other list entries. ok is false for keys
// that belong to no one (meta, secrets, expiry index, journal).
func Owner(b Bucket, key []byte) (id string, ok bool) {
	switch b {
	case BucketLists:
		if _, kind, value, ok := parseListKey(key); ok {
			if kind == pdp.SubjectUID {
				return "u" + value, true
			}
			return "k" + string(rune('0'+kind)) + value, true
		}
	case BucketAccounts, BucketQueue:
		return "u" + string(key), true
	case BucketVerifications:
		if uid, _, ok := parseVerificationKey(key); ok {
			return "u" + uid, true
		}
	case BucketJournalByUID:
		if uid, _, ok := parseJournalUIDKey(key); ok {
			return "u" + uid, true
		}
	}
	return "", false
}
