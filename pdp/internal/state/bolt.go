package state

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// formatKey in BucketMeta holds formatVersion; a file without it is not a
// state file, one with another value is refused.
var (
	formatKey     = []byte("format")
	formatVersion = []byte("riskpdp-state/1")
	openedKey     = []byte("opened")
)

// errNoBucket: a read-only file lacks a bucket (it is older than the
// bucket); reads find nothing in it.
var errNoBucket = errors.New("bucket missing")

// scanChunk is how many keys Scan copies out of one read transaction. A
// long-lived bbolt read transaction blocks a writer that must grow the
// memory map, so scans never hold one while their callback runs.
const scanChunk = 512

type boltBackend struct {
	db       *bolt.DB
	path     string
	readOnly bool
	// lists holds every key written to BucketLists since the file was
	// opened (and those it held then): a lookup of keys it does not hold,
	// most reputation reads, needs no read transaction. bbolt's file lock
	// makes this process the file's only writer. Nil for a read-only file.
	lists *keyFilter
	// verifiers holds the UID of every key written to
	// BucketVerifications since the file was opened (and of those it held
	// then): a verification read for any other UID, most of them, needs no
	// read transaction either. Keyed by UID rather than by key, it grows
	// with the customers who ever verified, not with every verification
	// (swept ones stay in as false positives). Nil for a read-only file.
	verifiers *keyFilter
	// ws is the write-ahead log and the writes it holds that the file
	// does not yet (wal.go).
	ws walState
}

var _ Backend = (*boltBackend)(nil)

// OpenBolt opens the state file at path, creating it if it does not exist,
// and returns it as a Backend. lockTimeout bounds the wait for the file lock
// held by another process (0 waits forever).
//
// It refuses, with an error naming the file and the cause, anything it
// cannot vouch for rather than start empty: a file that is empty, is not a
// bbolt file, fails its checksums, is truncated, carries another format
// version, cannot be read or cannot be written (a write transaction is
// committed before OpenBolt returns). A new file is built under a temporary
// name and renamed into place, so a crash during creation never leaves an
// empty file at path.
func OpenBolt(path string, lockTimeout time.Duration) (Backend, error) {
	info, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := createBolt(path, lockTimeout); err != nil {
			return nil, fmt.Errorf("create state file %s: %w", path, err)
		}
		if info, err = os.Stat(path); err != nil {
			return nil, fmt.Errorf("state file %s: %w", path, err)
		}
	case err != nil:
		return nil, fmt.Errorf("state file %s: %w", path, err)
	case info.IsDir():
		return nil, fmt.Errorf("state file %s is a directory", path)
	case info.Size() == 0:
		return nil, fmt.Errorf("state file %s is empty (truncated?); refusing to start without state: restore it or remove it to start afresh", path)
	}
	db, err := openBoltFile(path, lockTimeout)
	if err != nil {
		return nil, fmt.Errorf("open state file %s: %w", path, err)
	}
	b := &boltBackend{db: db, path: path}
	if err := b.verify(info.Size()); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	if err := b.startWAL(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	if err := b.buildFilters(); err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	return b, nil
}

// buildFilters builds the filters of BucketLists' keys and of
// BucketVerifications' UIDs.
func (b *boltBackend) buildFilters() (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer guard(&err)
	return b.db.View(func(tx *bolt.Tx) error {
		bb, err := b.bucket(tx, BucketLists)
		if err != nil {
			return err
		}
		f := newKeyFilter(uint(bb.Stats().KeyN))
		c := bb.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			f.add(k)
		}
		if bb, err = b.bucket(tx, BucketVerifications); err != nil {
			return err
		}
		v := newKeyFilter(uint(bb.Stats().KeyN))
		c = bb.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if uid, _, ok := splitVerificationKey(k); ok {
				v.add(uid)
			}
		}
		b.lists, b.verifiers = f, v
		return nil
	})
}

// openBoltFile opens the file with faults on its memory map turned into
// panics and recovered: bbolt reads pages through mmap, and a page beyond
// the end of a truncated file raises SIGBUS, which would otherwise kill the
// process.
//
// Every page the buckets reach is read first, here: without a synced
// freelist bbolt rebuilds it at Open by walking the file on a goroutine of
// its own, where a damaged page would be a panic nothing can recover.
func openBoltFile(path string, lockTimeout time.Duration) (db *bolt.DB, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			db, err = nil, fmt.Errorf("damaged file: a page could not be read (truncated or corrupt): %v", p)
		}
	}()
	if err := readAllPages(path, lockTimeout); err != nil {
		return nil, err
	}
	return bolt.Open(path, 0o600, boltOptions(lockTimeout))
}

// readAllPages opens the file read-only and reads every key and value of
// every bucket (a page fault or a bad page panics, recovered by the
// caller).
func readAllPages(path string, lockTimeout time.Duration) error {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: lockTimeout})
	if err != nil {
		return err
	}
	defer db.Close()
	var sum byte
	var walk func(b *bolt.Bucket)
	walk = func(b *bolt.Bucket) {
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if v == nil {
				if nb := b.Bucket(k); nb != nil {
					walk(nb)
				}
				continue
			}
			for i := 0; i < len(v); i += 4096 {
				sum += v[i]
			}
			if len(v) > 0 {
				sum += v[len(v)-1]
			}
		}
	}
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(_ []byte, b *bolt.Bucket) error { walk(b); return nil })
	})
	_ = sum
	return err
}

// boltOptions: the map freelist, not synced (as etcd runs bbolt). Synced,
// the freelist is written on every commit as one contiguous run of pages;
// with the journal pruned under steady traffic the free pages are many,
// that run no longer fits in the holes, and the file grew ~1.6 MiB/s
// though its data did not (measured with a 20 000-record decision trail:
// flat with this). The cost is at Open, which rebuilds the freelist by
// walking the file: 0.4 s to ready for a 300 MiB state file here.
func boltOptions(lockTimeout time.Duration) *bolt.Options {
	return &bolt.Options{Timeout: lockTimeout, FreelistType: bolt.FreelistMapType, NoFreelistSync: true}
}

func createBolt(path string, lockTimeout time.Duration) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, filepath.Base(path)+".new-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_ = f.Close()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	db, err := bolt.Open(tmp, 0o600, boltOptions(lockTimeout))
	if err != nil {
		return err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for b := Bucket(1); b < numBuckets; b++ {
			if _, err := tx.CreateBucket([]byte(b.String())); err != nil {
				return err
			}
		}
		return tx.Bucket([]byte(BucketMeta.String())).Put(formatKey, formatVersion)
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// verify checks what can be checked without reading every page: the file
// is at least as long as its meta page says, it is a state file of our
// format, and it accepts a write transaction.
func (b *boltBackend) verify(fileSize int64) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("damaged file: a page could not be read (truncated or corrupt): %v", p)
		}
	}()
	err = b.db.View(func(tx *bolt.Tx) error {
		if tx.Size() > fileSize {
			return fmt.Errorf("truncated: %d bytes, its pages need %d", fileSize, tx.Size())
		}
		meta := tx.Bucket([]byte(BucketMeta.String()))
		if meta == nil {
			return errors.New("not a risk state file (no meta bucket)")
		}
		if v := meta.Get(formatKey); !bytes.Equal(v, formatVersion) {
			return fmt.Errorf("unsupported format %q (this build reads %q)", v, formatVersion)
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = b.db.Update(func(tx *bolt.Tx) error {
		for bk := Bucket(1); bk < numBuckets; bk++ {
			if _, err := tx.CreateBucketIfNotExists([]byte(bk.String())); err != nil {
				return err
			}
		}
		meta := tx.Bucket([]byte(BucketMeta.String()))
		if meta.Get(walIDKey) == nil {
			if err := meta.Put(walIDKey, newWALID()); err != nil {
				return err
			}
		}
		stamp := time.Now().UTC().AppendFormat(nil, time.RFC3339Nano)
		return meta.Put(openedKey, stamp)
	})
	if err != nil {
		return fmt.Errorf("not writable: %w", err)
	}
	return nil
}

// guard turns a panic inside bbolt (a damaged page met at run time) into an
// error instead of a crash of the sidecar.
func guard(err *error) {
	if p := recover(); p != nil {
		*err = fmt.Errorf("state file damaged: %v", p)
	}
}

func (b *boltBackend) bucket(tx *bolt.Tx, bk Bucket) (*bolt.Bucket, error) {
	bb := tx.Bucket([]byte(bk.String()))
	if bb == nil {
		if b.readOnly {
			return nil, errNoBucket // a file older than the bucket: read as empty
		}
		return nil, fmt.Errorf("state file: bucket %s missing", bk)
	}
	return bb, nil
}

// certainlyAbsent reports whether the file certainly holds none of keys of
// bk (BucketLists and BucketVerifications have filters; a read-only file
// has none).
func (b *boltBackend) certainlyAbsent(bk Bucket, keys [][]byte) bool {
	switch {
	case bk == BucketLists && b.lists != nil:
		return !b.lists.mayContainAny(keys)
	case bk == BucketVerifications && b.verifiers != nil:
		for _, k := range keys {
			uid, _, ok := splitVerificationKey(k)
			if !ok || b.verifiers.mayContain(uid) {
				return false
			}
		}
		return true
	}
	return false
}

func (b *boltBackend) Get(bk Bucket, keys [][]byte, fn func(int, []byte) error) (err error) {
	if b.certainlyAbsent(bk, keys) {
		for i := range keys {
			if err := fn(i, nil); err != nil {
				return err
			}
		}
		return nil
	}
	// Held across the file's read: a key a checkpoint drops from pending
	// is in the file by then.
	b.ws.mu.RLock()
	defer b.ws.mu.RUnlock()
	pend := b.ws.pending[bk]
	if len(pend) > 0 {
		all := true
		for _, k := range keys {
			if _, ok := pend[string(k)]; !ok {
				all = false
				break
			}
		}
		if all {
			for i, k := range keys {
				if err := fn(i, pend[string(k)].get()); err != nil {
					return err
				}
			}
			return nil
		}
	}
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer guard(&err)
	return b.db.View(func(tx *bolt.Tx) error {
		bb, err := b.bucket(tx, bk)
		if errors.Is(err, errNoBucket) {
			bb, err = nil, nil
		}
		if err != nil {
			return err
		}
		for i, k := range keys {
			var v []byte
			if p, ok := pend[string(k)]; ok {
				v = p.get()
			} else if bb != nil {
				v = bb.Get(k)
			}
			if err := fn(i, v); err != nil {
				return err
			}
		}
		return nil
	})
}

func (b *boltBackend) Scan(bk Bucket, prefix, from []byte, fn func(k, v []byte) error) error {
	if from == nil || bytes.Compare(from, prefix) < 0 {
		from = prefix
	}
	type span struct{ k, v, end int }
	var (
		spans []span
		buf   []byte
	)
	add := func(k, v []byte) {
		s := len(buf)
		buf = append(append(buf, k...), v...)
		spans = append(spans, span{s, s + len(k), len(buf)})
	}
	// The log's pending writes of the range, as they are when the scan
	// starts, merged into the file's keys: a pending write replaces the
	// file's value of its key, a pending delete hides it.
	pend := b.ws.scanPending(bk, prefix, from)
	emitPending := func(before []byte) error {
		for len(pend) > 0 && (before == nil || pend[0].key < string(before)) {
			p := pend[0]
			pend = pend[1:]
			if !p.p.del {
				if err := fn([]byte(p.key), p.p.value); err != nil {
					return err
				}
			}
		}
		return nil
	}
	scan := func() error {
		for next := append([]byte{}, from...); next != nil; {
			spans, buf = spans[:0], buf[:0]
			var err error
			if next, err = b.scanChunk(bk, prefix, next, add); err != nil {
				return err
			}
			for _, sp := range spans {
				k := buf[sp.k:sp.v:sp.v]
				if err := emitPending(k); err != nil {
					return err
				}
				if len(pend) > 0 && pend[0].key == string(k) {
					continue // emitted below, at the next key, or hidden
				}
				if err := fn(k, buf[sp.v:sp.end:sp.end]); err != nil {
					return err
				}
			}
			if err := emitPending(next); err != nil {
				return err
			}
		}
		return nil
	}
	if err := scan(); err != nil && !errors.Is(err, ErrStop) {
		return err
	}
	return nil
}

// scanChunk copies up to scanChunk pairs from one read transaction and
// returns the key to resume at (nil when the prefix is exhausted).
func (b *boltBackend) scanChunk(bk Bucket, prefix, from []byte, add func(k, v []byte)) (next []byte, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer guard(&err)
	err = b.db.View(func(tx *bolt.Tx) error {
		bb, err := b.bucket(tx, bk)
		if errors.Is(err, errNoBucket) {
			return nil
		}
		if err != nil {
			return err
		}
		c := bb.Cursor()
		n := 0
		for k, v := c.Seek(from); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if n == scanChunk {
				next = bytes.Clone(k)
				return nil
			}
			add(k, v)
			n++
		}
		return nil
	})
	return next, err
}

// Commit appends the batch to the write-ahead log (wal.go): durable when
// it returns, visible to reads at once, written into the file by the next
// checkpoint.
func (b *boltBackend) Commit(batch *Batch) (first uint64, err error) {
	if err := CheckWrites(batch); err != nil {
		return 0, err
	}
	if b.ws.wal == nil {
		return 0, fmt.Errorf("state file %s is open read-only", b.path)
	}
	return b.commitWAL(batch)
}

// Close applies what the log holds to the file (a writable one) and
// closes it.
func (b *boltBackend) Close() error {
	return errors.Join(b.closeWAL(), b.db.Close())
}

// OpenBoltReadOnly opens an existing state file for reading, for tools
// (pdp audit): Commit fails. bbolt's file lock is shared with other
// readers and exclusive with the writer, so it waits up to lockTimeout
// for a sidecar that has the file open (0 waits forever), then fails.
func OpenBoltReadOnly(path string, lockTimeout time.Duration) (Backend, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	if info.IsDir() {
		return nil, fmt.Errorf("state file %s is a directory", path)
	}
	var db *bolt.DB
	func() {
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer func() {
			if p := recover(); p != nil {
				db, err = nil, fmt.Errorf("damaged file: a page could not be read (truncated or corrupt): %v", p)
			}
		}()
		db, err = bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: lockTimeout})
	}()
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("state file %s is locked by another process (a running sidecar?): %w", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open state file %s: %w", path, err)
	}
	b := &boltBackend{db: db, path: path, readOnly: true}
	err = func() (err error) {
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer guard(&err)
		return db.View(func(tx *bolt.Tx) error {
			if tx.Size() > info.Size() {
				return fmt.Errorf("truncated: %d bytes, its pages need %d", info.Size(), tx.Size())
			}
			meta := tx.Bucket([]byte(BucketMeta.String()))
			if meta == nil {
				return errors.New("not a risk state file (no meta bucket)")
			}
			if v := meta.Get(formatKey); !bytes.Equal(v, formatVersion) {
				return fmt.Errorf("unsupported format %q (this build reads %q)", v, formatVersion)
			}
			return nil
		})
	}()
	if err == nil {
		err = b.startWAL()
	}
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	return b, nil
}
