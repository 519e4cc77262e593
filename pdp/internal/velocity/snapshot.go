package velocity

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
)

// Snapshot format, version 1. All integers little-endian, floats IEEE 754.
//
//	header  magic "RPDPVELO" | version u16 | hash key k0 u64, k1 u64
//	entry   tag 1 | hash u64 | last u32 | n u8 | login u8 | nids u8 | parts u8
//	        n × (sec u32, amount f64)           small-mode events, oldest first
//	        nids × (id u32, sec u32)            distinct ids (at most SetCap)
//	        parts&1: windows  heads 3×u32, n1m 13×u32, a1m 13×f64, n1h 13×u32,
//	                          a1h 13×f64, l1h 13×u32, n24h 25×u32, a24h 25×f64
//	        parts&2: failures heads 2×u32, 3×13×u32 (1h), 3×25×u32 (24h)
//	        parts&4: spending head u32, 25×f64
//	trailer tag 0 | entries u64 | latest u32 | CRC-32C u32 of all bytes before it
//
// The hash key is part of the snapshot because entries are stored by hash:
// a restored tracker must hash ids the way the one that wrote it did.
const (
	snapshotMagic   = "RPDPVELO"
	snapshotVersion = 1

	tagEnd   = 0
	tagEntry = 1

	partWindows  = 1
	partFailures = 2
	partSpending = 4
	partsKnown   = partWindows | partFailures | partSpending

	snapshotBatch = 512 // entries encoded per lock hold
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors of Restore; the returned errors wrap one of them with details.
var (
	ErrSnapshotVersion = errors.New("velocity: unsupported snapshot version")
	ErrSnapshotCorrupt = errors.New("velocity: corrupt snapshot")
	ErrNotEmpty        = errors.New("velocity: restore into a tracker that already holds keys")
)

// Snapshot writes every key to w so that Restore can rebuild the windows
// after a restart. Each shard is locked for snapshotBatch entries at a time,
// so a snapshot taken while requests flow is consistent per key, not across
// keys: a key created or evicted during the snapshot may be missing or
// appear twice (Restore keeps the newer copy). Write it at shutdown, after
// the last request, for an exact copy.
func (t *Tracker) Snapshot(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	var crc uint32
	write := func(b []byte) error {
		crc = crc32.Update(crc, castagnoli, b)
		_, err := bw.Write(b)
		return err
	}
	buf := make([]byte, 0, 64<<10)
	buf = append(buf, snapshotMagic...)
	buf = binary.LittleEndian.AppendUint16(buf, snapshotVersion)
	buf = binary.LittleEndian.AppendUint64(buf, t.seed.k0)
	buf = binary.LittleEndian.AppendUint64(buf, t.seed.k1)
	if err := write(buf); err != nil {
		return fmt.Errorf("velocity: write snapshot: %w", err)
	}
	var count uint64
	for i := range t.shards {
		s := &t.shards[i]
		for from, done := int32(1), false; !done; from += snapshotBatch {
			buf = buf[:0]
			s.mu.Lock()
			end := min(from+snapshotBatch, s.entries.n+1)
			for j := from; j < end; j++ {
				if e := s.entries.at(j); e.last != 0 {
					buf = s.appendEntry(buf, e)
					count++
				}
			}
			done = end > s.entries.n
			s.mu.Unlock()
			if err := write(buf); err != nil {
				return fmt.Errorf("velocity: write snapshot: %w", err)
			}
		}
	}
	buf = append(buf[:0], tagEnd)
	buf = binary.LittleEndian.AppendUint64(buf, count)
	buf = binary.LittleEndian.AppendUint32(buf, t.latest.Load())
	if err := write(buf); err != nil {
		return fmt.Errorf("velocity: write snapshot: %w", err)
	}
	buf = binary.LittleEndian.AppendUint32(buf[:0], crc)
	if _, err := bw.Write(buf); err != nil {
		return fmt.Errorf("velocity: write snapshot: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("velocity: write snapshot: %w", err)
	}
	return nil
}

func (s *shard) appendEntry(b []byte, e *entry) []byte {
	le := binary.LittleEndian
	ids := s.ids(e)
	var parts uint8
	if e.win != 0 {
		parts |= partWindows
	}
	if e.fail != 0 {
		parts |= partFailures
	}
	if e.spend != 0 {
		parts |= partSpending
	}
	b = append(b, tagEntry)
	b = le.AppendUint64(b, e.hash)
	b = le.AppendUint32(b, e.last)
	b = append(b, e.n, e.login, uint8(len(ids)), parts)
	for i := range int(e.n) {
		b = le.AppendUint32(b, e.secs[i])
		b = le.AppendUint64(b, math.Float64bits(e.amts[i]))
	}
	for _, id := range ids {
		b = le.AppendUint32(b, id.id)
		b = le.AppendUint32(b, id.sec)
	}
	if e.win != 0 {
		w := s.wins.at(e.win)
		b = appendU32s(b, w.head1m, w.head1h, w.head24h)
		b = appendU32s(b, w.n1m[:]...)
		b = appendF64s(b, w.a1m[:])
		b = appendU32s(b, w.n1h[:]...)
		b = appendF64s(b, w.a1h[:])
		b = appendU32s(b, w.lg1h[:]...)
		b = appendU32s(b, w.n24h[:]...)
		b = appendF64s(b, w.a24h[:])
	}
	if e.fail != 0 {
		f := s.fails.at(e.fail)
		b = appendU32s(b, f.head1h, f.head24h)
		for k := range nFailureKinds {
			b = appendU32s(b, f.h1[k][:]...)
		}
		for k := range nFailureKinds {
			b = appendU32s(b, f.h24[k][:]...)
		}
	}
	if e.spend != 0 {
		sp := s.spends.at(e.spend)
		b = appendU32s(b, sp.head)
		b = appendF64s(b, sp.a[:])
	}
	return b
}

func appendU32s(b []byte, v ...uint32) []byte {
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, x)
	}
	return b
}

func appendF64s(b []byte, v []float64) []byte {
	for _, x := range v {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	}
	return b
}
