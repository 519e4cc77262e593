package state

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
)

// Every decoder: no panic on any input, and whatever decodes re-encodes to
// bytes that decode to the same value and encode identically (the first
// encoding is canonical).

func FuzzDecodeListEntry(f *testing.F) {
	f.Add(encodeListEntry(&golden.list))
	f.Add(encodeListEntry(&pdp.ListEntry{List: pdp.ListVIP, Subject: pdp.SubjectUID, Value: "u"}))
	f.Add([]byte{tagList, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeListEntry(b)
		if err != nil {
			return
		}
		enc := encodeListEntry(&e)
		e2, err := decodeListEntry(enc)
		if err != nil || !reflect.DeepEqual(e, e2) || !bytes.Equal(enc, encodeListEntry(&e2)) {
			t.Fatalf("round trip: %+v → %x → %+v, %v", e, enc, e2, err)
		}
	})
}

func FuzzDecodeAccount(f *testing.F) {
	f.Add(encodeAccount(&golden.acct))
	f.Add(encodeAccount(&pdp.AccountState{UID: "u"}))
	f.Add(encodeAccount(&pdp.AccountState{UID: "u", Habit: pdp.Habit{Count: 2, Mean: 10, Var: 1, Categories: []pdp.CategoryWeight{{Category: "c", Weight: 0.5}}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := decodeAccount(b)
		if err != nil {
			return
		}
		enc := encodeAccount(a)
		a2, err := decodeAccount(enc)
		if err != nil || !reflect.DeepEqual(a, a2) || !bytes.Equal(enc, encodeAccount(a2)) {
			t.Fatalf("round trip: %+v → %x → %+v, %v", a, enc, a2, err)
		}
	})
}

func FuzzDecodeVerification(f *testing.F) {
	f.Add(encodeVerification(&golden.verif))
	f.Add(encodeVerification(&pdp.Verification{UID: "u", Subject: "t"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := decodeVerification(b)
		if err != nil {
			return
		}
		enc := encodeVerification(&v)
		v2, err := decodeVerification(enc)
		if err != nil || !reflect.DeepEqual(v, v2) || !bytes.Equal(enc, encodeVerification(&v2)) {
			t.Fatalf("round trip: %+v → %x → %+v, %v", v, enc, v2, err)
		}
	})
}

func FuzzDecodeAudit(f *testing.F) {
	a, _ := encodeAudit(&golden.audit)
	f.Add(a)
	f.Add([]byte(`{"v":1,"action":"x","at":"2026-01-01T00:00:00+08:00"}`))
	f.Add([]byte(`{"v":1,"at":"10000-01-01T00:00:00Z"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := decodeAudit(3, b)
		if err != nil {
			return
		}
		enc, err := encodeAudit(&rec)
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", rec, err)
		}
		rec2, err := decodeAudit(3, enc)
		if err != nil || !rec2.At.Equal(rec.At) || rec2.Detail != rec.Detail || rec2.Actor != rec.Actor {
			t.Fatalf("round trip: %+v → %s → %+v, %v", rec, enc, rec2, err)
		}
		if enc2, _ := encodeAudit(&rec2); !bytes.Equal(enc, enc2) {
			t.Fatalf("not canonical: %s vs %s", enc, enc2)
		}
	})
}

// FuzzKeys: key parsers never panic and invert the key builders.
func FuzzKeys(f *testing.F) {
	f.Add([]byte{1, 2, 'x'}, "u", "t", int64(0))
	f.Add([]byte{}, "", "", int64(-1))
	f.Fuzz(func(t *testing.T, raw []byte, a, b string, ns int64) {
		parseListKey(raw)
		parseExpiryKey(raw)
		parseVerificationKey(raw)
		parseJournalUIDKey(raw)
		if u, x, ok := parseVerificationKey(verificationKey(a, b)); !ok || u != a || x != b {
			t.Fatalf("verification key (%q, %q) → (%q, %q, %v)", a, b, u, x, ok)
		}
		if u, seq, ok := parseJournalUIDKey(journalUIDKey(a, uint64(ns))); !ok || u != a || seq != uint64(ns) {
			t.Fatalf("journal key (%q, %d) → (%q, %d, %v)", a, ns, u, seq, ok)
		}
		at := time.Unix(0, ns)
		if got, bk, k, ok := parseExpiryKey(expiryKey(at, BucketLists, []byte(a))); a != "" && !ok || ok && (got != expiryNanos(at) || bk != BucketLists || string(k) != a) {
			t.Fatalf("expiry key (%v, %q) → (%d, %d, %q, %v)", at, a, got, bk, k, ok)
		}
		// Expiry keys sort by time.
		later := at.Add(1)
		if ns < 1<<63-1 && bytes.Compare(expiryKey(at, BucketLists, nil), expiryKey(later, BucketLists, nil)) >= 0 {
			t.Fatalf("expiry keys of %d and %d out of order", ns, ns+1)
		}
	})
}
