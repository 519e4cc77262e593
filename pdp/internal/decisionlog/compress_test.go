package decisionlog

import (
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	kgzip "github.com/klauspost/compress/gzip"

	"github.com/riskpdp/riskpdp/pdp/internal/benchutil"
)

// writeLines writes the lines of n typical records to p and returns the bytes.
func writeLines(t testing.TB, p string, from, n int) []byte {
	t.Helper()
	var l Logger
	e := newEncoder()
	var buf []byte
	for i := from; i < from+n; i++ {
		buf, _ = l.encode(e, buf, typicalRecord(i)) // a line, newline included
	}
	if err := os.WriteFile(p, buf, 0o600); err != nil {
		t.Fatal(err)
	}
	return buf
}

// dirNames lists the names in dir.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out
}

// TestCompressLeftovers: what a crash can leave beside a log (a backup not
// yet compressed, one with a partial compressed file beside it, a
// temporary file of an interrupted compression) is compressed, completed
// and cleaned at start; every record is read back exactly once.
func TestCompressLeftovers(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "d.log")
	a := filepath.Join(dir, "d-2026-12-01T00-00-00.000.log")
	b := filepath.Join(dir, "d-2026-12-01T00-00-01.000.log")
	want := string(writeLines(t, a, 0, 300)) + string(writeLines(t, b, 300, 300))
	// b's compression was cut short: a truncated .gz beside the original.
	if err := os.WriteFile(b+".gz", []byte{0x1f, 0x8b, 8, 0}, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(a+tmpSuffix, []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	l := newLogger(t, Config{Path: path})
	for i := 600; i < 700; i++ {
		if err := l.Log(typicalRecord(i)); err != nil {
			t.Fatal(err)
		}
	}
	closeLogger(t, l)
	got := dirNames(t, dir)
	wantNames := []string{filepath.Base(a) + ".gz", filepath.Base(b) + ".gz", "d.log"}
	if strings.Join(got, " ") != strings.Join(wantNames, " ") {
		t.Fatalf("files %v, want %v", got, wantNames)
	}
	if raw := rawLog(t, path); !strings.HasPrefix(raw, want) || strings.Count(raw, "\n") != 700 {
		t.Fatalf("read back %d lines; the backups' %d bytes first: %v", strings.Count(raw, "\n"), len(want), strings.HasPrefix(raw, want))
	}
	if st := l.Stats(); st.SinkErrors != 0 {
		t.Fatalf("sink errors %d: %s", st.SinkErrors, st.LastError)
	}
}

// TestCompressFailureKeepsBackup: a compression that cannot write its file
// is counted and reported, and leaves the backup as it was; Close says so.
func TestCompressFailureKeepsBackup(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "d.log")
	a := filepath.Join(dir, "d-2026-12-01T00-00-00.000.log")
	want := writeLines(t, a, 0, 100)
	// A directory where the temporary file would go: its creation fails
	// (as on a full disk), whoever runs the test.
	if err := os.Mkdir(a+tmpSuffix, 0o700); err != nil {
		t.Fatal(err)
	}
	l := newLogger(t, Config{Path: path})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := l.Close(ctx)
	if err == nil || !strings.Contains(err.Error(), filepath.Base(a)) {
		t.Fatalf("Close: %v, want the failed compression of %s", err, a)
	}
	st := l.Stats()
	if st.SinkErrors == 0 || !strings.Contains(st.LastError, "compress") {
		t.Fatalf("sink errors %d, last error %q", st.SinkErrors, st.LastError)
	}
	got, rerr := os.ReadFile(a)
	if rerr != nil || string(got) != string(want) {
		t.Fatalf("backup changed: %v", rerr)
	}
	if _, err := os.Stat(a + ".gz"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a compressed file appeared: %v", err)
	}
}

// TestCompressAbortedByClose: Close with a context that has ended stops the
// compression within a chunk and leaves the backup whole and no temporary
// file; the next start compresses it.
func TestCompressAbortedByClose(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "d.log")
	a := filepath.Join(dir, "d-2026-12-01T00-00-00.000.log")
	want := writeLines(t, a, 0, 20_000) // ~40 MiB: longer than one chunk
	l := newLogger(t, Config{Path: path})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := l.Close(ctx)
	if _, serr := os.Stat(a); serr == nil {
		// Interrupted (the usual case): the backup is whole, nothing else left.
		if err == nil || !errors.Is(err, context.Canceled) {
			t.Fatalf("Close: %v, want the interruption", err)
		}
		if got, _ := os.ReadFile(a); string(got) != string(want) {
			t.Fatal("backup changed")
		}
		if names := dirNames(t, dir); len(names) != 1 {
			t.Fatalf("files left: %v", names)
		}
		l = newLogger(t, Config{Path: path})
		closeLogger(t, l)
	}
	if names := dirNames(t, dir); strings.Join(names, " ") != filepath.Base(a)+".gz" {
		t.Fatalf("files %v", names)
	}
	if raw := rawLog(t, path); raw != string(want) {
		t.Fatalf("read back %d bytes, want %d", len(raw), len(want))
	}
}

// BenchmarkCompress is the cost of compressing a rotated file of typical
// records: "stdlib" is compress/gzip at its default level in memory (what
// lumberjack did), "klauspost" the sink's compressor in memory (at
// compressLevel; "klauspost-default" at the default level), "rotated"
// the sink's whole compression of a file (read, compress, fsync, rename,
// remove). Reported per record and as the compressed size's share.
func BenchmarkCompress(b *testing.B) {
	dir := b.TempDir()
	const n = 4000
	src := filepath.Join(dir, "d-2026-12-01T00-00-00.000.log")
	data := writeLines(b, src, 0, n)
	run := func(b *testing.B, compress func() int64) {
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		benchutil.CPUTime(b)
		var size int64
		for b.Loop() {
			size = compress()
		}
		b.ReportMetric(float64(size)/float64(len(data)), "size-ratio")
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n/1e3, "µs/record")
	}
	b.Run("stdlib", func(b *testing.B) {
		run(b, func() int64 {
			var cw countWriter
			zw := gzip.NewWriter(&cw)
			zw.Write(data)
			zw.Close()
			return cw.n
		})
	})
	for _, k := range []struct {
		name  string
		level int
	}{{"klauspost", compressLevel}, {"klauspost-default", kgzip.DefaultCompression}} {
		b.Run(k.name, func(b *testing.B) {
			var cw countWriter
			zw, _ := kgzip.NewWriterLevel(&cw, k.level)
			run(b, func() int64 {
				cw.n = 0
				zw.Reset(&cw)
				zw.Write(data)
				zw.Close()
				return cw.n
			})
		})
	}
	b.Run("rotated", func(b *testing.B) {
		z := &compressor{path: filepath.Join(dir, "d.log"), c: &counters{}, abort: make(chan struct{})}
		run(b, func() int64 {
			if err := os.WriteFile(src, data, 0o600); err != nil {
				b.Fatal(err)
			}
			if err := z.compress(src); err != nil {
				b.Fatal(err)
			}
			fi, err := os.Stat(src + ".gz")
			if err != nil {
				b.Fatal(err)
			}
			return fi.Size()
		})
	})
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }
