package state

import (
	"crypto/sha1"
	"errors"
	"fmt"
)

// Backend is the durable store under the cache: the only copy of the state
// that counts. The embedded bbolt file (OpenBolt) is the default; a shared
// backend (Redis, for replicas that must agree) implements the same four
// methods. Implementations must be safe for concurrent use; the Store calls
// Commit from one goroutine at a time.
//
// Keys and values are opaque bytes chosen by the Store (layout in keys.go),
// with one exception the backend owns: the audit journal. Commit appends
// Batch.Journal records under sequence numbers it assigns, and maintains
// two buckets the Store reads with Scan:
//
//	BucketJournal       8-byte big-endian seq           → record
//	BucketJournalByUID  uvarint(len uid) uid, 8-byte seq → empty
//
// Sequence numbers start at 1, increase by one per record and are never
// reused, also across restarts (a Shared backend may leave gaps).
//
// Commit also keeps the hash chain over the records marked
// JournalEntry.Chain (chain.go): for each, in the same atomic transaction,
// a BucketChain entry (seq → the seq chained before it and the record's
// link, ChainWrites computes them) and the chain's head in BucketMeta
// under ChainHeadKey. The head a batch is chained after must be the head
// the batch replaces: with several writers, Commit reads the head and
// writes the new one under Write.If, or in one transaction.
//
// Batch.Writes never put into BucketJournal, BucketJournalByUID or
// BucketChain, and never write the chain head (CheckWrites refuses such a
// batch); they may delete from the three buckets (the Store's prune of
// decision records deletes a record and its index entry in one batch).
type Backend interface {
	// Get reads keys of one bucket from one consistent snapshot and calls fn
	// with each value in order (nil when the key is absent). The value is
	// valid only during fn; fn must not call the Backend.
	Get(b Bucket, keys [][]byte, fn func(i int, value []byte) error) error
	// Scan calls fn for every key of bucket b that starts with prefix and is
	// not before from (nil: from the first key with the prefix), in key
	// order, until fn returns ErrStop (Scan then returns nil) or another
	// error (returned). fn runs outside any storage transaction and may call
	// the Backend; key and value are valid only during fn. Consecutive calls
	// may see writes committed meanwhile (no snapshot across the scan).
	Scan(b Bucket, prefix, from []byte, fn func(key, value []byte) error) error
	// Commit applies the writes in order and appends the journal records,
	// all in one atomic transaction that is durable (fsynced) when Commit
	// returns nil. On error nothing of the batch is applied. It returns the
	// sequence number of the first journal record (0 without records).
	// Writes with a condition (Write.If) are for Shared backends: when one
	// does not hold, Commit applies nothing and returns a *ConflictError;
	// a backend with a single writer (bbolt) may ignore conditions.
	Commit(b *Batch) (firstSeq uint64, err error)
	// Close releases the backend. Further calls fail.
	Close() error
}

// ErrStop ends a Scan early without error.
var ErrStop = errors.New("stop scan")

// ErrUnavailable wraps the errors of a backend that could not answer in
// time or at all (a shared backend out of reach, or slower than its read
// budget). For a read it means "unknown", not "absent": the decision path
// lets the policy decide what an unknown state is worth. For a write it
// means the change was not confirmed.
var ErrUnavailable = errors.New("risk state unavailable")

// Shared is implemented by a backend that several sidecars use at once
// (Redis, see pdp/internal/fleet). With one, the Store:
//
//   - reads the cache misses of the decision path (Reputation, Account,
//     Verification) with GetFast, which gives up past the backend's read
//     budget with an error wrapping ErrUnavailable;
//   - drops the cache entries of keys the backend reports changed by
//     other writers, and the whole cache when it may have missed reports.
//
// Account writes are conditional (Write.If): the Store writes an account
// only if the backend still holds the value the change was computed from,
// and on a conflict re-reads it and applies the change again, so two
// sidecars changing one account at once both take effect (see
// UpdateAccount). A Shared backend must honour Write.If.
type Shared interface {
	Backend
	// GetFast is Get bounded by the backend's read budget; past it, or
	// while the backend is known to be unreachable, it fails at once with
	// an error wrapping ErrUnavailable.
	GetFast(b Bucket, keys [][]byte, fn func(i int, value []byte) error) error
	// Watch registers the Store's invalidation callbacks; Open calls it
	// before any read. changed is called with every key another writer
	// committed, lost whenever reports may have been missed (the
	// subscription was re-established). The callbacks are quick and must
	// not call the Backend.
	Watch(changed func(b Bucket, key []byte), lost func())
}

// Bucket names a keyspace of the backend.
type Bucket uint8

// Buckets.
const (
	BucketMeta          Bucket = iota + 1 // format version and housekeeping
	BucketLists                           // list entries (listKey)
	BucketExpiry                          // expiry index (expiryKey → empty)
	BucketAccounts                        // account state by UID
	BucketVerifications                   // verifications (verificationKey)
	BucketSecrets                         // named random keys
	BucketJournal                         // audit journal by seq (owned by Commit)
	BucketJournalByUID                    // journal index by UID (owned by Commit)
	BucketQueue                           // accounts with operators' work (UID → empty)
	BucketChain                           // hash chain of the kept journal records (owned by Commit)
	numBuckets
)

var bucketNames = [numBuckets]string{"", "meta", "lists", "expiry", "accounts", "verifications", "secrets", "journal", "journal_uid", "queue", "chain"}

// String returns the bucket's name (also its name in the bbolt file).
func (b Bucket) String() string {
	if b > 0 && b < numBuckets {
		return bucketNames[b]
	}
	return "unknown"
}

// Batch is what one Commit applies.
type Batch struct {
	Writes  []Write
	Journal []JournalEntry
}

// Write puts Value under Key in Bucket, or deletes Key when Delete is set.
type Write struct {
	Bucket Bucket
	Key    []byte
	Value  []byte
	Delete bool
	// If, when not nil, is the digest (ValueDigest) that Key's value must
	// have before the batch for the batch to apply; the zero Digest means
	// "absent". Conditions are checked against the values before any write
	// of the batch (with Redis Cluster: of the key's hash-tag group).
	If *Digest
}

// Digest identifies a stored value: its SHA-1 (the hash a Redis script
// can compute), used as a version, not for security. The zero Digest
// stands for "no value".
type Digest [sha1.Size]byte

// ValueDigest is the Digest of a stored value (nil: absent).
func ValueDigest(v []byte) Digest {
	if v == nil {
		return Digest{}
	}
	return sha1.Sum(v)
}

// ConflictError is Commit's error when a Write.If did not hold: another
// writer changed the key since it was read. Nothing was applied (with
// Redis Cluster: nothing of the hash-tag groups that conflicted; see
// pdp/internal/fleet).
type ConflictError struct {
	Keys []BucketKey
}

// BucketKey names one key of one bucket.
type BucketKey struct {
	Bucket Bucket
	Key    []byte
}

func (e *ConflictError) Error() string {
	if len(e.Keys) == 1 {
		return fmt.Sprintf("write conflict: %s key %q changed by another writer", e.Keys[0].Bucket, e.Keys[0].Key)
	}
	return fmt.Sprintf("write conflict: %d keys changed by other writers", len(e.Keys))
}

// JournalEntry is one encoded audit record and the UID it is indexed under
// ("" for none).
type JournalEntry struct {
	UID    string
	Record []byte
	// Chain: the record is kept and hash-chained (every record but
	// pdp.ActionDecision; see chain.go).
	Chain bool
}

func (b *Batch) put(bk Bucket, key, value []byte) {
	b.Writes = append(b.Writes, Write{Bucket: bk, Key: key, Value: value})
}

func (b *Batch) del(bk Bucket, key []byte) {
	b.Writes = append(b.Writes, Write{Bucket: bk, Key: key, Delete: true})
}

func (b *Batch) empty() bool { return len(b.Writes) == 0 && len(b.Journal) == 0 }

func (b *Batch) append(o *Batch) {
	b.Writes = append(b.Writes, o.Writes...)
	b.Journal = append(b.Journal, o.Journal...)
}
