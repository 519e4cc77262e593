package state

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/riskpdp/riskpdp/pdp"
)

// walGet reads one account key (nil when absent).
func walGet(t *testing.T, be Backend, key string) []byte {
	t.Helper()
	var out []byte
	must(t, be.Get(BucketAccounts, [][]byte{[]byte(key)}, func(_ int, v []byte) error {
		if v != nil {
			out = append([]byte{}, v...)
		}
		return nil
	}))
	return out
}

func walPut(t *testing.T, be Backend, key, value string) {
	t.Helper()
	var b Batch
	b.put(BucketAccounts, []byte(key), []byte(value))
	_, err := be.Commit(&b)
	must(t, err)
}

// A segment whose records the file already holds (wal_seq) is never
// replayed over newer values: here one that a checkpoint removed comes
// back (an unlink that did not reach the disk, or a segment a checkpoint
// lost track of) after a newer write of its key was checkpointed.
func TestWALReplaySkipsRecordsTheFileHolds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	be, err := OpenBolt(path, time.Second)
	must(t, err)
	b := be.(*boltBackend)
	walPut(t, be, "k", "old")
	segs, err := listWALSegments(path)
	must(t, err)
	old, err := os.ReadFile(segs[0].path)
	must(t, err)
	old = old[:b.ws.wal.size] // as the checkpoint's rotation cuts it before removing it
	must(t, b.checkpoint())
	walPut(t, be, "k", "new")
	must(t, b.checkpoint())
	abandon(t, be)
	must(t, os.WriteFile(segs[0].path, old, 0o600))
	for name, open := range map[string]func(string, time.Duration) (Backend, error){"read-only": OpenBoltReadOnly, "writable": OpenBolt} {
		be, err := open(path, time.Second)
		must(t, err)
		if v := walGet(t, be, "k"); string(v) != "new" {
			t.Errorf("%s open: k = %q after the replay, want %q (an older record replayed over a newer checkpoint)", name, v, "new")
		}
		must(t, be.Close())
	}
}

// The oldest segment after the last checkpoint missing is a missing
// segment like any other: the file is refused, not opened without the
// acknowledged writes it held.
func TestWALMissingOldestSegmentRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	be, err := OpenBolt(path, time.Second)
	must(t, err)
	walPut(t, be, "k-0", "v-0")
	// A failed fdatasync closes the segment: k-1 goes into a second one.
	walSync = func(*os.File) error { return errors.New("injected fdatasync failure") }
	var fb Batch
	fb.put(BucketAccounts, []byte("k-failed"), []byte("x"))
	_, err = be.Commit(&fb)
	walSync = fdatasync
	if err == nil {
		t.Fatal("commit with a failing fdatasync succeeded")
	}
	walPut(t, be, "k-1", "v-1")
	abandon(t, be)
	segs, err := listWALSegments(path)
	must(t, err)
	if len(segs) != 2 {
		t.Fatalf("segments %v, want two", segs)
	}
	must(t, os.Remove(segs[0].path)) // holds k-0, never checkpointed
	for name, open := range map[string]func(string, time.Duration) (Backend, error){"read-only": OpenBoltReadOnly, "writable": OpenBolt} {
		be, err := open(path, time.Second)
		if err == nil {
			t.Errorf("%s open without the segment of record 1 succeeded: k-0 = %q, k-1 = %q", name, walGet(t, be, "k-0"), walGet(t, be, "k-1"))
			_ = be.Close()
			continue
		}
		if !strings.Contains(err.Error(), "missing") {
			t.Errorf("%s open: %v, want a missing segment", name, err)
		}
	}
}

// A damaged length in the newest segment followed by acknowledged
// records is damage, not a torn append: the file is refused rather than
// opened without those records.
func TestWALDamagedLengthInNewestSegmentRefused(t *testing.T) {
	recordAt := func(data []byte, i int) int { // offset of record i (0-based)
		off := walHeaderLen
		for range i {
			off += 8 + int(binary.LittleEndian.Uint32(data[off:]))
		}
		return off
	}
	for _, tt := range []struct {
		name   string
		damage func(data []byte)
	}{
		{"the second record's length past the end", func(data []byte) {
			data[recordAt(data, 1)+3] = 0x01
		}},
		{"the first record's length past the end", func(data []byte) {
			data[recordAt(data, 0)+2] = 0x10
		}},
		{"the third record's length up to the end", func(data []byte) {
			off := recordAt(data, 2)
			binary.LittleEndian.PutUint32(data[off:], uint32(len(data)-off-8))
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path, seg := walCrashed(t, 5)
			data, err := os.ReadFile(seg)
			must(t, err)
			tt.damage(data)
			must(t, os.WriteFile(seg, data, 0o600))
			for name, open := range map[string]func(string, time.Duration) (Backend, error){"read-only": OpenBoltReadOnly, "writable": OpenBolt} {
				be, err := open(path, time.Second)
				if err == nil {
					var have []string
					for i := range 5 {
						if walGet(t, be, fmt.Sprintf("k-%d", i)) != nil {
							have = append(have, fmt.Sprintf("k-%d", i))
						}
					}
					_ = be.Close()
					t.Fatalf("%s open of a damaged newest segment succeeded with %v of k-0..k-4 (acknowledged records dropped as a torn tail)", name, have)
				}
				if !strings.Contains(err.Error(), filepath.Base(seg)) {
					t.Errorf("%s open: %v, want the segment named", name, err)
				}
			}
		})
	}
}

// A commit of an empty batch leaves nothing behind a clean Close either.
func TestWALEmptyCommitCloseLeavesNoSegment(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	be, err := OpenBolt(path, time.Second)
	must(t, err)
	_, err = be.Commit(&Batch{})
	must(t, err)
	must(t, be.Close())
	if segs, _ := listWALSegments(path); len(segs) != 0 {
		t.Errorf("segments left after a clean close: %v", segs)
	}
}

// A write the file cannot hold (an empty key, a key past bbolt's limit)
// fails its Commit and changes nothing: it is never acknowledged into the
// log, where every checkpoint and every later Open would fail on it.
func TestWALCommitRefusesWritesTheFileCannotHold(t *testing.T) {
	for name, key := range map[string][]byte{
		"an empty key":          {},
		"a key past MaxKeySize": make([]byte, bolt.MaxKeySize+1),
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			be, err := OpenBolt(path, time.Second)
			must(t, err)
			walPut(t, be, "k-0", "v-0")
			var b Batch
			b.put(BucketAccounts, []byte("k-1"), []byte("v-1"))
			b.put(BucketAccounts, key, []byte("v"))
			func() {
				defer func() {
					if p := recover(); p != nil {
						// The panic left the log's lock held: stop here.
						t.Fatalf("Commit panicked (the record was appended and fdatasynced first): %v", p)
					}
				}()
				if _, err := be.Commit(&b); err == nil {
					t.Error("Commit of a write bbolt refuses succeeded")
				}
			}()
			if v := walGet(t, be, "k-1"); v != nil {
				t.Errorf("the failed batch's k-1 = %q", v)
			}
			if err := be.(*boltBackend).checkpoint(); err != nil {
				t.Errorf("checkpoint after the failed commit: %v", err)
			}
			abandon(t, be)
			be, err = OpenBolt(path, time.Second)
			if err != nil {
				t.Fatalf("reopen after the failed commit: %v", err)
			}
			if v := walGet(t, be, "k-0"); string(v) != "v-0" {
				t.Errorf("k-0 = %q after the reopen", v)
			}
			must(t, be.Close())
		})
	}
}

// Commits whose fdatasync fails (each closes its segment for a new one)
// racing checkpoints (which remove the segments they covered): the list
// of closed segments is shared by both, and a checkpoint losing one of
// them would leave it on disk to be replayed over newer values. Run with
// -race.
func TestWALSyncFailuresDuringCheckpoints(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	be, err := OpenBolt(path, time.Second)
	must(t, err)
	b := be.(*boltBackend)
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		for !stop.Load() {
			if err := b.checkpoint(); err != nil {
				t.Error(err)
				return
			}
		}
	})
	injected := errors.New("injected fdatasync failure")
	defer func() { walSync = fdatasync }()
	want := map[string]string{}
	for i := range 300 {
		fail := i%3 == 1
		if fail {
			walSync = func(*os.File) error { return injected }
		}
		k, v := fmt.Sprintf("k-%d", i%7), fmt.Sprintf("v-%d", i)
		var bt Batch
		bt.put(BucketAccounts, []byte(k), []byte(v))
		_, err := be.Commit(&bt)
		walSync = fdatasync
		if fail != (err != nil) {
			t.Fatalf("commit %d: %v", i, err)
		}
		if err == nil {
			want[k] = v
		}
	}
	stop.Store(true)
	wg.Wait()
	must(t, be.Close())
	if segs, _ := listWALSegments(path); len(segs) != 0 {
		t.Errorf("segments left after a clean close: %v", segs)
	}
	be, err = OpenBolt(path, time.Second)
	must(t, err)
	defer be.Close()
	for k, v := range want {
		if got := walGet(t, be, k); string(got) != v {
			t.Errorf("%s = %q after the reopen, want %q", k, got, v)
		}
	}
}

// Open, segment rotations, checkpoints and Close leave no file descriptor
// open behind them.
func TestWALClosesItsFiles(t *testing.T) {
	count := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skip("no /proc/self/fd")
		}
		return len(ents)
	}
	path := filepath.Join(t.TempDir(), "state.db")
	before := count()
	for range 3 {
		be, err := OpenBolt(path, time.Second)
		must(t, err)
		for i := range 20 {
			walPut(t, be, fmt.Sprintf("k-%d", i), "v")
			if i%4 == 0 {
				must(t, be.(*boltBackend).checkpoint())
			}
		}
		must(t, be.Close())
	}
	if after := count(); after != before {
		t.Errorf("%d file descriptors open before, %d after", before, after)
	}
}

const ckCrashEnv = "STATE_CKCRASH_HELPER"

// TestCheckpointCrashHelper runs only in the child of
// TestKill9DuringCheckpointsKeepsJournalAndChain: sync list writes with
// chained audit records, printing "ack N" after each, while a goroutine
// checkpoints the log without pause, until it is killed.
func TestCheckpointCrashHelper(t *testing.T) {
	path := os.Getenv(ckCrashEnv)
	if path == "" {
		t.Skip("helper process for TestKill9DuringCheckpointsKeepsJournalAndChain")
	}
	start, _ := strconv.Atoi(os.Getenv(ckCrashEnv + "_START"))
	s, err := Open(Config{Path: path, SweepInterval: -1})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	b := s.be.(*boltBackend)
	go func() {
		for {
			_ = b.checkpoint()
			time.Sleep(100 * time.Microsecond)
		}
	}()
	for i := start; ; i++ {
		err := s.PutListEntry(bg, block(pdp.SubjectDevice, fmt.Sprint("d-", i), strconv.Itoa(i)), pdp.AuditRecord{Action: "ckcrash.put", UID: "u-ck", Detail: strconv.Itoa(i)})
		if err != nil {
			fmt.Println("write:", err)
			os.Exit(3)
		}
		os.Stdout.WriteString("ack " + strconv.Itoa(i) + "\n")
	}
}

// SIGKILLs during checkpoints: every acknowledged write and its audit
// record survive, journal sequence numbers only grow (never reused after
// a crash), and the hash chain verifies after each restart.
func TestKill9DuringCheckpointsKeepsJournalAndChain(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	path := filepath.Join(t.TempDir(), "state.db")
	next := 0
	seen := map[uint64]string{} // journal seq → the Detail it had
	for round := range 3 {
		acked := killHelper(t, "^TestCheckpointCrashHelper$", ckCrashEnv, path, next, 30+rand.IntN(70))
		s, err := Open(Config{Path: path, SweepInterval: -1})
		if err != nil {
			t.Fatalf("round %d: reopen after kill: %v", round, err)
		}
		rep, err := VerifyChain(bg, s.be)
		must(t, err)
		if !rep.OK() {
			t.Errorf("round %d: chain broken after the kill: %v", round, rep.Broken)
		}
		bySeq := map[string]uint64{}
		var lastSeq uint64
		must(t, s.Journal(bg, JournalFilter{}, func(a pdp.AuditRecord) error {
			if a.Seq <= lastSeq {
				t.Errorf("round %d: journal seq %d after %d", round, a.Seq, lastSeq)
			}
			lastSeq = a.Seq
			if d, ok := seen[a.Seq]; ok && d != a.Detail {
				t.Errorf("round %d: journal seq %d reused: %q, before %q", round, a.Seq, a.Detail, d)
			}
			seen[a.Seq] = a.Detail
			if a.Action == "ckcrash.put" {
				bySeq[a.Detail] = a.Seq
			}
			return nil
		}))
		for _, i := range acked {
			if _, ok := bySeq[strconv.Itoa(i)]; !ok {
				t.Errorf("round %d: audit record of acknowledged write %d lost", round, i)
			}
			r, err := s.Reputation(pdp.SubjectDevice, fmt.Sprint("d-", i), time.Now())
			if err != nil || r.BlockReason != strconv.Itoa(i) {
				t.Errorf("round %d: acknowledged put %d lost: %+v, %v", round, i, r, err)
			}
		}
		t.Logf("round %d: %d acknowledged writes, chain %d records checked, journal up to seq %d", round, len(acked), rep.Checked, lastSeq)
		next = acked[len(acked)-1] + 100
		must(t, s.Close())
	}
}

// killHelper runs the test helper named by run with env=path, SIGKILLs it
// once it acknowledged n writes, and returns every write it acknowledged.
func killHelper(t *testing.T, run, env, path string, start, n int) []int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run="+run)
	cmd.Env = append(os.Environ(), env+"="+path, env+"_START="+strconv.Itoa(start))
	out, err := cmd.StdoutPipe()
	must(t, err)
	cmd.Stderr = os.Stderr
	must(t, cmd.Start())
	var acked []int
	sc := bufio.NewScanner(out)
	killed := false
	for sc.Scan() {
		v, ok := strings.CutPrefix(sc.Text(), "ack ")
		if !ok {
			t.Logf("helper: %s", sc.Text())
			continue
		}
		i, _ := strconv.Atoi(v)
		acked = append(acked, i)
		if len(acked) == n && !killed {
			killed = true
			must(t, cmd.Process.Kill()) // SIGKILL
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("helper exited before %d writes: %v", n, err)
	}
	return acked
}

// A newest segment whose header a crash cut short (a prefix of it, zeros,
// or both) holds nothing and the file opens; one holding another state
// file's header, whole or cut short, is refused as the segment of another
// file would be, not taken for an empty one and removed.
func TestWALNewestSegmentHeader(t *testing.T) {
	other := append([]byte(walMagic), newWALID()...)
	for _, tt := range []struct {
		name string
		data func(own []byte) []byte
		want string // "" opens
	}{
		{"a prefix of its header", func(own []byte) []byte { return own[:10] }, ""},
		{"zeros", func([]byte) []byte { return make([]byte, walHeaderLen) }, ""},
		{"its header with a zero page", func(own []byte) []byte { h := slices.Clone(own); clear(h[12:]); return h }, ""},
		{"nothing", func([]byte) []byte { return nil }, ""},
		{"another state file's header", func([]byte) []byte { return other }, "another state file"},
		{"another state file's header cut short", func([]byte) []byte { return other[:walHeaderLen-3] }, "damaged header"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path, seg := walCrashed(t, 5)
			data, err := os.ReadFile(seg)
			must(t, err)
			newest := walSegmentPath(path, 6)
			must(t, os.WriteFile(newest, tt.data(data[:walHeaderLen]), 0o600))
			be, err := OpenBolt(path, time.Second)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("open: %v", err)
				}
				walHas(t, be, 5)
				must(t, be.Close())
				return
			}
			if err == nil {
				_ = be.Close()
				t.Fatal("opened")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), filepath.Base(newest)) {
				t.Errorf("error %q, want %q and %s", err, tt.want, filepath.Base(newest))
			}
			if _, serr := os.Stat(newest); serr != nil {
				t.Errorf("the refused segment is gone: %v", serr)
			}
		})
	}
}

// Where the file system cannot allocate a segment ahead, records are
// appended past its end: commits, a crash and the replay work as with the
// allocation, and the segment holds nothing past its records.
func TestWALWithoutAllocation(t *testing.T) {
	walFallocate = func(*os.File, int64) error { return errors.ErrUnsupported }
	defer func() { walFallocate = fallocate }()
	path, seg, end := walCrashedAllocated(t, 5)
	if fi, err := os.Stat(seg); err != nil || fi.Size() != end {
		t.Fatalf("segment of %v bytes (%v), records end at %d", fi.Size(), err, end)
	}
	be, err := OpenBolt(path, time.Second)
	must(t, err)
	walHas(t, be, 5)
	walPut(t, be, "k-5", "v-5")
	must(t, be.Close())
	be, err = OpenBolt(path, time.Second)
	must(t, err)
	walHas(t, be, 6)
	must(t, be.Close())
}
