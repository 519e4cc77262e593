package state

import (
	"context"
	"time"
	"unicode/utf8"

	"github.com/riskpdp/riskpdp/pdp"
)

// VerificationRetention is how long a verification is kept after its
// challenge expired (after its UpdatedAt when it has no expiry); the
// sweeper deletes it then.
const VerificationRetention = 24 * time.Hour

// PutVerification records v under (v.UID, v.TxnID), replacing what was
// there, in one fsynced transaction before it returns. UpdatedAt defaults
// to the Store's clock. Results must be known values; UID and TxnID are
// required. It is RecordVerification without a journal record.
func (s *Store) PutVerification(ctx context.Context, v pdp.Verification) error {
	return s.RecordVerification(ctx, v, nil)
}

// RecordVerification is PutVerification that also appends audit (when not
// nil) to the journal, in the same transaction: the case trail of an
// account shows every verification result reported for it. The audit's
// UID defaults to v.UID and its At to the Store's clock.
func (s *Store) RecordVerification(ctx context.Context, v pdp.Verification, audit *pdp.AuditRecord) error {
	for _, f := range []string{v.UID, v.TxnID} {
		if f == "" || len(f) > maxValueLen || !utf8.ValidString(f) {
			return invalid("verification uid %q, txn %q", v.UID, v.TxnID)
		}
	}
	for m, r := range v.Results {
		if r < pdp.VerificationPassed || r > pdp.VerificationRefused {
			return invalid("verification result %d for %q", r, m)
		}
	}
	if v.UpdatedAt.IsZero() {
		v.UpdatedAt = s.cfg.Clock()
	}
	data := encodeVerification(&v)
	key := verificationKey(v.UID, v.TxnID)
	h := s.c.key(nsVerification, v.UID, v.TxnID)
	r := &request{after: func() { s.c.bump(h) }}
	r.batch.put(BucketVerifications, key, data)
	r.batch.put(BucketExpiry, expiryKey(verificationDue(&v), BucketVerifications, key), []byte{})
	if audit != nil {
		a := *audit
		if a.UID == "" {
			a.UID = v.UID
		}
		if a.At.IsZero() {
			a.At = v.UpdatedAt
		}
		if err := s.journal(&r.batch, &a); err != nil {
			return err
		}
	}
	return s.do(ctx, r)
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
// transaction id order, at most MaxListedVerifications. It reads the
// backend, not the cache: it serves the operator's account view, not
// decisions.
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
