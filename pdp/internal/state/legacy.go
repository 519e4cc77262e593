package state

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/riskpdp/riskpdp/pdp"
)

// A state written before list values were checked may hold IP entries in
// another spelling than requests have (::ffff:1.2.3.4, upper-case IPv6: they
// never matched), ranges stored as if they were addresses (10.0.0.0/8
// under the address keys: they blocked nothing), and card_bin entries
// that are not 6 to 8 digits (full card numbers among them, which must
// not stay in the state). Open puts such a state right once, before it
// builds the range index: an entry whose value has a canonical form moves
// to it (unless an entry is there already, which is kept), one that has
// none is deleted, and one audit record (operator "pdp", action
// "list.normalize") counts both, without the values. listsCanonicalKey in
// BucketMeta marks a state that needs nothing more; a new state gets it
// at once. UID and device entries are left as they are: the rules for
// them did not change in a way that needs moving anything.

var listsCanonicalKey = []byte("lists_canonical")

// normalizeLists runs in Open, before the committer starts.
func (s *Store) normalizeLists() error {
	done := false
	if err := s.be.Get(BucketMeta, [][]byte{listsCanonicalKey}, func(_ int, v []byte) error {
		done = v != nil
		return nil
	}); err != nil {
		return fmt.Errorf("read list format: %w", err)
	}
	if done {
		return nil
	}
	type move struct {
		old, new []byte
		e        pdp.ListEntry
	}
	var moves []move
	var drops [][]byte
	for _, l := range lists {
		for _, k := range []pdp.SubjectKind{pdp.SubjectIP, pdp.SubjectCardBIN} {
			err := s.be.Scan(BucketLists, listPrefix(l, k), nil, func(key, v []byte) error {
				_, _, value, _ := parseListKey(key)
				c, err := CanonicalListValue(l, k, value)
				if err == nil && bytes.Equal(listKey(l, k, c), key) {
					return nil // canonical, under its key
				}
				e, derr := decodeListEntry(v)
				if err != nil || derr != nil {
					drops = append(drops, slices.Clone(key))
					return nil
				}
				e.Value = c
				moves = append(moves, move{slices.Clone(key), listKey(l, k, c), e})
				return nil
			})
			if err != nil {
				return fmt.Errorf("normalize list entries: %w", err)
			}
		}
	}
	b := &Batch{}
	commit := func() error {
		if b.empty() {
			return nil
		}
		err := s.commit(b)
		b = &Batch{}
		return err
	}
	moved := 0
	for _, m := range moves {
		exists := false
		if err := s.be.Get(BucketLists, [][]byte{m.new}, func(_ int, v []byte) error {
			exists = v != nil
			return nil
		}); err != nil {
			return fmt.Errorf("normalize list entries: %w", err)
		}
		b.del(BucketLists, m.old)
		if !exists {
			b.put(BucketLists, m.new, encodeListEntry(&m.e))
			if !m.e.Expires.IsZero() {
				b.put(BucketExpiry, expiryKey(m.e.Expires, BucketLists, m.new), []byte{})
			}
			moved++
		}
		if len(b.Writes) >= sweepChunk {
			if err := commit(); err != nil {
				return fmt.Errorf("normalize list entries: %w", err)
			}
		}
	}
	for _, key := range drops {
		b.del(BucketLists, key)
		if len(b.Writes) >= sweepChunk {
			if err := commit(); err != nil {
				return fmt.Errorf("normalize list entries: %w", err)
			}
		}
	}
	if len(moves)+len(drops) > 0 {
		audit := pdp.AuditRecord{At: s.cfg.Clock(), Actor: pdp.Actor{Operator: "pdp", Reason: "list values put in the form requests have"},
			Action: "list.normalize", Target: "lists",
			Detail: fmt.Sprintf(`{"moved":%d,"merged":%d,"deleted":%d}`, moved, len(moves)-moved, len(drops))}
		if err := s.journal(b, &audit); err != nil {
			return err
		}
	}
	b.put(BucketMeta, listsCanonicalKey, []byte("1"))
	if err := commit(); err != nil {
		return fmt.Errorf("normalize list entries: %w", err)
	}
	return nil
}
