package state

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// The write-ahead log of a writable state file.
//
// A bbolt commit rewrites, and fsyncs twice, every page on the path from
// the root to each leaf it touches: with accounts spread over a large
// file, a commit of a few account states costs some hundred microseconds
// of CPU, paid for every sync write (a verification, an event, an outcome)
// and every async flush. So Commit appends the batch, resolved to plain
// puts and deletes (journal sequence numbers, chain links and index keys
// included), as one record to the log and fdatasyncs it: that is the
// durable write, and the batch is acknowledged then. Its writes are kept
// in memory (boltBackend.pending) and served to reads before the file's;
// a checkpoint (wal_checkpoint.go) applies everything pending to the
// bbolt file in one transaction, seconds of writes at once, and removes
// the log segments it covered.
//
// The log is a sequence of segment files beside the state file, named
// <state file>.wal-<first record's number, 16 hex digits>. A segment starts
// with walMagic and the state file's log ID (BucketMeta walIDKey): a
// segment of another state file (left behind by a removed one) is refused
// at Open, never replayed into the wrong file. Then records:
//
//	u32 payload length | u32 CRC-32C of the payload | payload
//	payload: u64 record number | u64 journal sequence after the record |
//	         uvarint count | count × (u8 bucket | u8 flags (1: delete) |
//	         uvarint key length | key | [uvarint value length | value])
//
// (little endian). Record numbers increase by one across segments.
// Replaying the records after the last checkpoint (the file's wal_seq),
// in order, onto the file gives the state every acknowledged Commit left.
// Segments are removed oldest first, after the checkpoint that covered
// them, so what remains after a crash is the newest part of the log; the
// records in it that the file already holds (up to wal_seq: a checkpoint
// that did not get to remove its segments, or a removal that did not
// reach the disk) are skipped, never replayed over newer values, and the
// first record after wal_seq must be wal_seq+1 (else a segment is
// missing and the file is refused).
//
// A record that is cut short or fails its checksum at the very end of the
// newest segment, with no intact record after it, is a write the crash
// interrupted, never acknowledged: it is dropped. Anywhere else it is
// damage, and the state file is refused.
//
// The newest segment is allocated ahead of its records (walPrealloc, in
// unwritten extents that read as zeros) and records are written in place:
// an fdatasync then has no file size and fewer blocks to commit. On this
// project's ext4 disk one durable commit at a time (BenchmarkCommitSerial)
// took 44-48 µs of CPU and 95-101 µs wall so, against 62-68 µs and
// 126-147 µs with records appended to the file's end. The
// newest segment therefore ends in zeros after its last record, which
// reads as nothing more; a segment is cut to its records and fdatasynced
// before the next is created, so no older segment ends in zeros. Where the
// file system cannot allocate ahead, records are appended.
const (
	walMagic     = "RPDPWAL1"
	walIDLen     = 16
	walHeaderLen = len(walMagic) + walIDLen
	walSuffix    = ".wal-"
	// walMaxRecord bounds a record's payload when reading: a length past it
	// is damage, not a record.
	walMaxRecord = 1 << 30
	// walPrealloc is how much of a segment is allocated ahead of its
	// records (fallocate), and again whenever they reach its end.
	walPrealloc = 4 << 20
)

var (
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
	// walIDKey in BucketMeta holds the state file's log ID.
	walIDKey = []byte("wal_id")
	// walSeqKey in BucketMeta holds the number of the last record a
	// checkpoint applied (8 bytes, big endian).
	walSeqKey = []byte("wal_seq")
)

// walRecord is one decoded record; keys and values alias the bytes it
// was decoded from.
type walRecord struct {
	seq        uint64
	journalSeq uint64
	writes     []Write
}

// appendWALRecord appends the framed record to buf.
func appendWALRecord(buf []byte, seq, journalSeq uint64, writes []Write) []byte {
	start := len(buf)
	buf = append(buf, 0, 0, 0, 0, 0, 0, 0, 0)
	buf = binary.LittleEndian.AppendUint64(buf, seq)
	buf = binary.LittleEndian.AppendUint64(buf, journalSeq)
	buf = binary.AppendUvarint(buf, uint64(len(writes)))
	for _, w := range writes {
		var flags byte
		if w.Delete {
			flags = 1
		}
		buf = append(buf, byte(w.Bucket), flags)
		buf = binary.AppendUvarint(buf, uint64(len(w.Key)))
		buf = append(buf, w.Key...)
		if !w.Delete {
			buf = binary.AppendUvarint(buf, uint64(len(w.Value)))
			buf = append(buf, w.Value...)
		}
	}
	payload := buf[start+8:]
	binary.LittleEndian.PutUint32(buf[start:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(buf[start+4:], crc32.Checksum(payload, castagnoli))
	return buf
}

var errWALRecord = errors.New("malformed log record")

// decodeWALPayload decodes a record's payload (its checksum already
// verified). Keys and values alias p; a value is never nil for a put.
func decodeWALPayload(p []byte) (walRecord, error) {
	var r walRecord
	if len(p) < 17 {
		return r, errWALRecord
	}
	r.seq = binary.LittleEndian.Uint64(p)
	r.journalSeq = binary.LittleEndian.Uint64(p[8:])
	p = p[16:]
	n, k := binary.Uvarint(p)
	if k <= 0 || n > uint64(len(p)) { // a write takes at least 3 bytes
		return r, errWALRecord
	}
	p = p[k:]
	r.writes = make([]Write, 0, n)
	field := func() ([]byte, bool) {
		l, k := binary.Uvarint(p)
		if k <= 0 || l > uint64(len(p)-k) {
			return nil, false
		}
		v := p[k : k+int(l) : k+int(l)]
		p = p[k+int(l):]
		return v, true
	}
	for range n {
		if len(p) < 2 {
			return r, errWALRecord
		}
		w := Write{Bucket: Bucket(p[0])}
		flags := p[1]
		p = p[2:]
		if w.Bucket == 0 || w.Bucket >= numBuckets || flags > 1 {
			return r, errWALRecord
		}
		var ok bool
		if w.Key, ok = field(); !ok || len(w.Key) == 0 {
			return r, errWALRecord
		}
		if flags == 1 {
			w.Delete = true
		} else if w.Value, ok = field(); !ok {
			return r, errWALRecord
		}
		r.writes = append(r.writes, w)
	}
	if len(p) != 0 {
		return r, errWALRecord
	}
	return r, nil
}

// walSegment is a segment file found on disk.
type walSegment struct {
	path  string
	first uint64 // the number in its name
}

// listWALSegments returns the segments of the state file at path, oldest
// first.
func listWALSegments(path string) ([]walSegment, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var segs []walSegment
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), base+walSuffix)
		if !ok || len(rest) != 16 {
			continue
		}
		n, err := strconv.ParseUint(rest, 16, 64)
		if err != nil {
			continue
		}
		segs = append(segs, walSegment{path: filepath.Join(dir, e.Name()), first: n})
	}
	slices.SortFunc(segs, func(a, b walSegment) int { return cmp.Compare(a.first, b.first) })
	return segs, nil
}

func walSegmentPath(path string, first uint64) string {
	return fmt.Sprintf("%s%s%016x", path, walSuffix, first)
}

// readWAL reads every segment of the state file at path whose ID is id,
// checks it and returns its records in order. A segment of another ID, a
// damaged record anywhere but at the end of the newest segment, or a gap
// in the record numbers is an error naming the segment.
func readWAL(path string, id []byte) ([]walRecord, []walSegment, error) {
	segs, err := listWALSegments(path)
	if err != nil {
		return nil, nil, fmt.Errorf("write-ahead log: %w", err)
	}
	var recs []walRecord
	for i, sg := range segs {
		data, err := os.ReadFile(sg.path)
		if err != nil {
			return nil, nil, fmt.Errorf("write-ahead log %s: %w", sg.path, err)
		}
		last := i == len(segs)-1
		rs, err := parseWALSegment(data, id, sg.first, last)
		if err != nil {
			return nil, nil, fmt.Errorf("write-ahead log %s: %w", sg.path, err)
		}
		for _, r := range rs {
			if n := len(recs); n > 0 && r.seq != recs[n-1].seq+1 {
				return nil, nil, fmt.Errorf("write-ahead log %s: record %d follows record %d (a segment is missing or damaged)", sg.path, r.seq, recs[n-1].seq)
			}
			if len(recs) == 0 && r.seq < sg.first {
				return nil, nil, fmt.Errorf("write-ahead log %s: record %d before the segment's first %d", sg.path, r.seq, sg.first)
			}
			recs = append(recs, r)
		}
	}
	return recs, segs, nil
}

// parseWALSegment checks a segment's header and decodes its records
// (first: the number in the segment's name). In the newest segment (last)
// a damaged record that reaches the end of the data, or is followed only
// by zeros, and after whose start no intact record follows, is a torn
// append and ends the segment; anything else damaged is an error.
//
// Every record is fdatasynced before the next is written, so what a crash
// leaves after a torn record is its own bytes or zeros: an intact record
// behind a damaged one means the damaged one was acknowledged once (a
// length damaged in the middle of the segment reaches past its end like a
// torn record's), and the records after it must not be dropped.
func parseWALSegment(data, id []byte, first uint64, last bool) ([]walRecord, error) {
	if last && headerBeingWritten(data, append([]byte(walMagic), id...)) {
		// The newest segment's header was being written (a record is
		// appended only once the header is durable): it holds nothing.
		return nil, nil
	}
	if len(data) < walHeaderLen {
		return nil, fmt.Errorf("damaged header (%d bytes)", len(data))
	}
	if string(data[:len(walMagic)]) != walMagic {
		return nil, errors.New("not a write-ahead log segment of a state file")
	}
	if !bytes.Equal(data[len(walMagic):walHeaderLen], id) {
		return nil, errors.New("the segment belongs to another state file (left behind by a removed one?): remove it, or restore the state file it belongs to")
	}
	var recs []walRecord
	for off := walHeaderLen; off < len(data); {
		rest := data[off:]
		var (
			n   uint64
			bad string
			end = len(rest) // where the damaged record ends
		)
		switch {
		case len(rest) < 8:
			bad = "cut short"
		default:
			n = uint64(binary.LittleEndian.Uint32(rest))
			switch {
			case n < 17 || n > walMaxRecord:
				bad, end = fmt.Sprintf("impossible length %d", n), 8
			case n > uint64(len(rest)-8):
				bad = "cut short"
			case crc32.Checksum(rest[8:8+n], castagnoli) != binary.LittleEndian.Uint32(rest[4:]):
				bad, end = "checksum mismatch", 8+int(n)
			}
		}
		if bad != "" {
			next := first
			if len(recs) > 0 {
				next = recs[len(recs)-1].seq + 1
			}
			if last && isZero(rest[end:]) {
				if seq, ok := walIntactAfter(rest, next); ok {
					return nil, fmt.Errorf("record at byte %d: %s, and record %d follows intact: damage, not a torn append", off, bad, seq)
				}
				return recs, nil // torn: nothing but zeros after it
			}
			return nil, fmt.Errorf("record at byte %d: %s", off, bad)
		}
		r, err := decodeWALPayload(rest[8 : 8+n])
		if err != nil {
			return nil, fmt.Errorf("record at byte %d: %w", off, err)
		}
		recs = append(recs, r)
		off += 8 + int(n)
	}
	return recs, nil
}

// headerBeingWritten reports whether data is what a crash can leave of a
// segment whose header hdr was being written: shorter than hdr, or as long
// but not hdr itself, each byte hdr's or a zero the file system extended
// the file with. Another state file's header, whole or in part, is not:
// it is refused as such, not taken for an empty segment and removed.
func headerBeingWritten(data, hdr []byte) bool {
	if len(data) > len(hdr) || bytes.Equal(data, hdr) {
		return false
	}
	for i, c := range data {
		if c != 0 && c != hdr[i] {
			return false
		}
	}
	return true
}

// walIntactAfter reports whether an intact record numbered next or later
// starts anywhere in rest after its first byte (rest begins at a damaged
// record numbered next), and its number.
func walIntactAfter(rest []byte, next uint64) (uint64, bool) {
	const minFrame = 8 + 17
	for q := 1; q+minFrame <= len(rest); q++ {
		n := uint64(binary.LittleEndian.Uint32(rest[q:]))
		if n < 17 || n > uint64(len(rest)-q-8) {
			continue
		}
		// A record numbered next+k lies at least k frames further on.
		seq := binary.LittleEndian.Uint64(rest[q+8:])
		if seq < next || seq-next > uint64(len(rest)/minFrame) {
			continue
		}
		p := rest[q+8 : q+8+int(n)]
		if crc32.Checksum(p, castagnoli) != binary.LittleEndian.Uint32(rest[q+4:]) {
			continue
		}
		if _, err := decodeWALPayload(p); err == nil {
			return seq, true
		}
	}
	return 0, false
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// walSync makes an appended record durable (a variable for tests).
var walSync = fdatasync

// walFallocate allocates a segment ahead (a variable for tests).
var walFallocate = fallocate

// walog is the open, newest segment a writable backend appends to.
type walog struct {
	path  string // the state file
	id    []byte
	f     *os.File
	seg   walSegment
	size  int64 // bytes of the segment's header and records
	alloc int64 // bytes allocated (≥ size; the rest reads as zeros)
	// noAlloc is set once allocating ahead failed (allocate).
	noAlloc bool
	seq     uint64 // the last record appended (or replayed)
	// closed are the segments before f, oldest first, whose records a
	// checkpoint has not yet applied and removed.
	closed []walSegment
	// broken is set when an append failed in a way that leaves the log's
	// end in doubt: every later append fails with it (restart to recover).
	broken error
}

// newWALID returns a fresh log ID.
func newWALID() []byte {
	id := make([]byte, walIDLen)
	_, _ = rand.Read(id)
	return id
}

// openSegment creates the segment whose first record is first and makes
// its name durable.
func (w *walog) openSegment(first uint64) error {
	p := walSegmentPath(w.path, first)
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	hdr := append([]byte(walMagic), w.id...)
	if _, err := f.Write(hdr); err != nil {
		_ = f.Close()
		_ = os.Remove(p)
		return err
	}
	if err := fdatasync(f); err != nil {
		_ = f.Close()
		_ = os.Remove(p)
		return err
	}
	if err := syncDir(filepath.Dir(p)); err != nil {
		_ = f.Close()
		_ = os.Remove(p)
		return err
	}
	w.f, w.seg, w.size = f, walSegment{path: p, first: first}, int64(len(hdr))
	w.alloc = w.size
	w.allocate(0)
	return nil
}

// allocate allocates the segment ahead of its records for one more of n
// bytes (0: a new segment), walPrealloc at a time. It is an optimization
// only: once the file system refuses (no fallocate there, or no space),
// records are written past the file's end, as without it, until restart.
func (w *walog) allocate(n int) {
	if w.noAlloc || (n > 0 && w.size+int64(n) <= w.alloc) {
		return
	}
	size := w.size + int64(n) + walPrealloc
	if err := walFallocate(w.f, size); err != nil {
		w.noAlloc = true
		return
	}
	w.alloc = size
}

// append writes rec (one framed record numbered w.seq+1) and makes it
// durable. On an error the record is not acknowledged; the end of the log
// is restored, or, when that cannot be vouched for, the log is broken.
func (w *walog) append(rec []byte) error {
	if w.broken != nil {
		return w.broken
	}
	w.allocate(len(rec))
	n, err := w.f.WriteAt(rec, w.size)
	if err == nil {
		if err = walSync(w.f); err == nil {
			w.size += int64(n)
			w.seq++
			return nil
		}
		// After a failed fdatasync the kernel may have dropped the record's
		// pages and forgotten the error: cut the record off (what is
		// before it was durable already) and go on in a new segment.
		if terr := w.undo(true); terr != nil {
			w.broken = fmt.Errorf("write-ahead log %s: fdatasync failed and the record could not be cut off (%v), writes refused until restart: %w", w.seg.path, terr, err)
			return w.broken
		}
		return fmt.Errorf("write-ahead log %s: fdatasync: %w", w.seg.path, err)
	}
	if n > 0 {
		if terr := w.undo(false); terr != nil {
			w.broken = fmt.Errorf("write-ahead log %s: a failed append could not be undone (%v), writes refused until restart: %w", w.seg.path, terr, err)
			return w.broken
		}
	}
	return fmt.Errorf("write-ahead log %s: %w", w.seg.path, err)
}

// undo cuts a failed append off the segment; after a failed fdatasync
// (synced) the cut is made durable and the segment closed for a new one.
func (w *walog) undo(synced bool) error {
	if err := w.f.Truncate(w.size); err != nil {
		return err
	}
	w.alloc = w.size
	if !synced {
		return nil
	}
	if err := fdatasync(w.f); err != nil {
		return err
	}
	if w.size == int64(walHeaderLen) {
		return nil // no record in it: the next goes where this one failed
	}
	return w.rotate()
}

// rotate closes the current segment, if it holds records, into closed and
// opens the next.
func (w *walog) rotate() error {
	if w.broken != nil {
		return w.broken
	}
	if w.size == int64(walHeaderLen) {
		return nil
	}
	old := w.f
	oldSeg := w.seg
	// Cut the allocation ahead off, durably, before a newer segment
	// exists: only the newest may end in zeros.
	if err := w.trim(); err != nil {
		return fmt.Errorf("write-ahead log %s: %w", oldSeg.path, err)
	}
	if err := w.openSegment(w.seq + 1); err != nil {
		return fmt.Errorf("write-ahead log: new segment: %w", err)
	}
	_ = old.Close() // every record in it was fdatasynced
	w.closed = append(w.closed, oldSeg)
	return nil
}

// removeClosed removes the first n closed segments, oldest first, stopping
// at the first that cannot be removed (it is replayed, harmlessly, at the
// next Open).
func (w *walog) removeClosed(n int) {
	w.closed = w.closed[removeSegments(w.closed[:n]):]
}

// removeSegments removes segs in order, stopping at the first that cannot
// be removed, and returns how many it removed.
func removeSegments(segs []walSegment) int {
	for i, sg := range segs {
		if err := os.Remove(sg.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return i
		}
	}
	return len(segs)
}

// trim cuts the segment to its records and makes that durable.
func (w *walog) trim() error {
	if w.alloc == w.size {
		return nil
	}
	if err := w.f.Truncate(w.size); err != nil {
		return err
	}
	if err := fdatasync(w.f); err != nil {
		return err
	}
	w.alloc = w.size
	return nil
}

func (w *walog) close() error {
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}
