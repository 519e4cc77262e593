package decisionlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestAsync100k logs 100,000 records from 8 goroutines through 1 MiB
// files with compression (about 40 rotations), closes, and reads everything
// back: every record exactly once, nothing skipped, no card number or
// secret anywhere. Every tenth record carries leaks. Under the race
// detector, which makes it over ten times slower (more than its Close
// deadline on a loaded 2-core machine), it logs 20,000 (about 8 rotations);
// `make test` runs it full size without -race (Makefile, gotest).
func TestAsync100k(t *testing.T) {
	const workers = 8
	n := 100_000
	if raceOn {
		n = 20_000
	}
	path := logPath(t)
	// Spill rather than block, so that a descheduled writer on a busy
	// machine cannot make the test drop; spilled records must come back.
	l := newLogger(t, Config{Path: path, MaxSizeMiB: 1, BufferSize: 1024, Overflow: OverflowSpill, SpillDir: t.TempDir()})
	t0 := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				r := smallRecord(i)
				if i%10 == 0 {
					r = leak(r)
				}
				if err := l.Log(r); err != nil {
					t.Errorf("Log %d: %v", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	logged := time.Since(t0)
	closeLogger(t, l)
	st := l.Stats()
	t.Logf("%d records logged in %v, closed in %v: %d rotations, %d spilled and replayed", n, logged, time.Since(t0)-logged, st.Rotations, st.Replayed)
	if st.Received != uint64(n) || st.Logged != uint64(n) || st.Spilled != st.Replayed {
		t.Fatalf("received %d, logged %d, want %d: %+v", st.Received, st.Logged, n, st)
	}
	if st.Rotations < 3 {
		t.Fatalf("only %d rotations", st.Rotations)
	}

	files, _ := Files(path)
	gz := 0
	for _, f := range files {
		if strings.HasSuffix(f, ".gz") {
			gz++
		} else if f != path {
			t.Errorf("uncompressed backup left after Close: %s", f)
		}
	}
	if gz < 3 {
		t.Fatalf("%d compressed files of %d", gz, len(files))
	}

	t.Logf("closed at %v", time.Since(t0))
	recs, rd := readAll(t, path)
	t.Logf("read at %v", time.Since(t0))
	if rd.Skipped() != 0 {
		t.Fatalf("skipped %d: %v", rd.Skipped(), rd.Skips())
	}
	seen := make([]bool, n)
	for _, r := range recs {
		var i int
		if _, err := fmt.Sscanf(r.RequestID, "req-%d", &i); err != nil || i < 0 || i >= n {
			t.Fatalf("bad request id %q", r.RequestID)
		}
		if seen[i] {
			t.Fatalf("record %d twice", i)
		}
		seen[i] = true
		if i%10 == 0 && r.TxnID != "411111******1111" {
			t.Fatalf("txn_id not masked: %q", r.TxnID)
		}
	}
	if len(recs) != n {
		t.Fatalf("read %d records, want %d", len(recs), n)
	}

	raw := rawLog(t, path)
	for _, s := range secretValues {
		if strings.Contains(raw, s) {
			t.Fatalf("secret %q in the log", s)
		}
	}
	checked := 0
	for line := range strings.Lines(raw) {
		if strings.Contains(line, `"txn_id":"411111******1111"`) || checked < 1000 {
			checked++
			if c := findCard(t, []byte(line)); c != "" {
				t.Fatalf("card %s in line %s", c, line)
			}
		}
	}
	t.Logf("checked at %v", time.Since(t0))
	if checked < n/10 {
		t.Fatalf("checked %d lines for cards", checked)
	}
}

func TestLogAfterClose(t *testing.T) {
	l := newLogger(t, Config{Path: logPath(t)})
	closeLogger(t, l)
	if err := l.Log(typicalRecord(1)); !errors.Is(err, ErrClosed) {
		t.Fatalf("Log after Close: %v", err)
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if st := l.Stats(); st.Dropped[DropClosed] != 1 {
		t.Fatalf("closed drops: %v", st.Dropped)
	}
	if err := l.Healthy(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Healthy after Close: %v", err)
	}
	if err := l.Log(nil); err == nil {
		t.Fatal("Log(nil) succeeded")
	}
}

func TestHook(t *testing.T) {
	path := logPath(t)
	l := newLogger(t, Config{Path: path, Hook: func(r *Record) error {
		switch r.RequestID {
		case "req-1":
			return fmt.Errorf("policy says: %w", ErrDrop)
		case "req-2":
			r.Input = []byte(`{"erased":true}`)
		case "req-3":
			return errors.New("mask policy failed")
		case "req-4":
			panic("boom")
		}
		return nil
	}})
	for i := range 5 {
		if err := l.Log(leakyRecord(i)); err != nil {
			t.Fatal(err)
		}
	}
	closeLogger(t, l)
	st := l.Stats()
	if st.Filtered != 1 || st.Logged != 4 || st.HookErrors != 2 {
		t.Fatalf("filtered %d logged %d hook errors %d", st.Filtered, st.Logged, st.HookErrors)
	}
	recs, _ := readAll(t, path)
	got := map[string]*Record{}
	for _, r := range recs {
		got[r.RequestID] = r
	}
	if _, ok := got["req-1"]; ok {
		t.Fatal("dropped record logged")
	}
	if string(got["req-2"].Input) != `{"erased":true}` {
		t.Fatalf("edit lost: %s", got["req-2"].Input)
	}
	for _, id := range []string{"req-3", "req-4"} {
		if r := got[id]; r == nil || strings.Contains(string(r.Input), "S3cr3t") {
			t.Fatalf("%s missing or unmasked after a hook error", id)
		}
	}
}

// Finish runs before the hook, off the caller in async mode, and its
// panic is counted without losing the record.
func TestFinish(t *testing.T) {
	path := logPath(t)
	var sawEnrichment bool
	l := newLogger(t, Config{Path: path, Hook: func(r *Record) error {
		sawEnrichment = sawEnrichment || string(r.Enrichment) == `{"late":true}`
		return nil
	}})
	for i := range 2 {
		r := smallRecord(i)
		r.Enrichment = nil
		r.Finish = func(r *Record) {
			if i == 1 {
				panic("finish failed")
			}
			r.Enrichment = []byte(`{"late":true}`)
			r.Outcome = "deny"
		}
		if err := l.Log(r); err != nil {
			t.Fatal(err)
		}
	}
	closeLogger(t, l)
	if st := l.Stats(); st.Logged != 2 || st.HookErrors != 1 {
		t.Fatalf("logged %d, hook errors %d", st.Logged, st.HookErrors)
	}
	recs, _ := readAll(t, path)
	if len(recs) != 2 || string(recs[0].Enrichment) != `{"late":true}` || recs[0].Outcome != "deny" || !sawEnrichment {
		t.Fatalf("Finish's fields missing: %+v", recs[0])
	}
}

func TestInvalidRawJSONLoggedWithNull(t *testing.T) {
	path := logPath(t)
	l := newLogger(t, Config{Path: path})
	r := typicalRecord(7)
	r.Input = []byte(`{"pin":"1234",`) // cut short
	if err := l.Log(r); err != nil {
		t.Fatal(err)
	}
	closeLogger(t, l)
	recs, _ := readAll(t, path)
	if len(recs) != 1 || string(recs[0].Input) != "null" || recs[0].RequestID != "req-7" {
		t.Fatalf("got %+v", recs)
	}
	if st := l.Stats(); st.EncodeErrors != 1 || st.Logged != 1 {
		t.Fatalf("encode errors %d logged %d", st.EncodeErrors, st.Logged)
	}
}

func TestFilesOrderAndDedupe(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "d.log")
	for _, name := range []string{
		"d-2026-11-22T02-17-00.002.log.gz", "d-2026-11-22T02-17-00.001.log", "d-2026-11-22T02-17-00.001.log.gz",
		"d-2026-11-21T23-59-59.999.log.gz", "d.log", "other.log", "d-notatime.log", "d.spill.jsonl",
	} {
		os.WriteFile(filepath.Join(dir, name), nil, 0o600)
	}
	got, err := Files(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"d-2026-11-21T23-59-59.999.log.gz", "d-2026-11-22T02-17-00.001.log", "d-2026-11-22T02-17-00.002.log.gz", "d.log"}
	for i := range want {
		want[i] = filepath.Join(dir, want[i])
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("\n got %v\nwant %v", got, want)
	}
	if got, _ := Files(filepath.Join(dir, "missing", "x.log")); len(got) != 0 {
		t.Fatalf("missing dir: %v", got)
	}
}

// TestLinger: after a small batch the writer waits (here an hour, so that
// only the wake-ups can end it) and writes the records that arrive
// meanwhile in one batch once the buffer is a quarter full; Close ends
// the wait and writes what is left.
func TestLinger(t *testing.T) {
	w := &memWriter{}
	l := newLogger(t, withMem(Config{BufferSize: 8, testLinger: time.Hour}, w, &memSyncer{}))
	logged := func() uint64 { return l.Stats().Logged }
	if err := l.Log(smallRecord(0)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return logged() == 1 }) // the writer was idle: at once
	l.Log(smallRecord(1))                            // the writer lingers: buffered
	l.Log(smallRecord(2))                            // a quarter of 8: wakes it
	waitFor(t, func() bool { return logged() == 3 })
	l.Log(smallRecord(3)) // lingering again
	if n := logged(); n != 3 {
		t.Fatalf("logged %d during the linger, want 3", n)
	}
	closeLogger(t, l)
	if n := logged(); n != 4 {
		t.Fatalf("logged %d after Close, want 4", n)
	}
	if n := bytes.Count(w.bytes(), []byte("\n")); n != 4 {
		t.Fatalf("%d lines written, want 4", n)
	}
}
