package state

import (
	"context"
	"fmt"
	"slices"
	"unicode/utf8"

	"github.com/riskpdp/riskpdp/pdp"
)

// PutListEntry puts e on its list (replacing an entry for the same list,
// kind and value) and journals audit, in one fsynced transaction, before
// it returns. Defaults: e.Created is the Store's clock; audit.At the
// clock, audit.Actor e.Actor, audit.Action "list.put", audit.Target
// "list/kind/value", audit.UID the value for UID entries, audit.Detail the
// stored record. Reads of the subject see the entry as soon as the call
// returns. An entry whose Expires is not after now is stored and ignored.
func (s *Store) PutListEntry(ctx context.Context, e pdp.ListEntry, audit pdp.AuditRecord) error {
	r := &request{}
	if err := s.addListEntry(&r.batch, &e); err != nil {
		return err
	}
	s.fillListAudit(&audit, &e, "list.put", listEntryJSON(&e))
	if err := s.journal(&r.batch, &audit); err != nil {
		return err
	}
	h := s.c.key(uint8(e.Subject), e.Value, "")
	r.after = func() { s.c.bump(h) }
	return s.do(ctx, r)
}

// PutListEntries puts many entries in one fsynced transaction with one
// audit record (Action "list.import", Detail the number of entries), for
// bulk loads such as a threat feed. Memory use is about twice the encoded
// size of the entries; split very large loads into batches of ~100k.
func (s *Store) PutListEntries(ctx context.Context, entries []pdp.ListEntry, audit pdp.AuditRecord) error {
	if len(entries) == 0 {
		return nil
	}
	r := &request{}
	hashes := make([]uint64, len(entries))
	for i := range entries {
		e := entries[i]
		if err := s.addListEntry(&r.batch, &e); err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
		hashes[i] = s.c.key(uint8(e.Subject), e.Value, "")
	}
	if audit.Action == "" {
		audit.Action = "list.import"
	}
	if audit.Detail == "" {
		audit.Detail = fmt.Sprintf(`{"entries":%d}`, len(entries))
	}
	if audit.At.IsZero() {
		audit.At = s.cfg.Clock()
	}
	if err := s.journal(&r.batch, &audit); err != nil {
		return err
	}
	r.after = func() {
		for _, h := range hashes {
			s.c.bump(h)
		}
	}
	return s.do(ctx, r)
}

func validSubject(l pdp.ListKind, k pdp.SubjectKind, value string) error {
	if l < pdp.ListBlock || l > pdp.ListVIP {
		return invalid("list %d", l)
	}
	if k < pdp.SubjectUID || k > pdp.SubjectCardBIN {
		return invalid("subject kind %d", k)
	}
	if value == "" || len(value) > maxValueLen || !utf8.ValidString(value) {
		return invalid("%s value of %d bytes (1 to %d bytes of UTF-8)", k, len(value), maxValueLen)
	}
	return nil
}

// addListEntry validates e, fills its defaults and adds its writes (record,
// expiry index) to b.
func (s *Store) addListEntry(b *Batch, e *pdp.ListEntry) error {
	if err := validSubject(e.List, e.Subject, e.Value); err != nil {
		return err
	}
	if e.Created.IsZero() {
		e.Created = s.cfg.Clock()
	}
	data := encodeListEntry(e)
	key := listKey(e.List, e.Subject, e.Value)
	b.put(BucketLists, key, data)
	if !e.Expires.IsZero() {
		b.put(BucketExpiry, expiryKey(e.Expires, BucketLists, key), []byte{})
	}
	return nil
}

func (s *Store) fillListAudit(a *pdp.AuditRecord, e *pdp.ListEntry, action, detail string) {
	if a.At.IsZero() {
		a.At = s.cfg.Clock()
	}
	if a.Actor == (pdp.Actor{}) {
		a.Actor = e.Actor
	}
	if a.Action == "" {
		a.Action = action
	}
	if a.Target == "" {
		a.Target = e.List.String() + "/" + e.Subject.String() + "/" + e.Value
	}
	if a.UID == "" && e.Subject == pdp.SubjectUID {
		a.UID = e.Value
	}
	if a.Detail == "" {
		a.Detail = detail
	}
}

// DeleteListEntry removes the subject from the list and journals audit in
// one fsynced transaction; it reports whether there was an entry (expired
// or not). Deleting nothing journals nothing. Audit defaults as for
// PutListEntry, with Action "list.delete" and Detail the removed record.
func (s *Store) DeleteListEntry(ctx context.Context, list pdp.ListKind, kind pdp.SubjectKind, value string, audit pdp.AuditRecord) (bool, error) {
	if err := validSubject(list, kind, value); err != nil {
		return false, err
	}
	key := listKey(list, kind, value)
	h := s.c.key(uint8(kind), value, "")
	var found bool
	err := s.do(ctx, &request{job: func(be Backend) (*Batch, func(), error) {
		var old []byte
		if err := be.Get(BucketLists, [][]byte{key}, func(_ int, v []byte) error {
			old = slices.Clone(v)
			return nil
		}); err != nil {
			return nil, nil, err
		}
		if old == nil {
			return nil, nil, nil
		}
		found = true
		b := &Batch{}
		b.del(BucketLists, key)
		e, err := decodeListEntry(old)
		if err != nil {
			e = pdp.ListEntry{List: list, Subject: kind, Value: value} // deleting a damaged entry
		}
		s.fillListAudit(&audit, &e, "list.delete", listEntryJSON(&e))
		if err := s.journal(b, &audit); err != nil {
			return nil, nil, err
		}
		return b, func() { s.c.bump(h) }, nil
	}})
	if err != nil {
		return false, err
	}
	return found, nil
}

// ListEntries returns up to limit entries of one list and subject kind in
// value order, starting after the value after ("" from the first), for
// paging. Entries that have expired at the Store's clock are left out even
// if not yet swept. limit ≤ 0 means 100; at most 1000 are returned.
func (s *Store) ListEntries(ctx context.Context, list pdp.ListKind, kind pdp.SubjectKind, after string, limit int) ([]pdp.ListEntry, error) {
	if list < pdp.ListBlock || list > pdp.ListVIP || kind < pdp.SubjectUID || kind > pdp.SubjectCardBIN {
		return nil, invalid("list %d, subject kind %d", list, kind)
	}
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	if !s.enter(0) {
		return nil, ErrClosed
	}
	defer s.exit(0)
	prefix := listPrefix(list, kind)
	var from []byte
	if after != "" {
		from = append(listKey(list, kind, after), 0) // the first key after
	}
	now := s.cfg.Clock()
	var out []pdp.ListEntry
	err := s.be.Scan(BucketLists, prefix, from, func(k, v []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		e, err := decodeListEntry(v)
		if err != nil {
			return fmt.Errorf("list entry %q: %w", k, err)
		}
		if !e.Active(now) {
			return nil
		}
		out = append(out, e)
		if len(out) == limit {
			return ErrStop
		}
		return nil
	})
	return out, err
}
