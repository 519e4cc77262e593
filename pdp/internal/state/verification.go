package state

import (
	"bytes"
	"context"
	"time"
	"unicode/utf8"

	"github.com/riskpdp/riskpdp/pdp"
)

// VerificationRetention is how long a verification is kept after its
// challenge expired (after its UpdatedAt when it has no expiry); the
// sweeper deletes it then.
const VerificationRetention = 24 * time.Hour

// PutVerification records v under (v.UID, v.Subject), replacing what was
// there, in one fsynced transaction before it returns. UpdatedAt defaults
// to the Store's clock. Results must be known values; UID and Subject are
// required (and Subject must be the binding's when v.Bound). It is a
// blind write, for tools and tests: results reported by the payment
// service go through UpdateVerification, so that none is lost.
func (s *Store) PutVerification(ctx context.Context, v pdp.Verification) error {
	_, err := s.UpdateVerification(ctx, v.UID, v.Subject, func(*pdp.Verification) (pdp.Verification, error) { return v, nil }, nil)
	return err
}

// UpdateVerification changes the verification of (uid, subject) as one
// atomic step: fn receives the stored record (nil when there is none; it
// must not modify it) and returns the new one, and audit, when not nil,
// makes the journal record of the change from it (nil: none). The record
// and its journal entry commit in one fsynced transaction before the call
// returns, and the result is the record as stored.
//
// The read, fn and the write run in the committer with no other write in
// between, and with a Shared backend the write is a compare-and-set on the
// value read (fn runs again on the newer value after a conflict): results
// reported at the same time for one operation, through this sidecar or
// another, are each applied to what the others left, never to a stale
// copy. So a failed check that a concurrent "passed" races is never lost.
// fn and audit may run more than once and must only compute.
func (s *Store) UpdateVerification(ctx context.Context, uid, subject string, fn func(cur *pdp.Verification) (pdp.Verification, error), audit func(v *pdp.Verification) *pdp.AuditRecord) (pdp.Verification, error) {
	if err := checkVerificationKey(uid, subject); err != nil {
		return pdp.Verification{}, err
	}
	key := verificationKey(uid, subject)
	h := s.c.key(nsVerification, uid, subject)
	var out pdp.Verification
	r := &request{}
	r.job = func(be Backend) (*Batch, func(), error) {
		var cur *pdp.Verification
		var raw []byte
		err := be.Get(BucketVerifications, [][]byte{key}, func(_ int, b []byte) error {
			if b == nil {
				return nil
			}
			raw = bytes.Clone(b)
			v, err := decodeVerification(b)
			cur = &v
			return err
		})
		if err != nil {
			return nil, nil, err
		}
		v, err := fn(cur)
		if err != nil {
			return nil, nil, err
		}
		if v.UpdatedAt.IsZero() {
			v.UpdatedAt = s.cfg.Clock()
		}
		if err := validateVerification(&v, uid, subject); err != nil {
			return nil, nil, err
		}
		d := ValueDigest(raw)
		b := &Batch{Writes: []Write{{Bucket: BucketVerifications, Key: key, Value: encodeVerification(&v), If: &d}}}
		b.put(BucketExpiry, expiryKey(verificationDue(&v), BucketVerifications, key), []byte{})
		if audit != nil {
			if a := audit(&v); a != nil {
				rec := *a
				if rec.UID == "" {
					rec.UID = uid
				}
				if rec.At.IsZero() {
					rec.At = v.UpdatedAt
				}
				if err := s.journal(b, &rec); err != nil {
					return nil, nil, err
				}
			}
		}
		out = v
		return b, func() { s.c.bump(h) }, nil
	}
	if err := s.do(ctx, r); err != nil {
		return pdp.Verification{}, err
	}
	return out, nil
}

func checkVerificationKey(uid, subject string) error {
	for _, f := range []string{uid, subject} {
		if f == "" || len(f) > maxValueLen || !utf8.ValidString(f) {
			return invalid("verification uid %q, subject %q", uid, subject)
		}
	}
	return nil
}

// validateVerification checks v is a record that may be stored under
// (uid, subject).
func validateVerification(v *pdp.Verification, uid, subject string) error {
	if v.UID != uid || v.Subject != subject {
		return invalid("verification of %q/%q stored under %q/%q", v.UID, v.Subject, uid, subject)
	}
	if v.Bound {
		if !v.Binding.Stage.Valid() || pdp.VerificationSubject(v.Binding) != subject || !finite(v.Binding.Amount) {
			return invalid("verification binding %+v does not match subject %q", v.Binding, subject)
		}
	}
	for m, r := range v.Results {
		if r < pdp.VerificationPassed || r > pdp.VerificationRefused {
			return invalid("verification result %d for %q", r, m)
		}
	}
	return nil
}

// verificationDue is when the sweeper deletes v.
func verificationDue(v *pdp.Verification) time.Time {
	if !v.Expires.IsZero() {
		return v.Expires.Add(VerificationRetention)
	}
	return v.UpdatedAt.Add(VerificationRetention)
}

// MaxListedVerifications bounds Verifications.
const MaxListedVerifications = 100

// Verifications returns the verifications kept for uid (until the sweeper
// removes them, VerificationRetention after their challenge expired), in
// subject order, at most MaxListedVerifications. It reads the backend, not
// the cache: it serves the operator's account view, not decisions.
func (s *Store) Verifications(uid string) ([]pdp.Verification, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	var out []pdp.Verification
	err := s.be.Scan(BucketVerifications, appendLenPrefixed(nil, uid), nil, func(_, b []byte) error {
		v, err := decodeVerification(b)
		if err != nil {
			return err
		}
		out = append(out, v)
		if len(out) == MaxListedVerifications {
			return ErrStop
		}
		return nil
	})
	return out, err
}
