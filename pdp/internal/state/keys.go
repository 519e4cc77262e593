package state

import (
	"encoding/binary"
	"strings"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
)

// Key layout (format 1). Variable-length parts that are followed by another
// part carry a uvarint length prefix, so no byte value is reserved.
//
//	lists          list(1) kind(1) value      IP ranges: kind ipRangeKind
//	expiry         at(8) bucket(1) key        at: Unix ns + 2⁶³, big-endian
//	accounts       uid
//	verifications  uvarint(len uid) uid txn
//	secrets        name
//	journal        seq(8)                     big-endian
//	journal_uid    uvarint(len uid) uid seq(8)

// maxValueLen bounds account UIDs, transaction ids and secret names (bbolt
// keys may be up to 32 KiB; nothing legitimate is near this). List values
// have the tighter rules of listvalue.go.
const maxValueLen = 1024

// ipRangeKind is the kind byte of the keys of IP range entries (values
// in CIDR notation, "10.0.0.0/8"): they form a block of keys of their own
// per list, so the range index is built by reading the ranges alone, not
// every single address of a threat feed.
const ipRangeKind = 0x80 | byte(pdp.SubjectIP)

func listPrefix(l pdp.ListKind, k pdp.SubjectKind) []byte { return []byte{byte(l), byte(k)} }

// rangePrefix is the prefix of the IP range keys of list l.
func rangePrefix(l pdp.ListKind) []byte { return []byte{byte(l), ipRangeKind} }

func listKey(l pdp.ListKind, k pdp.SubjectKind, value string) []byte {
	key := make([]byte, 2, 2+len(value))
	key[0], key[1] = byte(l), byte(k)
	if k == pdp.SubjectIP && isRange(value) {
		key[1] = ipRangeKind
	}
	return append(key, value...)
}

// isRange reports whether an IP list value is a range (CIDR notation).
func isRange(value string) bool { return strings.IndexByte(value, '/') >= 0 }

// isRangeKey reports whether a lists key is an IP range's.
func isRangeKey(key []byte) bool { return len(key) > 2 && key[1] == ipRangeKind }

func parseListKey(key []byte) (pdp.ListKind, pdp.SubjectKind, string, bool) {
	if len(key) < 3 {
		return 0, 0, "", false
	}
	k := pdp.SubjectKind(key[1])
	if key[1] == ipRangeKind {
		k = pdp.SubjectIP
	}
	return pdp.ListKind(key[0]), k, string(key[2:]), true
}

// Expiry times are clamped to what int64 nanoseconds can hold (years 1678
// to 2262): a sweep at a clamped time is early only for entries that expire
// after 2262.
func expiryNanos(t time.Time) uint64 {
	return uint64(t.UnixNano()) ^ (1 << 63)
}

func expiryKey(at time.Time, target Bucket, key []byte) []byte {
	out := make([]byte, 9, 9+len(key))
	binary.BigEndian.PutUint64(out, expiryNanos(clampNanos(at)))
	out[8] = byte(target)
	return append(out, key...)
}

func parseExpiryKey(k []byte) (at uint64, target Bucket, key []byte, ok bool) {
	if len(k) < 10 {
		return 0, 0, nil, false
	}
	return binary.BigEndian.Uint64(k), Bucket(k[8]), k[9:], true
}

var (
	minNanos = time.Unix(0, -1<<63)
	maxNanos = time.Unix(0, 1<<63-1)
)

func clampNanos(t time.Time) time.Time {
	switch {
	case t.Before(minNanos):
		return minNanos
	case t.After(maxNanos):
		return maxNanos
	}
	return t
}

func appendLenPrefixed(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func verificationKey(uid, txn string) []byte {
	key := make([]byte, 0, binary.MaxVarintLen16+len(uid)+len(txn))
	return append(appendLenPrefixed(key, uid), txn...)
}

func parseVerificationKey(key []byte) (uid, txn string, ok bool) {
	u, t, ok := splitVerificationKey(key)
	return string(u), string(t), ok
}

// splitVerificationKey returns the UID and transaction parts of a
// verification key, without copying them.
func splitVerificationKey(key []byte) (uid, txn []byte, ok bool) {
	n, w := binary.Uvarint(key)
	if w <= 0 || n > uint64(len(key)-w) {
		return nil, nil, false
	}
	return key[w : w+int(n)], key[w+int(n):], true
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 8), seq) }

func journalUIDPrefix(uid string) []byte { return appendLenPrefixed(nil, uid) }

func journalUIDKey(uid string, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(journalUIDPrefix(uid), seq)
}

func parseJournalUIDKey(key []byte) (uid string, seq uint64, ok bool) {
	n, w := binary.Uvarint(key)
	if w <= 0 || n > uint64(len(key)-w) || len(key)-w-int(n) != 8 {
		return "", 0, false
	}
	return string(key[w : w+int(n)]), binary.BigEndian.Uint64(key[w+int(n):]), true
}
