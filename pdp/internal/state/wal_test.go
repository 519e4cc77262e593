package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/riskpdp/riskpdp/pdp"
)

// abandon drops a writable backend as a crash would: no checkpoint, the
// log left as it is.
func abandon(t *testing.T, be Backend) {
	t.Helper()
	b := be.(*boltBackend)
	close(b.ws.quit)
	<-b.ws.done
	must(t, b.ws.wal.close())
	must(t, b.db.Close())
}

// walModel is what a backend must answer: bucket → key → value.
type walModel map[Bucket]map[string]string

func (m walModel) apply(ws []Write) {
	for _, w := range ws {
		if m[w.Bucket] == nil {
			m[w.Bucket] = map[string]string{}
		}
		if w.Delete {
			delete(m[w.Bucket], string(w.Key))
		} else {
			m[w.Bucket][string(w.Key)] = string(w.Value)
		}
	}
}

// check compares every key the model ever held, and scans of random
// prefixes, with be.
func (m walModel) check(t *testing.T, be Backend, keys []string, r *rand.Rand, when string) {
	t.Helper()
	for _, bk := range []Bucket{BucketAccounts, BucketQueue} {
		bkeys := make([][]byte, len(keys))
		for i, k := range keys {
			bkeys[i] = []byte(k)
		}
		err := be.Get(bk, bkeys, func(i int, v []byte) error {
			want, ok := m[bk][keys[i]]
			if ok != (v != nil) || string(v) != want {
				t.Errorf("%s: Get %s %q = %q (present %v), want %q (present %v)", when, bk, keys[i], v, v != nil, want, ok)
			}
			return nil
		})
		must(t, err)
		for range 4 {
			prefix := []byte(keys[r.IntN(len(keys))][:r.IntN(3)])
			var from []byte
			if r.IntN(2) == 0 {
				from = []byte(keys[r.IntN(len(keys))])
			}
			var want []string
			for _, k := range slices.Sorted(maps.Keys(m[bk])) {
				if strings.HasPrefix(k, string(prefix)) && (from == nil || k >= string(from)) {
					want = append(want, k+"="+m[bk][k])
				}
			}
			stopAt := -1
			if len(want) > 2 && r.IntN(3) == 0 {
				stopAt = r.IntN(len(want))
				want = want[:stopAt+1]
			}
			var got []string
			err := be.Scan(bk, prefix, from, func(k, v []byte) error {
				got = append(got, string(k)+"="+string(v))
				if len(got)-1 == stopAt {
					return ErrStop
				}
				return nil
			})
			must(t, err)
			if !slices.Equal(got, want) {
				t.Fatalf("%s: Scan %s prefix %q from %q:\n got %q\nwant %q", when, bk, prefix, from, got, want)
			}
		}
	}
}

// The log, its checkpoints, a crash and a read-only open all answer what
// the commits wrote: random puts and deletes over keys sharing prefixes,
// more than a scan chunk of them, checkpoints at random points.
func TestWALModel(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	path := filepath.Join(t.TempDir(), "state.db")
	be, err := OpenBolt(path, time.Second)
	must(t, err)
	var keys []string
	for i := range 1500 {
		keys = append(keys, fmt.Sprintf("%c%c-%04d", 'a'+i%3, 'a'+i%5, i))
	}
	m := walModel{}
	var lastSeq uint64
	for round := range 3 {
		for step := range 60 {
			var b Batch
			for range 1 + r.IntN(40) {
				bk := []Bucket{BucketAccounts, BucketQueue}[r.IntN(2)]
				k := []byte(keys[r.IntN(len(keys))])
				if r.IntN(4) == 0 {
					b.del(bk, k)
				} else {
					b.put(bk, k, fmt.Appendf(nil, "v%d.%d.%d", round, step, r.IntN(1000)))
				}
			}
			if r.IntN(3) == 0 {
				b.Journal = append(b.Journal, JournalEntry{UID: "u-1", Record: []byte("rec"), Chain: r.IntN(2) == 0})
			}
			first, err := be.Commit(&b)
			must(t, err)
			if len(b.Journal) > 0 {
				if first != lastSeq+1 {
					t.Fatalf("round %d: journal sequence %d after %d", round, first, lastSeq)
				}
				lastSeq = first + uint64(len(b.Journal)) - 1
			}
			m.apply(b.Writes)
			if r.IntN(10) == 0 {
				must(t, be.(*boltBackend).checkpoint())
			}
			if step%20 == 0 {
				m.check(t, be, keys, r, fmt.Sprintf("round %d step %d", round, step))
			}
		}
		m.check(t, be, keys, r, fmt.Sprintf("round %d before the crash", round))
		abandon(t, be)
		ro, err := OpenBoltReadOnly(path, time.Second)
		must(t, err)
		m.check(t, ro, keys, r, fmt.Sprintf("round %d read-only after the crash", round))
		must(t, ro.Close())
		if be, err = OpenBolt(path, time.Second); err != nil {
			t.Fatalf("round %d: reopen after the crash: %v", round, err)
		}
		m.check(t, be, keys, r, fmt.Sprintf("round %d after the crash", round))
		if st := be.(*boltBackend).ws.npending.Load(); st != 0 {
			t.Errorf("round %d: %d writes pending after the replay", round, st)
		}
	}
	// The journal's sequence continues past the replayed records.
	first, err := be.Commit(&Batch{Journal: []JournalEntry{{Record: []byte("last")}}})
	must(t, err)
	if first != lastSeq+1 {
		t.Errorf("journal sequence after the crashes: %d, want %d", first, lastSeq+1)
	}
	must(t, be.Close())
	if segs, _ := listWALSegments(path); len(segs) != 0 {
		t.Errorf("segments left after a clean close: %v", segs)
	}
	ro, err := OpenBoltReadOnly(path, time.Second)
	must(t, err)
	m.check(t, ro, keys, r, "read-only after a clean close")
	must(t, ro.Close())
}

// walCrashed commits n batches of one put each (k-i = v-i), abandons the
// backend and returns the path and the log's one segment, cut to its
// records: as a segment is before a newer one is created, and as it is
// where the file system cannot allocate ahead (walCrashedAllocated keeps
// the allocation).
func walCrashed(t *testing.T, n int) (string, string) {
	t.Helper()
	path, seg, end := walCrashedAllocated(t, n)
	must(t, os.Truncate(seg, end))
	return path, seg
}

// walCrashedAllocated is walCrashed with the segment as the crash left
// it, allocated past its records (end: their end).
func walCrashedAllocated(t *testing.T, n int) (path, seg string, end int64) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "state.db")
	be, err := OpenBolt(path, time.Second)
	must(t, err)
	for i := range n {
		var b Batch
		b.put(BucketAccounts, fmt.Appendf(nil, "k-%d", i), fmt.Appendf(nil, "v-%d", i))
		_, err := be.Commit(&b)
		must(t, err)
	}
	end = be.(*boltBackend).ws.wal.size
	abandon(t, be)
	segs, err := listWALSegments(path)
	must(t, err)
	if len(segs) != 1 {
		t.Fatalf("segments %v", segs)
	}
	return path, segs[0].path, end
}

func walHas(t *testing.T, be Backend, n int) {
	t.Helper()
	for i := range n {
		k := fmt.Sprintf("k-%d", i)
		must(t, be.Get(BucketAccounts, [][]byte{[]byte(k)}, func(_ int, v []byte) error {
			if string(v) != fmt.Sprintf("v-%d", i) {
				t.Errorf("%s = %q after the replay", k, v)
			}
			return nil
		}))
	}
}

// An append the crash cut short (a record's prefix, a record whose bytes
// did not all reach the disk, zeros the file system extended it with) was
// never acknowledged: it is dropped and everything before it replayed,
// whether it was written past the segment's end or in the zeros allocated
// ahead of its records.
func TestWALTornTail(t *testing.T) {
	rec := appendWALRecord(nil, 6, 0, []Write{{Bucket: BucketAccounts, Key: []byte("k-torn"), Value: []byte("x")}})
	bad := slices.Clone(rec)
	bad[len(bad)-1] ^= 1
	for name, tail := range map[string][]byte{
		"a record's prefix":             rec[:len(rec)-3],
		"a length's prefix":             rec[:3],
		"a checksum mismatch":           bad,
		"zeros":                         make([]byte, 4096),
		"a record's prefix, then zeros": append(slices.Clone(rec[:12]), make([]byte, 100)...),
		"nothing after a header":        nil,
	} {
		for _, allocated := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, allocated %v", name, allocated), func(t *testing.T) {
				path, seg, end := walCrashedAllocated(t, 5)
				if fi, err := os.Stat(seg); err != nil || (allocated && fi.Size() <= end) {
					t.Skipf("the segment was not allocated ahead (%v)", err)
				}
				if !allocated {
					must(t, os.Truncate(seg, end))
				}
				f, err := os.OpenFile(seg, os.O_WRONLY, 0)
				must(t, err)
				_, err = f.WriteAt(tail, end)
				must(t, err)
				must(t, f.Close())
				be, err := OpenBolt(path, time.Second)
				if err != nil {
					t.Fatalf("open with a torn tail: %v", err)
				}
				defer be.Close()
				walHas(t, be, 5)
				must(t, be.Get(BucketAccounts, [][]byte{[]byte("k-torn")}, func(_ int, v []byte) error {
					if v != nil {
						t.Errorf("the torn record was applied: %q", v)
					}
					return nil
				}))
			})
		}
	}
}

// Damage anywhere but at the end of the newest segment, a segment of
// another state file and a missing segment refuse the open: no
// acknowledged write is silently dropped.
func TestWALDamageRefused(t *testing.T) {
	tests := []struct {
		name   string
		damage func(t *testing.T, path, seg string)
		want   string
	}{
		{"a flipped byte in the first record", func(t *testing.T, _, seg string) {
			data, err := os.ReadFile(seg)
			must(t, err)
			data[walHeaderLen+20] ^= 0x40
			must(t, os.WriteFile(seg, data, 0o600))
		}, "checksum mismatch"},
		{"a damaged length in the first record", func(t *testing.T, _, seg string) {
			data, err := os.ReadFile(seg)
			must(t, err)
			binary.LittleEndian.PutUint32(data[walHeaderLen:], 3)
			must(t, os.WriteFile(seg, data, 0o600))
		}, "impossible length"},
		{"another state file's segment", func(t *testing.T, _, seg string) {
			data, err := os.ReadFile(seg)
			must(t, err)
			copy(data[len(walMagic):], newWALID())
			must(t, os.WriteFile(seg, data, 0o600))
		}, "another state file"},
		{"a missing segment", func(t *testing.T, path, seg string) {
			data, err := os.ReadFile(seg)
			must(t, err)
			next := append(slices.Clone(data[:walHeaderLen]), appendWALRecord(nil, 9, 0, []Write{{Bucket: BucketAccounts, Key: []byte("k-9"), Value: []byte("v")}})...)
			must(t, os.WriteFile(walSegmentPath(path, 9), next, 0o600))
		}, "a segment is missing"},
		{"not a segment", func(t *testing.T, _, seg string) {
			must(t, os.WriteFile(seg, bytes.Repeat([]byte("x"), 100), 0o600))
		}, "not a write-ahead log segment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, seg := walCrashed(t, 5)
			tt.damage(t, path, seg)
			for _, open := range []func(string, time.Duration) (Backend, error){OpenBolt, OpenBoltReadOnly} {
				be, err := open(path, time.Second)
				if err == nil {
					_ = be.Close()
					t.Fatal("opened a state file with a damaged log")
				}
				if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), filepath.Base(seg)[:len("state.db.wal-")]) {
					t.Errorf("error %q, want %q and the segment's name", err, tt.want)
				}
			}
		})
	}
}

// Reads racing commits and checkpoints never see a key go back to an older
// value or vanish: a checkpoint drops a write from memory only once the
// file holds it.
func TestWALReadsDuringCheckpoints(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	be, err := OpenBolt(path, time.Second)
	must(t, err)
	defer be.Close()
	b := be.(*boltBackend)
	const keys = 50
	put := func(n int) {
		var bt Batch
		for k := range keys {
			bt.put(BucketAccounts, fmt.Appendf(nil, "k-%02d", k), binary.BigEndian.AppendUint64(nil, uint64(n)))
		}
		_, err := be.Commit(&bt)
		must(t, err)
	}
	put(0)
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for !stop.Load() {
				if err := b.checkpoint(); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	reads := 0
	wg.Go(func() {
		last := make([]uint64, keys)
		all := make([][]byte, keys)
		for k := range keys {
			all[k] = fmt.Appendf(nil, "k-%02d", k)
		}
		for !stop.Load() {
			err := be.Get(BucketAccounts, all, func(i int, v []byte) error {
				if len(v) != 8 {
					return fmt.Errorf("key %d read %q", i, v)
				}
				n := binary.BigEndian.Uint64(v)
				if n < last[i] {
					return fmt.Errorf("key %d went back from %d to %d", i, last[i], n)
				}
				last[i] = n
				return nil
			})
			if err != nil {
				t.Error(err)
				return
			}
			err = be.Scan(BucketAccounts, []byte("k-"), nil, func(k, v []byte) error {
				if len(v) != 8 {
					return fmt.Errorf("scan: key %s read %q", k, v)
				}
				return nil
			})
			if err != nil {
				t.Error(err)
				return
			}
			reads++
		}
	})
	for n := 1; n <= 400; n++ {
		put(n)
	}
	stop.Store(true)
	wg.Wait()
	if b.ws.checkpoints.Load() == 0 || reads == 0 {
		t.Errorf("%d checkpoints, %d reads raced the commits", b.ws.checkpoints.Load(), reads)
	}
}

// A checkpoint that fails keeps the writes in memory and in the log: reads
// still see them, Stats reports the failure, and the next checkpoint
// writes them.
func TestWALCheckpointFailure(t *testing.T) {
	s, _, path := openTest(t)
	b := s.be.(*boltBackend)
	mustPut(t, s, block(pdp.SubjectDevice, "d-1", "r"))
	// Through a read-only bbolt handle the checkpoint's transaction fails.
	must(t, b.db.Close())
	var err error
	b.db, err = bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	must(t, err)
	if err := b.checkpoint(); err == nil {
		t.Fatal("checkpoint on a read-only file succeeded")
	}
	st := s.Stats()
	if st.CheckpointErrors != 1 || st.LogPending == 0 || !strings.Contains(st.LastCheckpointError, "read-only") {
		t.Errorf("stats after a failed checkpoint: %+v", st)
	}
	if r := mustRep(t, s, pdp.SubjectDevice, "d-1", t0); r.BlockReason != "r" {
		t.Errorf("pending write lost to a failed checkpoint: %+v", r)
	}
	must(t, b.db.Close())
	b.db, err = bolt.Open(path, 0o600, boltOptions(time.Second))
	must(t, err)
	must(t, b.checkpoint())
	if st := s.Stats(); st.LogPending != 0 || st.Checkpoints == 0 {
		t.Errorf("stats after a checkpoint: %+v", st)
	}
	must(t, b.Get(BucketLists, [][]byte{listKey(pdp.ListBlock, pdp.SubjectDevice, "d-1")}, func(_ int, v []byte) error {
		if v == nil {
			t.Error("the checkpoint did not write the entry")
		}
		return nil
	}))
}

// A record whose fdatasync fails is refused and cut off the log: it is
// neither read nor replayed after a crash, and the writes after it go on
// in a new segment.
func TestWALSyncFailure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	be, err := OpenBolt(path, time.Second)
	must(t, err)
	put := func(k string) error {
		var b Batch
		b.put(BucketAccounts, []byte(k), []byte("v-"+k))
		_, err := be.Commit(&b)
		return err
	}
	must(t, put("k-0"))
	injected := errors.New("injected fdatasync failure")
	walSync = func(*os.File) error { return injected }
	err = put("k-failed")
	walSync = fdatasync
	if !errors.Is(err, injected) {
		t.Fatalf("commit with a failing fdatasync: %v", err)
	}
	must(t, put("k-1"))
	check := func(be Backend, when string) {
		must(t, be.Get(BucketAccounts, [][]byte{[]byte("k-0"), []byte("k-failed"), []byte("k-1")}, func(i int, v []byte) error {
			if (i == 1) != (v == nil) {
				t.Errorf("%s: key %d = %q", when, i, v)
			}
			return nil
		}))
	}
	check(be, "before the crash")
	if segs, _ := listWALSegments(path); len(segs) != 2 {
		t.Errorf("segments after the failure: %v, want the cut one and a new one", segs)
	}
	abandon(t, be)
	be, err = OpenBolt(path, time.Second)
	must(t, err)
	check(be, "after the crash")
	must(t, be.Close())
}

// Close while the background checkpoint rotates the log: Close touches
// the log only once the checkpoint goroutine has stopped (a data race
// under -race before), and a second Close does nothing.
func TestWALCloseDuringCheckpoint(t *testing.T) {
	for i := range 20 {
		path := filepath.Join(t.TempDir(), fmt.Sprint("state-", i, ".db"))
		be, err := OpenBolt(path, time.Second)
		must(t, err)
		var b Batch
		b.put(BucketAccounts, []byte("k"), []byte("v"))
		_, err = be.Commit(&b)
		must(t, err)
		be.(*boltBackend).ws.wake <- struct{}{}
		must(t, be.Close())
		must(t, be.Close())
		if segs, _ := listWALSegments(path); len(segs) != 0 {
			t.Fatalf("segments after Close: %v", segs)
		}
	}
}

// FuzzWALSegment: any bytes parse without a panic, and what parses encodes
// back to the same records.
func FuzzWALSegment(f *testing.F) {
	id := bytes.Repeat([]byte{7}, walIDLen)
	seg := append([]byte(walMagic), id...)
	seg = appendWALRecord(seg, 1, 3, []Write{{Bucket: BucketAccounts, Key: []byte("u-1"), Value: []byte("{}")}, {Bucket: BucketQueue, Key: []byte("u-2"), Delete: true}})
	seg = appendWALRecord(seg, 2, 0, []Write{{Bucket: BucketJournalByUID, Key: []byte("k"), Value: []byte{}}})
	f.Add(seg, true)
	f.Add(seg[:len(seg)-5], true)
	f.Add(seg[:len(seg)-5], false)
	f.Add(append(slices.Clone(seg), 0, 0, 0, 0), true)
	f.Fuzz(func(t *testing.T, data []byte, last bool) {
		recs, err := parseWALSegment(data, id, 1, last)
		if err != nil {
			return
		}
		for _, r := range recs {
			enc := appendWALRecord(nil, r.seq, r.journalSeq, r.writes)
			back, err := decodeWALPayload(enc[8:])
			if err != nil {
				t.Fatalf("a parsed record does not decode after encoding: %v", err)
			}
			if back.seq != r.seq || back.journalSeq != r.journalSeq || len(back.writes) != len(r.writes) {
				t.Fatalf("round trip: %+v != %+v", back, r)
			}
			for i, w := range r.writes {
				v := back.writes[i]
				if v.Bucket != w.Bucket || v.Delete != w.Delete || !bytes.Equal(v.Key, w.Key) || !bytes.Equal(v.Value, w.Value) || (!w.Delete && w.Value == nil) {
					t.Fatalf("write %d: %+v != %+v", i, v, w)
				}
			}
		}
	})
}
