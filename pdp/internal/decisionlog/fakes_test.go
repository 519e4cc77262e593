package decisionlog

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// memWriter is a rotWriter in memory: a disk of cap bytes (0: unlimited)
// that fails with ENOSPC when full, after writing what fits; a gate that,
// when closed, holds every Write until opened; a delay per Write.
type memWriter struct {
	mu      sync.Mutex
	data    bytes.Buffer
	cap     int
	rotated int
	delay   time.Duration

	gateMu  sync.Mutex
	gate    chan struct{} // nil: open
	entered chan struct{} // receives when a Write waits at the gate
}

func (w *memWriter) Write(p []byte) (int, error) {
	w.gateMu.Lock()
	gate := w.gate
	w.gateMu.Unlock()
	if gate != nil {
		select {
		case w.entered <- struct{}{}:
		default:
		}
		<-gate
	}
	if w.delay > 0 {
		time.Sleep(w.delay)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.cap > 0 && w.data.Len()+len(p) > w.cap {
		n := max(0, w.cap-w.data.Len())
		w.data.Write(p[:n])
		return n, syscall.ENOSPC
	}
	return w.data.Write(p)
}

func (w *memWriter) Rotate() error { w.mu.Lock(); w.rotated++; w.mu.Unlock(); return nil }
func (w *memWriter) Close() error  { return nil }

func (w *memWriter) close() { // hold writes at the gate
	w.gateMu.Lock()
	w.gate, w.entered = make(chan struct{}), make(chan struct{}, 1)
	w.gateMu.Unlock()
}

func (w *memWriter) open() {
	w.gateMu.Lock()
	if w.gate != nil {
		close(w.gate)
		w.gate = nil
	}
	w.gateMu.Unlock()
}

func (w *memWriter) setCap(n int) { w.mu.Lock(); w.cap = n; w.mu.Unlock() }

func (w *memWriter) bytes() []byte {
	w.mu.Lock()
	defer w.mu.Unlock()
	return bytes.Clone(w.data.Bytes())
}

// memSyncer counts fsyncs and can fail them or make them slow.
type memSyncer struct {
	syncs atomic.Int64
	err   atomic.Pointer[error]
	delay time.Duration
}

func (s *memSyncer) Sync() error {
	if s.delay > 0 {
		time.Sleep(s.delay)
	}
	s.syncs.Add(1)
	if p := s.err.Load(); p != nil {
		return *p
	}
	return nil
}
func (s *memSyncer) Close() error { return nil }

// withMem makes cfg's file sink write to w and fsync through sy.
func withMem(cfg Config, w *memWriter, sy *memSyncer) Config {
	if cfg.Path == "" {
		cfg.Path = "/nonexistent/decisions.log"
	}
	cfg.DisableCompression = true
	cfg.testSink = func(s *fileSink) {
		s.w = w
		s.openSync = func(string) (syncer, error) { return sy, nil }
		s.syncDir = func(string) error { return nil }
		s.stat = func(string) (int64, bool) { return 0, false }
	}
	return cfg
}

// recordsIn reads the records in data with the Reader, through a file.
func recordsIn(t *testing.T, data []byte) ([]*Record, *Reader) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "mem.log")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	rd := NewReader([]string{p})
	defer rd.Close()
	var out []*Record
	for {
		r, err := rd.Next()
		if err != nil {
			return out, rd
		}
		out = append(out, r)
	}
}
