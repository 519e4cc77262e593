package decisionlog

import (
	"bytes"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// recSyncer fsyncs a real file and remembers how many bytes of it the last
// fsync covered.
type recSyncer struct {
	f      *os.File
	synced *atomic.Int64
}

func (s recSyncer) Sync() error {
	fi, err := s.f.Stat()
	if err != nil {
		return err
	}
	if err := s.f.Sync(); err != nil {
		return err
	}
	s.synced.Store(fi.Size())
	return nil
}

func (s recSyncer) Close() error { return s.f.Close() }

// TestSyncDurable: when Log returns in sync mode, the record is in the file
// and an fsync covered it, without Close.
func TestSyncDurable(t *testing.T) {
	path := logPath(t)
	var synced atomic.Int64
	l := newLogger(t, Config{Path: path, Sync: true, testSink: func(s *fileSink) {
		s.openSync = func(p string) (syncer, error) {
			f, err := os.Open(p)
			return recSyncer{f, &synced}, err
		}
	}})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < 400; i += 4 {
				r := smallRecord(i)
				if err := l.Log(r); err != nil {
					t.Errorf("Log: %v", err)
					return
				}
				data, err := os.ReadFile(path)
				if err != nil {
					t.Error(err)
					return
				}
				at := bytes.Index(data, []byte(fmt.Sprintf(`"request_id":"req-%d"`, i)))
				if at < 0 {
					t.Errorf("req-%d not in the file when Log returned", i)
					return
				}
				end := at + bytes.IndexByte(data[at:], '\n') + 1
				if s := synced.Load(); s < int64(end) {
					t.Errorf("req-%d ends at %d, fsync covered %d", i, end, s)
					return
				}
			}
		})
	}
	wg.Wait()
	recs, rd := readAll(t, path) // still open: no Close
	if len(recs) != 400 || rd.Skipped() != 0 {
		t.Fatalf("%d records, %d skipped", len(recs), rd.Skipped())
	}
	st := l.Stats()
	t.Logf("%d records in %d commits", st.Logged, st.SyncCommits)
	if st.Logged != 400 || st.SyncCommits == 0 || st.SyncCommits > 400 {
		t.Fatalf("stats %+v", st)
	}
}

// TestGroupCommit: with a slow fsync, concurrent callers share commits.
func TestGroupCommit(t *testing.T) {
	w, sy := &memWriter{}, &memSyncer{delay: 5 * time.Millisecond}
	l := newLogger(t, withMem(Config{Sync: true}, w, sy))
	const callers, each = 16, 20
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			for i := range each {
				if err := l.Log(smallRecord(c*each + i)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	st := l.Stats()
	perCommit := float64(st.Logged) / float64(st.SyncCommits)
	t.Logf("%d records, %d commits, %d fsyncs: %.1f records per commit", st.Logged, st.SyncCommits, sy.syncs.Load(), perCommit)
	if st.Logged != callers*each || perCommit < 4 {
		t.Fatalf("stats %+v", st)
	}
	if recs, _ := recordsIn(t, w.bytes()); len(recs) != callers*each {
		t.Fatalf("%d records", len(recs))
	}
}

// TestSyncRotation: sync mode across rotations and compression; each
// rotation fsyncs the old file and the directory.
func TestSyncRotation(t *testing.T) {
	path := logPath(t)
	l := newLogger(t, Config{Path: path, Sync: true, MaxSizeMiB: 1})
	var wg sync.WaitGroup
	const n = 3000 // about 4.5 MiB
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				if err := l.Log(typicalRecord(i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	closeLogger(t, l)
	st := l.Stats()
	if st.Rotations < 3 || st.Logged != n {
		t.Fatalf("stats %+v", st)
	}
	if recs, rd := readAll(t, path); len(recs) != n || rd.Skipped() != 0 {
		t.Fatalf("%d records, %d skipped", len(recs), rd.Skipped())
	}
}
