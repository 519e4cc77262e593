package decisionlog

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// lines encodes records from..to-1 as the writer would.
func lines(t testing.TB, from, to int) []byte {
	e := newEncoder()
	var l Logger
	var out []byte
	for i := from; i < to; i++ {
		out, _ = l.encode(e, out, smallRecord(i))
	}
	return out
}

func gz(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func writeFile(t testing.TB, dir, name string, b []byte) string {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReaderSkips(t *testing.T) {
	dir := t.TempDir()
	good := lines(t, 0, 3)
	schema2 := bytes.Replace(lines(t, 3, 4), []byte(`"schema":1`), []byte(`"schema":2,"result":"a string now"`), 1)
	noSchema := bytes.Replace(lines(t, 4, 5), []byte(`"schema":1,`), nil, 1)
	mid := append(append(append(lines(t, 5, 6), "{not json\n"...), schema2...), noSchema...)
	mid = append(mid, lines(t, 6, 7)...)
	cut := lines(t, 7, 9)
	cut = cut[:len(cut)-30] // the last line cut short, no newline

	full := gz(t, lines(t, 9, 109))
	damaged := bytes.Clone(full)
	for i := len(damaged) / 2; i < len(damaged)/2+40; i++ {
		damaged[i] ^= 0x5a
	}
	truncated := full[:len(full)/2]
	long := append([]byte(`{"schema":1,"x":"`+string(bytes.Repeat([]byte("x"), 3000))+"\"}\n"), lines(t, 200, 201)...)

	files := []string{
		writeFile(t, dir, "a.log", good),
		writeFile(t, dir, "b.log", mid),
		writeFile(t, dir, "c.log", cut),
		writeFile(t, dir, "d.log.gz", damaged),
		writeFile(t, dir, "e.log.gz", truncated),
		filepath.Join(dir, "missing.log"),
		writeFile(t, dir, "f.log.gz", []byte{0x1f, 0x8b, 0, 0, 1, 2, 3}),
		writeFile(t, dir, "g.log", long),
		writeFile(t, dir, "h.log", full), // compressed, whatever the name says
	}
	rd := NewReader(files)
	rd.MaxLineBytes = 2000
	var onSkip []Skip
	rd.OnSkip = func(s Skip) { onSkip = append(onSkip, s) }
	var ids []string
	for {
		r, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if f, _ := rd.Pos(); f != files[3] { // a damaged stream may yield damaged records
			ids = append(ids, r.RequestID)
		}
		if f, line := rd.Pos(); f == files[1] && r.RequestID == "req-6" && line != 5 {
			t.Fatalf("req-6 at line %d", line)
		}
	}
	byFile := map[string][]Skip{}
	for _, s := range rd.Skips() {
		byFile[s.File] = append(byFile[s.File], s)
	}
	if rd.Skipped() != len(rd.Skips()) || len(onSkip) != rd.Skipped() {
		t.Fatalf("%d skipped, %d described, %d reported", rd.Skipped(), len(rd.Skips()), len(onSkip))
	}
	expect := func(file int, want ...string) {
		t.Helper()
		var got []string
		for _, s := range byFile[files[file]] {
			got = append(got, fmt.Sprintf("%d %s", s.Line, s.Reason))
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: skips %q, want %q", filepath.Base(files[file]), got, want)
		}
	}
	expect(0)
	expect(1, "2 corrupt", "3 schema", "4 schema")
	expect(2, "2 truncated")
	for _, f := range []int{3, 4} { // damaged gzip: maybe garbage lines (any skip), then the error
		ss := byFile[files[f]]
		if len(ss) == 0 || ss[len(ss)-1].Reason != SkipGzip {
			t.Errorf("%s: skips %v", files[f], ss)
		}
		for _, s := range ss[:len(ss)-1] {
			if s.Reason == SkipGzip || s.Reason == SkipOpen {
				t.Errorf("%s: skips %v", files[f], ss)
				break
			}
		}
	}
	expect(5, "0 open")
	expect(6, "0 gzip")
	expect(7, "1 too_long")
	expect(8)
	// The damaged gzip file gave its records up to the damage, the
	// truncated one its first half; every complete file all of its own.
	count := map[string]int{}
	for _, id := range ids {
		count[id]++
		if count[id] > 2 { // files e and h hold the same records
			t.Fatalf("%s read %d times", id, count[id])
		}
	}
	for _, id := range []string{"req-0", "req-2", "req-5", "req-6", "req-7", "req-9", "req-108", "req-200"} {
		if count[id] == 0 {
			t.Errorf("%s missing", id)
		}
	}
	if count["req-8"] != 0 {
		t.Error("the cut line was read")
	}
	t.Logf("%d records; skips: %v", len(ids), rd.Skips())
}

// TestReaderFlatMemory reads a 33 MB log and watches the heap.
func TestReaderFlatMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "big.log.gz"))
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	block := lines(t, 0, 1000)
	blocks := 80 // 33 MB
	if raceOn {
		blocks = 20 // the race detector makes decoding ten times slower
	}
	for range blocks {
		zw.Write(block)
	}
	zw.Close()
	f.Close()
	rd := NewReader([]string{f.Name()})
	defer rd.Close()
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapInuse, uint64(0)
	n := 0
	for {
		_, err := rd.Next()
		if err == io.EOF {
			break
		}
		if n++; n%5000 == 0 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}
	}
	if n != 1000*blocks || rd.Skipped() != 0 {
		t.Fatalf("%d records, %d skipped", n, rd.Skipped())
	}
	grow := int64(peak) - int64(base)
	t.Logf("%d MB read, heap grew by at most %d KB", len(block)*blocks>>20, grow>>10)
	if grow > 16<<20 {
		t.Fatalf("heap grew by %d MB reading %d MB", grow>>20, len(block)*blocks>>20)
	}
}

func TestDecodeRecord(t *testing.T) {
	for _, tc := range []struct{ line, reason string }{
		{`{"schema":1,"decision_id":"x"}`, ""},
		{` {"schema":1} `, ""},
		{`{"schema":0}`, SkipSchema},
		{`{}`, SkipSchema},
		{`{"schema":7,"timestamp":12}`, SkipSchema},
		{`{"schema":1,"timestamp":12}`, SkipCorrupt},
		{`null`, SkipCorrupt},
		{`[1]`, SkipCorrupt},
		{``, SkipCorrupt},
		{`{"schema":1`, SkipCorrupt},
	} {
		_, reason, _ := decodeRecord([]byte(tc.line))
		if reason != tc.reason {
			t.Errorf("%s: %q, want %q", tc.line, reason, tc.reason)
		}
	}
}

// The reader reads what the writer writes, field for field.
func TestReaderRoundTrip(t *testing.T) {
	in := typicalRecord(3)
	in.Shadow = &Result{Outcome: "deny", Reasons: []string{"x"}}
	in.Result.Limit = &Limit{MaxAmount: 500, Currency: "CNY"}
	e := newEncoder()
	var l Logger
	line, _ := l.encode(e, nil, in)
	recs, rd := recordsIn(t, line)
	if len(recs) != 1 || rd.Skipped() != 0 {
		t.Fatalf("%d records, %v", len(recs), rd.Skips())
	}
	a, _ := json.Marshal(in)
	b, _ := json.Marshal(recs[0])
	if !bytes.Equal(normalizeJSON(t, a), normalizeJSON(t, b)) {
		t.Fatalf("\n in %s\nout %s", a, b)
	}
}

func normalizeJSON(t *testing.T, b []byte) []byte {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(v)
	return out
}

// BytesRead ends at the files' total size as stored, compressed or not.
func TestReaderBytesRead(t *testing.T) {
	dir := t.TempDir()
	plain := lines(t, 0, 500)
	files := []string{writeFile(t, dir, "a.log", plain), writeFile(t, dir, "b.log.gz", gz(t, plain))}
	var total int64
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		total += fi.Size()
	}
	rd := NewReader(files)
	defer rd.Close()
	var last int64
	n := 0
	for {
		_, err := rd.Next()
		if err == io.EOF {
			break
		}
		n++
		if got := rd.BytesRead(); got < last || got > total {
			t.Fatalf("record %d: BytesRead %d after %d, total %d", n, got, last, total)
		}
		last = rd.BytesRead()
	}
	if n != 1000 || rd.BytesRead() != total {
		t.Fatalf("%d records, BytesRead %d, want %d", n, rd.BytesRead(), total)
	}
}
