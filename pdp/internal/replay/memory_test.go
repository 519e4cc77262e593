package replay

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// liveHeapDuring replays logs and returns the largest live heap (after a
// collection) seen at the progress callbacks, i.e. while records are in
// flight.
func liveHeapDuring(t *testing.T, opts Options) (peak uint64, rep *Report) {
	t.Helper()
	var ms runtime.MemStats
	opts.Progress = func(read, total int64) {
		runtime.GC()
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapAlloc)
	}
	return peak, runReplay(t, opts)
}

// Memory stays flat in the log size: replaying eight times the records
// (with every decision changed, so that the changed list is long) keeps
// the live heap where one copy keeps it.
func TestReplayMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("replays 16000 records")
	}
	dir := t.TempDir()
	log := generateLog(t, dir, 2000, 100)
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	var copies []string
	for i := range 8 {
		p := filepath.Join(dir, fmt.Sprintf("copy%d.log", i))
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		copies = append(copies, p)
	}
	// Every CNY money movement is large: many decisions change.
	cand := copyPolicies(t, `"large": 5000,`, `"large": 1,`)
	opts := Options{Policies: cand, Workers: 2, Changed: discard{}}
	opts.Logs = copies[:1]
	var small, large uint64
	var rep *Report
	small, rep = liveHeapDuring(t, opts)
	if rep.Records != 2000 || rep.Changed < 100 {
		t.Fatalf("records %d changed %d", rep.Records, rep.Changed)
	}
	opts.Logs = copies
	large, rep = liveHeapDuring(t, opts)
	if rep.Records != 16000 {
		t.Fatalf("records %d", rep.Records)
	}
	t.Logf("live heap while replaying: %d KiB for 2000 records, %d KiB for 16000 (log %d KiB each copy)", small>>10, large>>10, len(b)>>10)
	// The eight copies are 8× the bytes; a heap that grew with them would
	// be far past this bound.
	if large > small+small/2+2<<20 {
		t.Fatalf("live heap %d KiB for 8× the log, %d KiB for 1×", large>>10, small>>10)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
