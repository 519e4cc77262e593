package decisionlog

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestDiskFullAsync: the file sink's disk fills up mid-record. Log keeps
// returning at once, losses are counted and reported, the partial line
// spoils only itself, and logging resumes when space comes back.
func TestDiskFullAsync(t *testing.T) {
	w := &memWriter{cap: 4000} // room for a few records
	l := newLogger(t, withMem(Config{}, w, &memSyncer{}))
	start := time.Now()
	for i := range 50 {
		if err := l.Log(smallRecord(i)); err != nil {
			t.Fatalf("Log: %v", err)
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Log blocked: %v for 50 records", d)
	}
	waitFor(t, func() bool { return l.Stats().Logged+l.Stats().Dropped[DropFileError] == 50 })
	st := l.Stats()
	if st.Dropped[DropFileError] == 0 || st.SinkErrors == 0 || !strings.Contains(st.LastError, "no space") {
		t.Fatalf("stats %+v", st)
	}
	err := l.Healthy()
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Healthy: %v", err)
	}

	w.setCap(0) // space freed
	for i := 50; i < 60; i++ {
		if err := l.Log(smallRecord(i)); err != nil {
			t.Fatal(err)
		}
	}
	closeLogger(t, l)
	st = l.Stats()
	if st.Logged+st.Dropped[DropFileError] != 60 {
		t.Fatalf("stats %+v", st)
	}
	if err := l.Healthy(); errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("file error still reported after recovery: %v", err)
	}
	recs, rd := recordsIn(t, w.bytes())
	if uint64(len(recs)) != st.Logged {
		t.Fatalf("%d records read, %d logged", len(recs), st.Logged)
	}
	if rd.Skipped() != 1 || rd.Skips()[0].Reason != SkipCorrupt {
		t.Fatalf("skips %v, want the one partial line", rd.Skips())
	}
	if recs[len(recs)-1].RequestID != "req-59" {
		t.Fatalf("last record %s", recs[len(recs)-1].RequestID)
	}
}

// TestDiskFullSync: in sync mode Log reports the failure to every caller
// of the failed commit, and works again once there is space.
func TestDiskFullSync(t *testing.T) {
	w := &memWriter{cap: 1500}
	l := newLogger(t, withMem(Config{Sync: true}, w, &memSyncer{}))
	var wg sync.WaitGroup
	var failed, ok atomicCount
	var acked sync.Map
	for c := range 8 {
		wg.Go(func() {
			for i := range 10 {
				r := smallRecord(c*10 + i)
				err := l.Log(r)
				switch {
				case err == nil:
					ok.add()
					acked.Store(fmt.Sprintf("req-%d", c*10+i), true)
				case errors.Is(err, ErrNotDurable) && errors.Is(err, syscall.ENOSPC):
					failed.add()
				default:
					t.Errorf("Log: %v", err)
				}
			}
		})
	}
	wg.Wait()
	st := l.Stats()
	if failed.n() == 0 || ok.n() == 0 || st.Logged != uint64(ok.n()) || st.Dropped[DropFileError] != uint64(failed.n()) {
		t.Fatalf("ok %d failed %d, stats %+v", ok.n(), failed.n(), st)
	}
	if err := l.Healthy(); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Healthy: %v", err)
	}
	w.setCap(0)
	if err := l.Log(smallRecord(100)); err != nil {
		t.Fatalf("after space came back: %v", err)
	}
	acked.Store("req-100", true)
	recs, _ := recordsIn(t, w.bytes())
	for _, r := range recs {
		acked.Delete(r.RequestID)
	}
	acked.Range(func(k, _ any) bool {
		t.Errorf("acknowledged %s not readable", k)
		return true
	})
}

// TestFsyncFails: a failed fsync fails the commit.
func TestFsyncFails(t *testing.T) {
	sy := &memSyncer{}
	l := newLogger(t, withMem(Config{Sync: true}, &memWriter{}, sy))
	err := error(syscall.ENOSPC)
	sy.err.Store(&err)
	if err := l.Log(smallRecord(1)); !errors.Is(err, syscall.ENOSPC) || !errors.Is(err, ErrNotDurable) {
		t.Fatalf("Log: %v", err)
	}
	sy.err.Store(nil)
	if err := l.Log(smallRecord(2)); err != nil {
		t.Fatal(err)
	}
	if err := l.Healthy(); errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Healthy after a good commit: %v", err)
	}
}

type atomicCount struct {
	mu sync.Mutex
	v  int
}

func (c *atomicCount) add() { c.mu.Lock(); c.v++; c.mu.Unlock() }
func (c *atomicCount) n() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.v
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
		time.Sleep(time.Millisecond)
	}
}
