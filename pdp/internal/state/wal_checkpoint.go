package state

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Checkpoints (see wal.go): a background goroutine applies the log's
// pending writes to the bbolt file every walCheckpointEvery, or sooner
// once walCheckpointWrites keys or walCheckpointBytes of log are pending.
// Past walStall times either bound a Commit checkpoints itself before it
// appends (a checkpoint slower than the writes it must absorb holds the
// writers back instead of growing memory without end), and fails when
// that checkpoint fails.
//
// The bounds are small so that each checkpoint is short: see the package
// documentation for what two seconds and 2^15 keys cost the tail.
const (
	walCheckpointEvery  = 250 * time.Millisecond
	walCheckpointWrites = 1 << 12
	walCheckpointBytes  = 64 << 20
	walStall            = 4
)

// pendingWrite is a key's newest write in the log not yet in the file.
type pendingWrite struct {
	value []byte // aliases its log record; never nil for a put
	del   bool
	seq   uint64 // the record that wrote it
}

// get is the value a read returns: nil for a delete.
func (p pendingWrite) get() []byte {
	if p.del {
		return nil
	}
	return p.value
}

// walState is a boltBackend's log and its pending writes.
type walState struct {
	// wal is nil for a read-only file: pending then holds what the log
	// of a sidecar that did not stop cleanly holds, replayed in memory.
	wal *walog
	// cmu serializes Commit's appends with a checkpoint's cut of the log;
	// journalSeq (the last journal sequence given) is under it.
	cmu        sync.Mutex
	journalSeq uint64
	// mu guards pending; readers hold it across their bbolt read, so
	// that a read sees a key either pending or, once a checkpoint has
	// dropped it from pending, in the file.
	mu      sync.RWMutex
	pending [numBuckets]map[string]pendingWrite
	// npending counts pending's keys; logged the log bytes since the last
	// checkpoint's cut (both read without locks by the triggers).
	npending, logged atomic.Int64

	// ckmu runs one checkpoint at a time and guards ckFailUntil.
	ckmu sync.Mutex
	// errMu guards ckErr and ckErrAt apart from ckmu, so that Stats (a
	// readiness probe, a metrics scrape) never waits for a checkpoint.
	errMu                 sync.Mutex
	ckErr                 error
	ckErrAt               time.Time
	ckFailUntil           time.Time
	checkpoints, ckErrors atomic.Uint64
	ckLast                atomic.Int64 // unix nanoseconds of the last checkpoint
	wake                  chan struct{}
	quit, done            chan struct{}
	closed                atomic.Bool // closeWAL ran
}

// setPending records w, written by record seq (under mu).
func (s *walState) setPending(w Write, seq uint64) {
	m := s.pending[w.Bucket]
	if m == nil {
		m = make(map[string]pendingWrite)
		s.pending[w.Bucket] = m
	}
	k := string(w.Key)
	if _, ok := m[k]; !ok {
		s.npending.Add(1)
	}
	m[k] = pendingWrite{value: w.Value, del: w.Delete, seq: seq}
}

// fold makes the records' writes pending, in order.
func (s *walState) fold(recs []walRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		for _, w := range r.writes {
			s.setPending(w, r.seq)
		}
	}
}

// pendingOf returns key's pending write, if any.
func (s *walState) pendingOf(bk Bucket, key []byte) (pendingWrite, bool) {
	s.mu.RLock()
	p, ok := s.pending[bk][string(key)]
	s.mu.RUnlock()
	return p, ok
}

// cutWrite is one pending write taken by a checkpoint.
type cutWrite struct {
	bucket Bucket
	key    string
	p      pendingWrite
}

// cut copies every pending write, in bucket and key order (bbolt inserts
// in key order cheaply).
func (s *walState) cut() []cutWrite {
	s.mu.RLock()
	out := make([]cutWrite, 0, s.npending.Load())
	for bk, m := range s.pending {
		for k, p := range m {
			out = append(out, cutWrite{Bucket(bk), k, p})
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b cutWrite) int {
		if a.bucket != b.bucket {
			return int(a.bucket) - int(b.bucket)
		}
		return strings.Compare(a.key, b.key)
	})
	return out
}

// drop removes the cut's writes from pending, unless a later record wrote
// the key again.
func (s *walState) drop(cut []cutWrite) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range cut {
		if p, ok := s.pending[w.bucket][w.key]; ok && p.seq == w.p.seq {
			delete(s.pending[w.bucket], w.key)
			s.npending.Add(-1)
		}
	}
}

// scanPending returns the pending writes of bk under prefix from from on,
// in key order.
func (s *walState) scanPending(bk Bucket, prefix, from []byte) []cutWrite {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []cutWrite
	for k, p := range s.pending[bk] {
		if strings.HasPrefix(k, string(prefix)) && k >= string(from) {
			out = append(out, cutWrite{bk, k, p})
		}
	}
	slices.SortFunc(out, func(a, b cutWrite) int { return strings.Compare(a.key, b.key) })
	return out
}

// applyCut writes the cut to the file in one transaction, with the
// journal's sequence and the number of the last record it covers.
func (b *boltBackend) applyCut(cut []cutWrite, upTo, journalSeq uint64) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer guard(&err)
	return b.db.Update(func(tx *bolt.Tx) error {
		var bks [numBuckets]*bolt.Bucket
		for bk := Bucket(1); bk < numBuckets; bk++ {
			bb, err := b.bucket(tx, bk)
			if err != nil {
				return err
			}
			bks[bk] = bb
		}
		// The journal only grows at its end (sequence keys): full pages
		// instead of bbolt's half-full splits halve its size on disk.
		bks[BucketJournal].FillPercent = 0.95
		for _, w := range cut {
			var err error
			if w.p.del {
				err = bks[w.bucket].Delete([]byte(w.key))
			} else {
				err = bks[w.bucket].Put([]byte(w.key), w.p.value)
			}
			if err != nil {
				return fmt.Errorf("checkpoint %s: %w", w.bucket, err)
			}
		}
		if jb := bks[BucketJournal]; journalSeq > jb.Sequence() {
			if err := jb.SetSequence(journalSeq); err != nil {
				return err
			}
		}
		return bks[BucketMeta].Put(walSeqKey, binary.BigEndian.AppendUint64(nil, upTo))
	})
}

// checkpoint applies every pending write to the file and removes the log
// segments it covered. Commits go on meanwhile (into a new segment).
func (b *boltBackend) checkpoint() error {
	s := &b.ws
	s.ckmu.Lock()
	defer s.ckmu.Unlock()
	s.cmu.Lock()
	if s.npending.Load() == 0 && len(s.wal.closed) == 0 && s.wal.size == int64(walHeaderLen) {
		s.cmu.Unlock()
		s.ckLast.Store(time.Now().UnixNano())
		return nil
	}
	if err := s.wal.rotate(); err != nil {
		s.cmu.Unlock()
		return s.checkpointFailed(err)
	}
	// closed only grows at its end (a rotate under cmu, also a Commit's
	// after a failed fdatasync) and shrinks at its start (here, under
	// ckmu): the covered segments stay its first len(covered).
	covered := slices.Clone(s.wal.closed)
	upTo, journalSeq := s.wal.seq, s.journalSeq
	s.logged.Store(0)
	cut := s.cut()
	s.cmu.Unlock()
	if err := b.applyCut(cut, upTo, journalSeq); err != nil {
		return s.checkpointFailed(fmt.Errorf("checkpoint of the write-ahead log into %s: %w", b.path, err))
	}
	s.drop(cut)
	removed := removeSegments(covered)
	s.cmu.Lock()
	s.wal.closed = s.wal.closed[removed:]
	s.cmu.Unlock()
	s.ckFailUntil = time.Time{}
	s.ckLast.Store(time.Now().UnixNano())
	s.checkpoints.Add(1)
	return nil
}

// checkpointFailed records err (under ckmu): background checkpoints pause
// for a second; the writes stay pending and in the log.
func (s *walState) checkpointFailed(err error) error {
	now := time.Now()
	s.ckFailUntil = now.Add(time.Second)
	s.errMu.Lock()
	s.ckErr, s.ckErrAt = err, now
	s.errMu.Unlock()
	s.ckErrors.Add(1)
	return err
}

// walStats fills the log's part of Stats.
func (b *boltBackend) walStats(st *Stats) {
	s := &b.ws
	st.LogPending = s.npending.Load()
	st.Checkpoints, st.CheckpointErrors = s.checkpoints.Load(), s.ckErrors.Load()
	s.errMu.Lock()
	if s.ckErr != nil {
		st.LastCheckpointError, st.LastCheckpointErrorAt = s.ckErr.Error(), s.ckErrAt
	}
	s.errMu.Unlock()
}

// overStall reports whether the pending writes are past the stall bound.
func (s *walState) overStall() bool {
	return s.npending.Load() >= walStall*walCheckpointWrites || s.logged.Load() >= walStall*walCheckpointBytes
}

// checkpointDue reports whether a background checkpoint is due.
func (s *walState) checkpointDue() bool {
	return s.npending.Load() >= walCheckpointWrites || s.logged.Load() >= walCheckpointBytes
}

// checkpointLoop runs background checkpoints until quit.
func (b *boltBackend) checkpointLoop() {
	s := &b.ws
	defer close(s.done)
	t := time.NewTicker(walCheckpointEvery / 4)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-s.wake:
		case <-t.C:
			if time.Since(time.Unix(0, s.ckLast.Load())) < walCheckpointEvery && !s.checkpointDue() {
				continue
			}
		}
		s.ckmu.Lock()
		paused := time.Now().Before(s.ckFailUntil)
		s.ckmu.Unlock()
		if !paused {
			_ = b.checkpoint() // kept in ckErr; the writes stay in the log
		}
	}
}

// commitWAL appends batch to the log (Commit on a writable file).
func (b *boltBackend) commitWAL(batch *Batch) (first uint64, err error) {
	s := &b.ws
	if s.overStall() {
		if err := b.checkpoint(); err != nil && s.overStall() {
			return 0, fmt.Errorf("state file %s: %d writes wait for a checkpoint that fails: %w", b.path, s.npending.Load(), err)
		}
	}
	s.cmu.Lock()
	first, err = b.appendBatch(batch)
	s.cmu.Unlock()
	if err == nil && s.checkpointDue() {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
	return first, err
}

// appendBatch resolves batch to plain writes (journal sequence numbers,
// chain links, index keys), appends them as one durable record and makes
// them pending (under cmu).
func (b *boltBackend) appendBatch(batch *Batch) (first uint64, err error) {
	s := &b.ws
	// What bbolt would refuse must fail here, before it is logged: once
	// acknowledged, every checkpoint and every replay at Open would fail
	// on it (and the log's decoder refuses an empty key).
	for _, w := range batch.Writes {
		if len(w.Key) == 0 || len(w.Key) > bolt.MaxKeySize {
			return 0, fmt.Errorf("commit %s: a key of %d bytes (1 to %d)", w.Bucket, len(w.Key), bolt.MaxKeySize)
		}
		if !w.Delete && len(w.Value) > bolt.MaxValueSize {
			return 0, fmt.Errorf("commit %s: a value of %d bytes (at most %d)", w.Bucket, len(w.Value), bolt.MaxValueSize)
		}
	}
	// Before the write is visible: a reader never finds a key absent from
	// the filter that the file or the log holds.
	for _, w := range batch.Writes {
		switch {
		case w.Delete:
		case w.Bucket == BucketLists:
			b.lists.add(w.Key)
		case w.Bucket == BucketVerifications:
			if uid, _, ok := splitVerificationKey(w.Key); ok {
				b.verifiers.add(uid)
			}
		}
	}
	writes := make([]Write, 0, len(batch.Writes)+3*len(batch.Journal)+1)
	writes = append(writes, batch.Writes...)
	journalSeq := s.journalSeq
	var index []Write
	for i, j := range batch.Journal {
		journalSeq++
		if i == 0 {
			first = journalSeq
		}
		writes = append(writes, Write{Bucket: BucketJournal, Key: seqKey(journalSeq), Value: j.Record})
		if j.UID != "" {
			index = append(index, Write{Bucket: BucketJournalByUID, Key: journalUIDKey(j.UID, journalSeq), Value: []byte{}})
		}
	}
	if len(batch.Journal) > 0 {
		// The chain (chain.go): one writer, so the head read here is the
		// head this batch follows.
		head, err := b.lookup(BucketMeta, chainHeadKey)
		if err != nil {
			return 0, err
		}
		chain, err := ChainWrites(head, first, batch.Journal)
		if err != nil {
			return 0, err
		}
		writes = append(writes, chain...)
	}
	writes = append(writes, index...)
	size := 8 + 16 + binary.MaxVarintLen64
	for _, w := range writes {
		size += 2 + 2*binary.MaxVarintLen32 + len(w.Key) + len(w.Value)
	}
	rec := appendWALRecord(make([]byte, 0, size), s.wal.seq+1, journalSeq, writes)
	if len(rec)-8 > walMaxRecord {
		return 0, fmt.Errorf("commit: a batch of %d bytes (the log takes at most %d)", len(rec)-8, walMaxRecord)
	}
	if err := s.wal.append(rec); err != nil {
		return 0, err
	}
	s.journalSeq = journalSeq
	s.logged.Add(int64(len(rec)))
	// Pending writes alias the record, not the caller's buffers.
	r, err := decodeWALPayload(rec[8:])
	if err != nil {
		panic(fmt.Sprintf("state: a log record does not decode: %v", err))
	}
	s.mu.Lock()
	for _, w := range r.writes {
		s.setPending(w, r.seq)
	}
	s.mu.Unlock()
	return first, nil
}

// lookup reads one key, pending write first (a copy, or nil when absent).
func (b *boltBackend) lookup(bk Bucket, key []byte) (v []byte, err error) {
	if p, ok := b.ws.pendingOf(bk, key); ok {
		return bytes.Clone(p.get()), nil
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer guard(&err)
	err = b.db.View(func(tx *bolt.Tx) error {
		bb, err := b.bucket(tx, bk)
		if err != nil {
			return err
		}
		v = bytes.Clone(bb.Get(key))
		return nil
	})
	return v, err
}

// startWAL replays the log into the file (a writable one) or into memory
// (read-only), then, writable, opens a new segment and starts the
// checkpoints.
func (b *boltBackend) startWAL() error {
	var id []byte
	var walSeq, journalSeq uint64
	err := b.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket([]byte(BucketMeta.String()))
		id = bytes.Clone(meta.Get(walIDKey))
		if v := meta.Get(walSeqKey); len(v) == 8 {
			walSeq = binary.BigEndian.Uint64(v)
		}
		if jb := tx.Bucket([]byte(BucketJournal.String())); jb != nil {
			journalSeq = jb.Sequence()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if id == nil { // a file written before the log: no segment can be its
		if b.readOnly {
			return nil
		}
		return fmt.Errorf("no write-ahead log ID")
	}
	recs, segs, err := readWAL(b.path, id)
	if err != nil {
		return err
	}
	// Records up to the file's checkpoint (walSeq) are in the file
	// already: a segment of them left behind (a removal that did not
	// reach the disk) must not be replayed over newer values. The first
	// record after the checkpoint is walSeq+1, or a segment is missing.
	newer := recs
	for len(newer) > 0 && newer[0].seq <= walSeq {
		newer = newer[1:]
	}
	if len(newer) > 0 && newer[0].seq != walSeq+1 {
		return fmt.Errorf("write-ahead log: record %d follows the file's checkpoint of record %d (a segment is missing, or the state file is older than its log)", newer[0].seq, walSeq)
	}
	s := &b.ws
	s.fold(newer)
	for _, r := range recs {
		walSeq = max(walSeq, r.seq)
		journalSeq = max(journalSeq, r.journalSeq)
	}
	if b.readOnly {
		return nil
	}
	if len(newer) > 0 {
		if err := b.applyCut(s.cut(), walSeq, journalSeq); err != nil {
			return fmt.Errorf("replaying the write-ahead log: %w", err)
		}
		s.drop(s.cut())
	}
	s.wal = &walog{path: b.path, id: id, seq: walSeq, closed: segs}
	s.wal.removeClosed(len(segs))
	if len(s.wal.closed) > 0 {
		return fmt.Errorf("write-ahead log: segment %s was replayed but cannot be removed", s.wal.closed[0].path)
	}
	if err := s.wal.openSegment(walSeq + 1); err != nil {
		return fmt.Errorf("write-ahead log: %w", err)
	}
	s.journalSeq = journalSeq
	s.ckLast.Store(time.Now().UnixNano())
	s.wake, s.quit, s.done = make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
	go b.checkpointLoop()
	return nil
}

// closeWAL stops the checkpoints, applies what is pending and removes the
// log; what a failed final checkpoint leaves stays in the log for the next
// Open.
func (b *boltBackend) closeWAL() error {
	s := &b.ws
	// The checkpoint goroutine changes s.wal's fields until it stops:
	// only the flag tells a second Close.
	if s.wal == nil || s.closed.Swap(true) {
		return nil
	}
	close(s.quit)
	<-s.done
	err := b.checkpoint()
	seg, empty := s.wal.seg.path, s.wal.size == int64(walHeaderLen)
	if cerr := s.wal.close(); err == nil {
		err = cerr
	}
	if err == nil && empty {
		err = os.Remove(seg)
	}
	return err
}
