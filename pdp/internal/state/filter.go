package state

import (
	"sync"

	"github.com/bits-and-blooms/bloom/v3"
)

// keyFilter says of a key of one bucket that it is certainly absent, so
// that a read of a key nobody wrote (most reputation lookups: a UID,
// device, IP or BIN on no list) answers without a read transaction. It is
// a scalable Bloom filter: a chain of filters, each four times the size of
// the one before, a new one begun when the newest holds what it was sized
// for, so that the false-positive rate stays near keyFilterFP however many
// keys are added. A false positive costs the read it would have cost
// anyway; a key is never reported absent once add returned (deleted keys
// stay in, as false positives). Safe for concurrent use.
type keyFilter struct {
	mu      sync.RWMutex
	filters []*bloom.BloomFilter
	n, room uint // keys added to the newest filter, and what it is sized for
}

// keyFilterFP is each filter's false-positive rate at its capacity.
const keyFilterFP = 0.01

// newKeyFilter is a filter sized for expected keys (at least 64 Ki).
func newKeyFilter(expected uint) *keyFilter {
	room := max(expected*2, 1<<16)
	return &keyFilter{filters: []*bloom.BloomFilter{bloom.NewWithEstimates(room, keyFilterFP)}, room: room}
}

// add records k as possibly present. Call it before the write that stores
// k is visible to readers.
func (f *keyFilter) add(k []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n >= f.room {
		f.room *= 4
		f.n = 0
		f.filters = append(f.filters, bloom.NewWithEstimates(f.room, keyFilterFP))
	}
	f.filters[len(f.filters)-1].Add(k)
	f.n++
}

// mayContain reports whether k may be present.
func (f *keyFilter) mayContain(k []byte) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.has(k)
}

// mayContainAny reports whether any of keys may be present.
func (f *keyFilter) mayContainAny(keys [][]byte) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, k := range keys {
		if f.has(k) {
			return true
		}
	}
	return false
}

// has is mayContain with f.mu held.
func (f *keyFilter) has(k []byte) bool {
	for _, bf := range f.filters {
		if bf.Test(k) {
			return true
		}
	}
	return false
}
