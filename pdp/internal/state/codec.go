package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/jsonw"
)

// Binary record format 1, for the records the decision path reads (list
// entries, accounts, verifications): decoding one costs a few hundred
// nanoseconds to a few microseconds, against tens of microseconds for the
// same record in JSON. Audit records, read by operators and kept for
// years, stay JSON (record.go).
//
// A record starts with a tag byte ('L', 'A', 'V') and the format version
// of its kind (a newer version adds fields; the decoder still reads the
// older ones). Then, in the order of the Go fields (see the encoders below):
//
//	uvarint   counts and string lengths (a string is its length, then bytes)
//	byte      enumerations, by their pdp value (ListKind, SubjectKind, Stage,
//	          FreezeKind, VerificationResult)
//	time      uvarint 0 for the zero time; else uvarint(zigzag(unix s)+1)
//	          and uvarint(ns) (< 1e9); years are clamped to 1..9999
//	float64   8 bytes, IEEE 754 little-endian
//	duration  varint nanoseconds
//
// Verification results are written sorted by method. A decoder refuses
// another tag or version, unknown enumeration values, counts larger than
// the bytes left, and trailing bytes.

const (
	tagList         = 'L'
	tagAccount      = 'A'
	tagVerification = 'V'
	codecVersion    = 1
	// accountVersion 2 adds the first-seen time after the UID, 3 the
	// payments after the flags, 4 the operators' work after the
	// destinations, 5 each flag's stage.
	accountVersion = 6
	// verificationVersion 2 adds the binding (stage, transaction, amount,
	// currency, device; a 0 stage byte when unbound) after the subject, 3
	// the instrument after the currency (a version 2 binding reads as
	// pdp.UnboundInstrument: it releases nothing).
	verificationVersion = 3
)

type enc struct{ b []byte }

func (e *enc) byte(c byte)      { e.b = append(e.b, c) }
func (e *enc) uvarint(n uint64) { e.b = binary.AppendUvarint(e.b, n) }
func (e *enc) str(s string)     { e.uvarint(uint64(len(s))); e.b = append(e.b, s...) }
func (e *enc) f64(x float64)    { e.b = binary.LittleEndian.AppendUint64(e.b, math.Float64bits(x)) }
func (e *enc) dur(d time.Duration) {
	e.b = binary.AppendVarint(e.b, int64(d))
}

func (e *enc) time(t time.Time) {
	if t.IsZero() {
		e.uvarint(0)
		return
	}
	t = jsonw.ClampTime(t)
	s := t.Unix()
	e.uvarint(uint64(s<<1^s>>63) + 1)
	e.uvarint(uint64(t.Nanosecond()))
}

func (e *enc) actor(a pdp.Actor) { e.str(a.Operator); e.str(a.Ticket); e.str(a.Reason) }

var errTruncated = errors.New("truncated")

type dec struct {
	b   []byte
	err error
}

func (d *dec) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.b = nil
}

func (d *dec) byte() byte {
	if len(d.b) == 0 {
		d.fail(errTruncated)
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *dec) uvarint() uint64 {
	n, w := binary.Uvarint(d.b)
	if w <= 0 {
		d.fail(errTruncated)
		return 0
	}
	d.b = d.b[w:]
	return n
}

// count reads a count of elements of at least min bytes each.
func (d *dec) count(min int) int {
	n := d.uvarint()
	if n > uint64(len(d.b)/min) {
		d.fail(fmt.Errorf("count %d exceeds the record", n))
		return 0
	}
	return int(n)
}

func (d *dec) str() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail(errTruncated)
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// amount reads a money amount; every amount is validated as a finite
// non-negative number before it is stored, so anything else is damage.
func (d *dec) amount() float64 {
	if len(d.b) < 8 {
		d.fail(errTruncated)
		return 0
	}
	x := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
	d.b = d.b[8:]
	if !finite(x) {
		d.fail(fmt.Errorf("amount %v is not a finite non-negative number", x))
		return 0
	}
	return x
}

func (d *dec) dur() time.Duration {
	n, w := binary.Varint(d.b)
	if w <= 0 {
		d.fail(errTruncated)
		return 0
	}
	d.b = d.b[w:]
	return time.Duration(n)
}

func (d *dec) time() time.Time {
	z := d.uvarint()
	if z == 0 {
		return time.Time{}
	}
	z--
	s := int64(z>>1) ^ -int64(z&1)
	ns := d.uvarint()
	if ns >= 1e9 {
		d.fail(fmt.Errorf("nanoseconds %d", ns))
		return time.Time{}
	}
	t := time.Unix(s, int64(ns)).UTC()
	if t.Before(jsonw.MinTime) || t.After(jsonw.MaxTime) {
		d.fail(fmt.Errorf("time %d out of range", s))
		return time.Time{}
	}
	return t
}

func (d *dec) actor() pdp.Actor {
	return pdp.Actor{Operator: d.str(), Ticket: d.str(), Reason: d.str()}
}

func (d *dec) header(tag byte) { d.headerUpTo(tag, codecVersion) }

// headerUpTo reads the header of a record of tag whose versions run from 1
// to max, and returns the version.
func (d *dec) headerUpTo(tag, max byte) byte {
	t, v := d.byte(), d.byte()
	if d.err == nil && (t != tag || v < 1 || v > max) {
		d.fail(fmt.Errorf("tag %q version %d, want %q version 1 to %d", t, v, tag, max))
	}
	return v
}

func (d *dec) end(what string) error {
	if d.err == nil && len(d.b) > 0 {
		d.err = fmt.Errorf("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return corrupt(what, d.err)
	}
	return nil
}

// enum reads a byte that must lie in [lo, hi].
func (d *dec) enum(what string, lo, hi byte) byte {
	c := d.byte()
	if d.err == nil && (c < lo || c > hi) {
		d.fail(fmt.Errorf("%s %d", what, c))
	}
	return c
}

func encodeListEntry(e *pdp.ListEntry) []byte {
	w := enc{b: make([]byte, 0, 32+len(e.Value)+len(e.Reason))}
	w.byte(tagList)
	w.byte(codecVersion)
	w.byte(byte(e.List))
	w.byte(byte(e.Subject))
	w.str(e.Value)
	w.str(e.Reason)
	w.time(e.Expires)
	w.time(e.Created)
	w.actor(e.Actor)
	return w.b
}

func decodeListEntry(b []byte) (pdp.ListEntry, error) {
	d := dec{b: b}
	d.header(tagList)
	e := pdp.ListEntry{
		List:    pdp.ListKind(d.enum("list", byte(pdp.ListBlock), byte(pdp.ListVIP))),
		Subject: pdp.SubjectKind(d.enum("subject", byte(pdp.SubjectUID), byte(pdp.SubjectCardBIN))),
		Value:   d.str(),
		Reason:  d.str(),
		Expires: d.time(),
		Created: d.time(),
		Actor:   d.actor(),
	}
	if err := d.end("list entry"); err != nil {
		return pdp.ListEntry{}, err
	}
	return e, nil
}

func encodeVerification(v *pdp.Verification) []byte {
	w := enc{b: make([]byte, 0, 96)}
	w.byte(tagVerification)
	w.byte(verificationVersion)
	w.str(v.ChallengeID)
	w.str(v.UID)
	w.str(v.Subject)
	if v.Bound {
		b := &v.Binding
		w.byte(byte(b.Stage))
		w.str(b.TxnID)
		w.f64(b.Amount)
		w.str(b.Currency)
		w.str(b.Instrument)
		w.str(b.DeviceID)
	} else {
		w.byte(0)
	}
	w.uvarint(uint64(len(v.Methods)))
	for _, m := range v.Methods {
		w.str(m)
	}
	methods := make([]string, 0, len(v.Results))
	for m := range v.Results {
		methods = append(methods, m)
	}
	slices.Sort(methods)
	w.uvarint(uint64(len(methods)))
	for _, m := range methods {
		w.str(m)
		w.byte(byte(v.Results[m]))
	}
	w.time(v.Expires)
	w.time(v.UpdatedAt)
	return w.b
}

func decodeVerification(b []byte) (pdp.Verification, error) {
	d := dec{b: b}
	version := d.headerUpTo(tagVerification, verificationVersion)
	v := pdp.Verification{ChallengeID: d.str(), UID: d.str(), Subject: d.str()}
	if version >= 2 {
		if st := pdp.Stage(d.enum("stage", 0, byte(pdp.StageRepayment))); st != 0 {
			v.Bound = true
			b := pdp.VerificationBinding{Stage: st, TxnID: d.str(), Amount: d.amount(), Currency: d.str()}
			switch {
			case version >= 3:
				b.Instrument = d.str()
			case st != pdp.StageLogin:
				b.Instrument = pdp.UnboundInstrument
			}
			b.DeviceID = d.str()
			v.Binding = b
		}
	}
	if n := d.count(1); n > 0 {
		v.Methods = make([]string, n)
		for i := range v.Methods {
			v.Methods[i] = d.str()
		}
	}
	if n := d.count(2); n > 0 {
		v.Results = make(map[string]pdp.VerificationResult, n)
		for range n {
			m := d.str()
			v.Results[m] = pdp.VerificationResult(d.enum("result", byte(pdp.VerificationPassed), byte(pdp.VerificationRefused)))
		}
	}
	v.Expires = d.time()
	v.UpdatedAt = d.time()
	if d.err == nil && (v.UID == "" || v.Subject == "") {
		d.fail(errors.New("uid or subject missing"))
	}
	if d.err == nil && v.Bound && pdp.VerificationSubject(v.Binding) != v.Subject {
		d.fail(errors.New("subject does not match the binding"))
	}
	if err := d.end("verification"); err != nil {
		return pdp.Verification{}, err
	}
	return v, nil
}
