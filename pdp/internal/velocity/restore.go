package velocity

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"time"
)

// maxSkew is how far past the now given to Restore a snapshot's latest time
// may lie (a clock stepped back across the restart). A snapshot from further
// in the future is refused: its keys would not expire for that long.
const maxSkew = 10 * time.Minute

// Restore loads a snapshot written by Snapshot into t, which must hold no
// keys, and replaces t's hash key with the snapshot's. Data that no window
// counts at now is dropped; keys beyond the per-shard limit of t's
// configuration are dropped too (counted in Stats.Evictions). A snapshot
// written more than maxSkew (10 minutes) after now is refused. On error t
// is left empty with its own hash key.
//
// Restore must not run concurrently with other calls on t (except the
// sweeper): call it before serving.
func (t *Tracker) Restore(r io.Reader, now time.Time) error {
	if t.Len() != 0 {
		return ErrNotEmpty
	}
	seed := t.seed
	if err := t.restore(r, unixSec(now)); err != nil {
		t.clear(seed)
		return err
	}
	return nil
}

// clear empties every shard and sets the hash key back to seed.
func (t *Tracker) clear(seed sipKey) {
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		s.keys = make(map[uint64]int32)
		s.initPools()
		s.hand = 0
		s.mu.Unlock()
	}
	t.setSeed(seed)
}

// record is one decoded entry with its parts, before it joins a shard.
type record struct {
	e     entry // hash, last, n, login, secs, amts
	parts uint8
	nids  int
	ids   [SetCap]seen
	w     windows
	f     failures
	sp    spending
}

func (t *Tracker) restore(r io.Reader, now uint32) error {
	d := &decoder{r: bufio.NewReaderSize(r, 64<<10)}
	magic := string(d.read(len(snapshotMagic)))
	version := d.u16()
	if d.err != nil || magic != snapshotMagic {
		return fmt.Errorf("%w: not a velocity snapshot", ErrSnapshotCorrupt)
	}
	if version != snapshotVersion {
		return fmt.Errorf("%w %d (this build reads version %d)", ErrSnapshotVersion, version, snapshotVersion)
	}
	t.setSeed(sipKey{d.u64(), d.u64()})
	rec := new(record)
	var count uint64
	var maxLast uint32
	for {
		switch tag := d.u8(); {
		case d.err != nil:
			return fmt.Errorf("%w: truncated after %d entries: %v", ErrSnapshotCorrupt, count, d.err)
		case tag == tagEntry:
			d.entry(rec)
			if d.err != nil {
				return fmt.Errorf("%w: entry %d truncated: %v", ErrSnapshotCorrupt, count, d.err)
			}
			if err := rec.check(); err != nil {
				return fmt.Errorf("%w: entry %d: %v", ErrSnapshotCorrupt, count, err)
			}
			count++
			maxLast = max(maxLast, rec.e.last)
			if c := clockAt(max(now, rec.e.last)); rec.normalize(c) {
				s := t.shardOf(rec.e.hash)
				s.mu.Lock()
				s.restore(rec)
				s.mu.Unlock()
			}
		case tag == tagEnd:
			return t.trailer(d, count, maxLast, now)
		default:
			return fmt.Errorf("%w: unknown tag %d after %d entries", ErrSnapshotCorrupt, tag, count)
		}
	}
}

func (t *Tracker) trailer(d *decoder, count uint64, maxLast, now uint32) error {
	n, latest := d.u64(), d.u32()
	want := d.crc
	got := d.u32()
	switch {
	case d.err != nil:
		return fmt.Errorf("%w: truncated trailer: %v", ErrSnapshotCorrupt, d.err)
	case got != want:
		return fmt.Errorf("%w: checksum mismatch", ErrSnapshotCorrupt)
	case n != count:
		return fmt.Errorf("%w: trailer counts %d entries, read %d", ErrSnapshotCorrupt, n, count)
	case latest < maxLast:
		return fmt.Errorf("%w: an entry is newer than the snapshot", ErrSnapshotCorrupt)
	case int64(latest) > int64(now)+int64(maxSkew/time.Second):
		return fmt.Errorf("%w: snapshot time %s is after now %s", ErrSnapshotCorrupt,
			time.Unix(int64(latest), 0).UTC().Format(time.RFC3339), time.Unix(int64(now), 0).UTC().Format(time.RFC3339))
	}
	if _, err := d.r.ReadByte(); err != io.EOF {
		return fmt.Errorf("%w: data after the trailer", ErrSnapshotCorrupt)
	}
	for l := t.latest.Load(); latest > l && !t.latest.CompareAndSwap(l, latest); l = t.latest.Load() {
	}
	return nil
}

// check rejects a record that could not have been written by Snapshot.
func (r *record) check() error {
	e := &r.e
	last := e.last
	le24h := func(h uint32) bool { return h <= last/width24h }
	switch {
	case last == 0:
		return errors.New("zero time")
	case e.n > smallCap || e.login>>e.n != 0:
		return errors.New("bad small-mode events")
	case r.nids > SetCap:
		return errors.New("too many ids")
	case r.parts&^partsKnown != 0:
		return errors.New("unknown parts")
	case r.parts&partWindows != 0 && e.n != 0:
		return errors.New("both events and windows")
	}
	for i := range int(e.n) {
		if e.secs[i] > last || (i > 0 && e.secs[i] < e.secs[i-1]) || !amountOK(e.amts[i]) {
			return errors.New("bad event")
		}
	}
	for i, a := range r.ids[:r.nids] {
		if a.sec > last {
			return errors.New("id seen after last")
		}
		for _, b := range r.ids[:i] {
			if a.id == b.id {
				return errors.New("duplicate id")
			}
		}
	}
	if r.parts&partWindows != 0 {
		w := &r.w
		if w.head1m > last/width1m || w.head1h > last/width1h || !le24h(w.head24h) ||
			!amountsOK(w.a1m[:]) || !amountsOK(w.a1h[:]) || !amountsOK(w.a24h[:]) {
			return errors.New("bad windows")
		}
	}
	if r.parts&partFailures != 0 && (r.f.head1h > last/width1h || !le24h(r.f.head24h)) {
		return errors.New("bad failures")
	}
	if r.parts&partSpending != 0 && (!le24h(r.sp.head) || !amountsOK(r.sp.a[:])) {
		return errors.New("bad spending")
	}
	return nil
}

func amountOK(a float64) bool { return a >= 0 && a <= math.MaxFloat64 }

func amountsOK(a []float64) bool {
	for _, x := range a {
		if !amountOK(x) {
			return false
		}
	}
	return true
}

// normalize drops what no window counts at c; it reports false when nothing
// of the key is left.
func (r *record) normalize(c clock) bool {
	if r.e.expired(c) {
		return false
	}
	r.e.smallPrune(c)
	k := 0
	for _, id := range r.ids[:r.nids] {
		if in1h(id.sec, c) {
			r.ids[k] = id
			k++
		}
	}
	r.nids = k
	if r.parts&partWindows != 0 {
		if r.w.expired(c) {
			r.parts &^= partWindows
		}
		r.w.drop(c)
	}
	if r.parts&partFailures != 0 {
		if r.f.expired(c) {
			r.parts &^= partFailures
		}
		r.f.drop(c)
	}
	if r.parts&partSpending != 0 {
		if r.sp.expired(c) {
			r.parts &^= partSpending
		}
		r.sp.drop(c)
	}
	return true
}

// restore adds a normalized record. Of two records of one key the newer
// stays; a full shard drops the record.
func (s *shard) restore(r *record) {
	if i, ok := s.keys[r.e.hash]; ok {
		old := s.entries.at(i)
		if old.last >= r.e.last {
			return
		}
		s.remove(i, old)
	}
	if len(s.keys) >= s.max {
		s.evicted++
		return
	}
	i := s.entries.alloc()
	s.keys[r.e.hash] = i
	e := s.entries.at(i)
	*e = r.e
	e.ref, e.ids, e.win, e.set, e.fail, e.spend = false, [setInline]seen{}, 0, 0, 0, 0
	e.nids = uint8(r.nids)
	if r.nids <= setInline {
		copy(e.ids[:], r.ids[:r.nids])
	} else {
		e.set = s.sets.alloc()
		copy(s.sets.at(e.set)[:], r.ids[:r.nids])
	}
	if r.parts&partWindows != 0 {
		e.win = s.wins.alloc()
		w := s.wins.at(e.win)
		*w = r.w
		w.retotal()
	}
	if r.parts&partFailures != 0 {
		e.fail = s.fails.alloc()
		*s.fails.at(e.fail) = r.f
	}
	if r.parts&partSpending != 0 {
		e.spend = s.spends.alloc()
		sp := s.spends.at(e.spend)
		*sp = r.sp
		sp.total = sum(sp.a[:])
	}
}

// decoder reads little-endian values and keeps the CRC-32C of what it read.
// After the first error every read returns zeros and err stays set.
type decoder struct {
	r   *bufio.Reader
	buf [8]byte
	crc uint32
	err error
}

func (d *decoder) read(n int) []byte {
	b := d.buf[:n]
	if d.err != nil {
		clear(b)
		return b
	}
	if _, err := io.ReadFull(d.r, b); err != nil {
		d.err = err
		clear(b)
		return b
	}
	d.crc = crc32.Update(d.crc, castagnoli, b)
	return b
}

func (d *decoder) u8() uint8   { return d.read(1)[0] }
func (d *decoder) u16() uint16 { return binary.LittleEndian.Uint16(d.read(2)) }
func (d *decoder) u32() uint32 { return binary.LittleEndian.Uint32(d.read(4)) }
func (d *decoder) u64() uint64 { return binary.LittleEndian.Uint64(d.read(8)) }
func (d *decoder) f64() float64 {
	return math.Float64frombits(d.u64())
}

func (d *decoder) u32s(v []uint32) {
	for i := range v {
		v[i] = d.u32()
	}
}

func (d *decoder) f64s(v []float64) {
	for i := range v {
		v[i] = d.f64()
	}
}

// entry decodes the body of an entry record (after its tag) into r.
func (d *decoder) entry(r *record) {
	*r = record{}
	e := &r.e
	e.hash, e.last = d.u64(), d.u32()
	e.n, e.login, r.nids, r.parts = d.u8(), d.u8(), int(d.u8()), d.u8()
	if e.n > smallCap || r.nids > SetCap {
		d.err = errors.New("count out of range")
		return
	}
	for i := range int(e.n) {
		e.secs[i], e.amts[i] = d.u32(), d.f64()
	}
	for i := range r.nids {
		r.ids[i] = seen{d.u32(), d.u32()}
	}
	if r.parts&partWindows != 0 {
		w := &r.w
		w.head1m, w.head1h, w.head24h = d.u32(), d.u32(), d.u32()
		d.u32s(w.n1m[:])
		d.f64s(w.a1m[:])
		d.u32s(w.n1h[:])
		d.f64s(w.a1h[:])
		d.u32s(w.lg1h[:])
		d.u32s(w.n24h[:])
		d.f64s(w.a24h[:])
	}
	if r.parts&partFailures != 0 {
		r.f.head1h, r.f.head24h = d.u32(), d.u32()
		for k := range nFailureKinds {
			d.u32s(r.f.h1[k][:])
		}
		for k := range nFailureKinds {
			d.u32s(r.f.h24[k][:])
		}
	}
	if r.parts&partSpending != 0 {
		r.sp.head = d.u32()
		d.f64s(r.sp.a[:])
	}
}
