package state

import (
	"context"
	"fmt"
	"slices"

	"github.com/riskpdp/riskpdp/pdp"
)

// PutListEntry puts e on its list (replacing an entry for the same list,
// kind and value) and journals audit, in one fsynced transaction, before
// it returns. The value is stored in its canonical spelling, and one that
// no request could match is refused with ErrInvalid before anything is
// written (CanonicalListValue); an IP range ("10.0.0.0/8") covers every
// address in it, a card_bin entry every longer BIN it begins. Defaults:
// e.Created is the Store's clock; audit.At the clock, audit.Actor e.Actor,
// audit.Action "list.put", audit.Target "list/kind/value" (canonical),
// audit.UID the value for UID entries, audit.Detail the stored record.
// Reads of the subject see the entry as soon as the call returns. An
// entry whose Expires is not after now is stored and ignored.
func (s *Store) PutListEntry(ctx context.Context, e pdp.ListEntry, audit pdp.AuditRecord) error {
	r := &request{}
	if err := s.addListEntry(&r.batch, &e); err != nil {
		return err
	}
	s.fillListAudit(&audit, &e, "list.put", listEntryJSON(&e))
	if err := s.journal(&r.batch, &audit); err != nil {
		return err
	}
	r.after = func() { s.bumpSubject(e.Subject, e.Value) }
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
	stored := make([]pdp.ListEntry, len(entries))
	for i := range entries {
		stored[i] = entries[i]
		if err := s.addListEntry(&r.batch, &stored[i]); err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
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
		for i := range stored {
			s.bumpSubject(stored[i].Subject, stored[i].Value)
		}
	}
	return s.do(ctx, r)
}

// bumpSubject invalidates the cached reputations computed from the list
// entries of (kind, value): its own and, for a BIN shorter than 8 digits,
// those of every longer BIN it begins (111 keys for a 6-digit BIN), whose
// reputation it is part of.
func (s *Store) bumpSubject(kind pdp.SubjectKind, value string) {
	s.c.bump(s.c.key(uint8(kind), value, ""))
	if kind == pdp.SubjectCardBIN && isBIN(value) && len(value) < maxBIN {
		var buf [maxBIN]byte
		s.bumpLongerBINs(buf[:copy(buf[:], value)])
	}
}

func (s *Store) bumpLongerBINs(bin []byte) {
	if len(bin) >= maxBIN {
		return
	}
	for d := byte('0'); d <= '9'; d++ {
		longer := append(bin, d)
		s.c.bump(s.c.key(uint8(pdp.SubjectCardBIN), string(longer), ""))
		s.bumpLongerBINs(longer)
	}
}

// addListEntry validates e, puts its value in canonical form, fills its
// defaults and adds its writes (record, expiry index) to b.
func (s *Store) addListEntry(b *Batch, e *pdp.ListEntry) error {
	if e.Subject < pdp.SubjectUID || e.Subject > pdp.SubjectCardBIN {
		return invalidField("kind", "must be uid, device, ip or card_bin")
	}
	v, err := CanonicalListValue(e.List, e.Subject, e.Value)
	if err != nil {
		return err
	}
	e.Value = v
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
// or not). value may be in any spelling PutListEntry takes (::ffff:1.2.3.4
// deletes 1.2.3.4; a range deletes that range only, not the entries in
// it). Deleting nothing journals nothing. Audit defaults as for
// PutListEntry, with Action "list.delete" and Detail the removed record.
func (s *Store) DeleteListEntry(ctx context.Context, list pdp.ListKind, kind pdp.SubjectKind, value string, audit pdp.AuditRecord) (bool, error) {
	if kind < pdp.SubjectUID || kind > pdp.SubjectCardBIN {
		return false, invalidField("kind", "must be uid, device, ip or card_bin")
	}
	value, err := CanonicalListValue(list, kind, value)
	if err != nil {
		return false, err
	}
	key := listKey(list, kind, value)
	var found bool
	err = s.do(ctx, &request{job: func(be Backend) (*Batch, func(), error) {
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
		return b, func() { s.bumpSubject(kind, value) }, nil
	}})
	if err != nil {
		return false, err
	}
	return found, nil
}

// ListEntries returns up to limit entries of one list and subject kind in
// value order, starting after the value after ("" from the first), for
// paging; for IP lists the single addresses come first, then the ranges.
// after may be in any spelling PutListEntry takes. Entries that have
// expired at the Store's clock are left out even if not yet swept.
// limit ≤ 0 means 100; at most 1000 are returned.
func (s *Store) ListEntries(ctx context.Context, list pdp.ListKind, kind pdp.SubjectKind, after string, limit int) ([]pdp.ListEntry, error) {
	if list < pdp.ListBlock || list > pdp.ListVIP || kind < pdp.SubjectUID || kind > pdp.SubjectCardBIN {
		return nil, invalid("list %d, subject kind %d", list, kind)
	}
	if after != "" && kind == pdp.SubjectIP {
		var err error
		if after, err = CanonicalListValue(list, kind, after); err != nil {
			return nil, invalidField("after", "must be an IP address or range of the list")
		}
	}
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	if !s.enter(0) {
		return nil, ErrClosed
	}
	defer s.exit(0)
	type part struct{ prefix, from []byte }
	var parts []part
	var from []byte
	if after != "" {
		from = append(listKey(list, kind, after), 0) // the first key after
	}
	switch {
	case kind != pdp.SubjectIP:
		parts = []part{{listPrefix(list, kind), from}}
	case isRange(after):
		parts = []part{{rangePrefix(list), from}}
	default:
		parts = []part{{listPrefix(list, kind), from}, {rangePrefix(list), nil}}
	}
	now := s.cfg.Clock()
	var out []pdp.ListEntry
	for _, p := range parts {
		err := s.be.Scan(BucketLists, p.prefix, p.from, func(k, v []byte) error {
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
		if err != nil || len(out) == limit {
			return out, err
		}
	}
	return out, nil
}
