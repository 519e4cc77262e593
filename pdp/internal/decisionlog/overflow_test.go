package decisionlog

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// stalled returns a logger whose writer is stuck in a file write holding
// one record, with a buffer of size records, all free.
func stalled(t *testing.T, cfg Config, size int) (*Logger, *memWriter) {
	t.Helper()
	w := &memWriter{}
	w.close()
	cfg.BufferSize = size
	l := newLogger(t, withMem(cfg, w, &memSyncer{}))
	t.Cleanup(w.open)
	if err := l.Log(smallRecord(0)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("writer never reached the file")
	}
	return l, w
}

func fill(t *testing.T, l *Logger, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if err := l.Log(smallRecord(i)); err != nil {
			t.Fatalf("Log %d with room in the buffer: %v", i, err)
		}
	}
}

// await receives from ch, failing the test if nothing comes for a long
// time (a hang, not a slow machine: it only names the step that hung).
func await(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(time.Minute):
		t.Fatalf("%s: nothing after a minute", what)
	}
}

// Drop never waits: with the writer stalled and the buffer full, every
// further Log returns ErrDropped as buffer_full, and no call ever starts to
// wait for room (a call that did would hang here, the writer being stalled
// until the end, or be counted as block_timeout).
func TestOverflowDrop(t *testing.T) {
	var waits atomic.Int64
	l, w := stalled(t, Config{Overflow: OverflowDrop, testBlockWait: func() { waits.Add(1) }}, 4)
	fill(t, l, 1, 4)
	for i := 5; i < 15; i++ {
		if err := l.Log(smallRecord(i)); !errors.Is(err, ErrDropped) || !errors.Is(err, errBufferFull) {
			t.Fatalf("Log %d on a full buffer: %v", i, err)
		}
	}
	if n := waits.Load(); n != 0 {
		t.Fatalf("%d Log calls waited for room in drop mode", n)
	}
	st := l.Stats()
	if st.Dropped[DropBufferFull] != 10 || st.Dropped[DropBlockTimeout] != 0 || st.BufferDepth != 4 || st.BufferCap != 4 {
		t.Fatalf("stats %+v", st)
	}
	if err := l.Healthy(); err == nil {
		t.Fatal("healthy while dropping")
	}
	w.open()
	closeLogger(t, l)
	if st := l.Stats(); st.Logged != 5 || st.Received != 15 {
		t.Fatalf("logged %d received %d", st.Logged, st.Received)
	}
	recs, rd := recordsIn(t, w.bytes())
	if len(recs) != 5 || rd.Skipped() != 0 {
		t.Fatalf("%d records, %d skipped", len(recs), rd.Skipped())
	}
}

// Block waits for room: up to BlockTimeout, then drops (block_timeout);
// a caller that is waiting when room appears gets in. The caller's start
// of its wait is observed through Config.testBlockWait, never guessed from
// a sleep.
func TestOverflowBlock(t *testing.T) {
	// No room ever comes (the writer stays stalled): the caller waits the
	// whole timeout, then drops.
	const timeout = 30 * time.Millisecond
	waiting := make(chan struct{}, 1)
	signal := func() {
		select {
		case waiting <- struct{}{}:
		default:
			t.Error("a second caller waited while the first one's wait was not seen")
		}
	}
	l, w := stalled(t, Config{Overflow: OverflowBlock, BlockTimeout: timeout, testBlockWait: signal}, 2)
	fill(t, l, 1, 2)
	start := time.Now()
	if err := l.Log(smallRecord(3)); !errors.Is(err, errBlockTimeout) {
		t.Fatalf("Log on a full buffer: %v", err)
	}
	if d := time.Since(start); d < timeout { // a lower bound the timer guarantees, whatever the load
		t.Fatalf("gave up after %v, before the block timeout", d)
	}
	await(t, waiting, "the dropped caller's wait")
	w.open()
	closeLogger(t, l)
	if st := l.Stats(); st.Dropped[DropBlockTimeout] != 1 || st.Logged != 3 {
		t.Fatalf("stats %+v", st)
	}

	// Room appears while a caller waits: it gets in. The caller, which
	// found the buffer full, is held at the start of its wait (the hook)
	// until the writer has taken a record out of the buffer, so the room is
	// there whatever the scheduling (it used to be a 10 ms sleep, and a
	// writer scheduled too late made the caller drop). Its BlockTimeout
	// starts after that; the longest allowed, so that the caller being
	// descheduled between starting its timer and its select cannot make
	// the timer ready too (select would then pick at random).
	waiting = make(chan struct{}, 1)
	resume := make(chan struct{})
	var resumeOnce sync.Once
	release := func() { resumeOnce.Do(func() { close(resume) }) }
	hold := func() { waiting <- struct{}{}; <-resume }
	l, w = stalled(t, Config{Overflow: OverflowBlock, BlockTimeout: maxBlockTimeout, testBlockWait: hold}, 2)
	t.Cleanup(release) // before the logger's Close, which waits for the held call, should the test fail
	fill(t, l, 1, 2)
	done := make(chan error, 1)
	go func() { done <- l.Log(smallRecord(3)) }()
	await(t, waiting, "a caller's wait on the full buffer")
	if st := l.Stats(); st.BufferDepth != 2 || st.Logged != 0 {
		t.Fatalf("the caller waits but the buffer is not full: %+v", st)
	}
	w.open()
	waitFor(t, func() bool { return l.Stats().BufferDepth < 2 }) // the writer, no longer stalled, takes from the buffer
	release()
	if err := <-done; err != nil {
		t.Fatalf("Log waiting for room: %v", err)
	}
	closeLogger(t, l)
	if st := l.Stats(); st.Dropped[DropBlockTimeout] != 0 || st.Logged != 4 {
		t.Fatalf("stats %+v", st)
	}
}

func TestOverflowSpill(t *testing.T) {
	dir := t.TempDir()
	l, w := stalled(t, Config{Overflow: OverflowSpill, SpillDir: dir}, 4)
	fill(t, l, 1, 4)
	r := leakyRecord(5)
	r.RequestID = "req-5"
	if err := l.Log(r); err != nil {
		t.Fatal(err)
	}
	fill(t, l, 6, 94) // all spilled
	st := l.Stats()
	if st.Spilled != 95 || st.SpillRecords != 95 || st.Dropped[DropBufferFull] != 0 {
		t.Fatalf("stats %+v", st)
	}
	spilled, err := os.ReadFile(filepath.Join(dir, spillName))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secretValues {
		if bytes.Contains(spilled, []byte(s)) {
			t.Fatalf("secret %q in the spill file", s)
		}
	}
	w.open()
	closeLogger(t, l)
	st = l.Stats()
	if st.Logged != 100 || st.Replayed != 95 || st.SpillRecords != 0 || st.SpillBytes != 0 {
		t.Fatalf("stats %+v", st)
	}
	recs, rd := recordsIn(t, w.bytes())
	if len(recs) != 100 || rd.Skipped() != 0 {
		t.Fatalf("%d records, %d skipped", len(recs), rd.Skipped())
	}
	seen := map[string]bool{}
	for _, r := range recs {
		if seen[r.RequestID] {
			t.Fatalf("%s twice", r.RequestID)
		}
		seen[r.RequestID] = true
	}
	if _, err := os.Stat(filepath.Join(dir, spillName)); !os.IsNotExist(err) {
		t.Fatalf("spill file left after a full replay: %v", err)
	}
}

func TestOverflowSpillFull(t *testing.T) {
	l, w := stalled(t, Config{Overflow: OverflowSpill, SpillDir: t.TempDir(), SpillMaxBytes: 2000}, 1)
	fill(t, l, 1, 1)
	var dropped int
	for i := 2; i < 20; i++ {
		if err := l.Log(smallRecord(i)); errors.Is(err, ErrDropped) {
			dropped++
		}
	}
	st := l.Stats()
	if dropped == 0 || st.Dropped[DropSpillFull] != uint64(dropped) || st.Spilled+uint64(dropped) != 18 {
		t.Fatalf("dropped %d, stats %+v", dropped, st)
	}
	w.open()
	closeLogger(t, l)
	if st := l.Stats(); st.Logged != 2+st.Spilled {
		t.Fatalf("stats %+v", st)
	}
}

// A spill file left by a crashed process (its last line cut short) is
// replayed by the next one.
func TestSpillRecovery(t *testing.T) {
	dir := t.TempDir()
	var data []byte
	e := newEncoder()
	l0 := &Logger{}
	for i := range 3 {
		data, _ = l0.encode(e, data, smallRecord(i))
	}
	data = data[:len(data)-20] // the third line cut short
	if err := os.WriteFile(filepath.Join(dir, spillName), data, 0o600); err != nil {
		t.Fatal(err)
	}
	w := &memWriter{}
	l := newLogger(t, withMem(Config{Overflow: OverflowSpill, SpillDir: dir}, w, &memSyncer{}))
	closeLogger(t, l)
	st := l.Stats()
	if st.Logged != 2 || st.Replayed != 2 || st.Dropped[DropSpillCorrupt] != 1 {
		t.Fatalf("stats %+v", st)
	}
	if recs, _ := recordsIn(t, w.bytes()); len(recs) != 2 {
		t.Fatalf("%d records", len(recs))
	}
}

// Close gives up on a slow sink when its context ends, and counts what
// it could not write.
func TestCloseTimeout(t *testing.T) {
	w := &memWriter{delay: 50 * time.Millisecond}
	l := newLogger(t, withMem(Config{BufferSize: 4096}, w, &memSyncer{}))
	w.close()
	fill(t, l, 0, 2000)
	<-w.entered
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() {
		time.Sleep(30 * time.Millisecond)
		w.open()
	})
	err := l.Close(ctx)
	wg.Wait()
	if err == nil {
		t.Fatal("Close succeeded with its context over")
	}
	st := l.Stats()
	if st.Dropped[DropCloseTimeout] == 0 || st.Logged+st.Dropped[DropCloseTimeout] != 2000 {
		t.Fatalf("logged %d, close_timeout %d: %v", st.Logged, st.Dropped[DropCloseTimeout], err)
	}
}
