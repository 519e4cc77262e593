package decisionlog

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp/internal/benchutil"
)

// BenchmarkLogAsync is the caller's cost of Log in async mode: a channel
// send, and now and then the wake-up of the writer goroutine, which runs
// concurrently on the other core. A hook drops every record so that the
// writer keeps up (encoding costs it about a hundred times more, see
// BenchmarkEncode) and the buffer never fills: this measures the caller,
// not the writer's throughput (BenchmarkLogLatency does).
func BenchmarkLogAsync(b *testing.B) {
	l := newLogger(b, Config{Path: logPath(b), Hook: func(*Record) error { return ErrDrop }})
	r := typicalRecord(1)
	b.ReportAllocs()
	for b.Loop() {
		l.Log(r)
	}
	b.StopTimer()
	// Even a writer that does nothing but receive falls behind a caller
	// in a tight loop; the dropped calls cost about the same (see
	// BenchmarkLogAsyncFull).
	st := l.Stats()
	b.ReportMetric(float64(st.Dropped[DropBufferFull])/float64(st.Received), "dropped/op")
}

// BenchmarkLogAsyncParallel is BenchmarkLogAsync from GOMAXPROCS callers.
func BenchmarkLogAsyncParallel(b *testing.B) {
	l := newLogger(b, Config{Path: logPath(b), Hook: func(*Record) error { return ErrDrop }})
	r := typicalRecord(1)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Log(r)
		}
	})
}

// BenchmarkLogAsyncFull is the caller's cost when the buffer is full and
// the default policy drops: the caller never waits.
func BenchmarkLogAsyncFull(b *testing.B) {
	w := &memWriter{}
	w.close()
	l := newLogger(b, withMem(Config{BufferSize: 16}, w, &memSyncer{}))
	b.Cleanup(w.open)
	r := typicalRecord(1)
	for range 32 {
		l.Log(r)
	}
	b.ReportAllocs()
	for b.Loop() {
		l.Log(r)
	}
}

// BenchmarkLogLatency compares the latency Log adds to a decision with no
// logging, async mode (default drop policy: the writer's throughput is
// BenchmarkEncode's, so callers in a tight loop fill the buffer; dropped/op
// says how much) and sync mode (real file, real fsync) for 1, 4 and 16
// concurrent callers. ns/op is wall time per record (1/throughput);
// p50-ns and p99-ns are per Log call, timing included (the "none" rows
// show its cost); in sync mode recs/fsync is the group commit's batching.
func BenchmarkLogLatency(b *testing.B) {
	for _, mode := range []string{"none", "async", "sync"} {
		for _, callers := range []int{1, 4, 16} {
			b.Run(fmt.Sprintf("%s/callers=%d", mode, callers), func(b *testing.B) {
				var l *Logger
				switch mode {
				case "async":
					l = newLogger(b, Config{Path: logPath(b)})
				case "sync":
					l = newLogger(b, Config{Path: logPath(b), Sync: true})
				}
				recs := make([]*Record, callers)
				for i := range recs {
					recs[i] = typicalRecord(i)
				}
				var next atomic.Int64
				lat := make([][]time.Duration, callers)
				for c := range lat {
					lat[c] = make([]time.Duration, 0, b.N/callers+1)
				}
				b.ReportAllocs()
				b.ResetTimer()
				var wg sync.WaitGroup
				for c := range callers {
					wg.Go(func() {
						r := recs[c]
						for next.Add(1) <= int64(b.N) {
							t0 := time.Now()
							if l != nil {
								l.Log(r)
							}
							lat[c] = append(lat[c], time.Since(t0))
						}
					})
				}
				wg.Wait()
				b.StopTimer()
				all := slices.Concat(lat...)
				slices.Sort(all)
				b.ReportMetric(float64(all[len(all)/2]), "p50-ns")
				b.ReportMetric(float64(all[len(all)*99/100]), "p99-ns")
				switch mode {
				case "sync":
					st := l.Stats()
					b.ReportMetric(float64(st.Logged)/float64(max(1, st.SyncCommits)), "recs/fsync")
				case "async":
					st := l.Stats()
					b.ReportMetric(float64(st.Dropped[DropBufferFull])/float64(st.Received), "dropped/op")
				}
			})
		}
	}
}

// BenchmarkLogPaced is the log's whole CPU per record at a sidecar's
// pace, 4 000 records/s from one caller to a real file: the writer's
// wake-ups, encoding, masking and write calls ("file") and, for the
// difference, the pacing alone ("off"). In a tight loop (BenchmarkEncode,
// BenchmarkLogLatency) the writer always finds full batches; at this pace
// it would find one record at a time but for its linger.
func BenchmarkLogPaced(b *testing.B) {
	for _, mode := range []string{"off", "file"} {
		b.Run(mode, func(b *testing.B) {
			var l *Logger
			if mode == "file" {
				l = newLogger(b, Config{Path: logPath(b)})
			}
			recs := make([]*Record, 4096) // one second's worth: reused once the writer is done with them
			for i := range recs {
				recs[i] = typicalRecord(i)
			}
			const interval = time.Second / 4000
			b.ReportAllocs()
			benchutil.CPUTime(b)
			start, i := time.Now(), 0
			for b.Loop() {
				if l != nil {
					l.Log(recs[i%len(recs)])
				}
				i++
				if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
					time.Sleep(d)
				}
			}
			if l != nil {
				closeLogger(b, l) // the writer's last batch counts too
				if st := l.Stats(); st.Logged != st.Received {
					b.Fatalf("logged %d of %d", st.Logged, st.Received)
				}
			}
		})
	}
}

// BenchmarkEncode is the writer's cost per record: encode and mask.
func BenchmarkEncode(b *testing.B) {
	var l Logger
	e := newEncoder()
	r := typicalRecord(1)
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	benchutil.CPUTime(b)
	for b.Loop() {
		buf, _ = l.encode(e, buf[:0], r)
	}
	b.SetBytes(int64(len(buf)))
}

// maskStream masks raws in turn with one masker, as the log's writer does.
func maskStream(b *testing.B, raws [][]byte) {
	m := masker{memo: new(memoTable)}
	dst := make([]byte, 0, 4096)
	b.SetBytes(int64(len(raws[0])))
	b.ReportAllocs()
	benchutil.CPUTime(b)
	i := 0
	for b.Loop() {
		m.mask(dst[:0], raws[i%len(raws)], true)
		i++
	}
}

// BenchmarkMask masks a typical record (about 1.8 KB, nothing to mask:
// the common case) and a leaky one, each again and again; "stream" masks
// typical records of distinct requests in turn (their ids, UIDs and
// transactions new to the masker, as in a sidecar's log).
func BenchmarkMask(b *testing.B) {
	b.Run("stream", func(b *testing.B) {
		raws := make([][]byte, 10_000)
		for i := range raws {
			raws[i], _ = jsonMarshal(typicalRecord(i))
		}
		maskStream(b, raws)
	})
	// "mixed" is the stream with inputs of three shapes in turn (as
	// stages and callers differ), the rest of the record alike.
	b.Run("mixed", func(b *testing.B) {
		raws := make([][]byte, 9_999)
		for i := range raws {
			r := typicalRecord(i)
			switch i % 3 {
			case 1: // no account, a shorter device
				r.Input = json.RawMessage(fmt.Sprintf(`{"request_id":"req-%d","stage":"login","uid":"u-%07d","device":{"id":"dev-%d","ip":"198.51.100.%d"},"context":{"channel":"web"}}`, i, i, i%977, i%250))
			case 2: // more fields
				r.Input = json.RawMessage(strings.Replace(string(r.Input), `"context":{`, `"destination":{"kind":"bank_account","id":"acct-`+strconv.Itoa(i)+`","country":"CN"},"context":{"session_age_s":`+strconv.Itoa(i%600)+`,`, 1))
			}
			raws[i], _ = jsonMarshal(r)
		}
		maskStream(b, raws)
	})
	for _, tc := range []struct {
		name string
		r    *Record
	}{{"typical", typicalRecord(1)}, {"leaky", leakyRecord(1)}} {
		b.Run(tc.name, func(b *testing.B) {
			var l Logger
			e := newEncoder()
			line, _ := l.encode(e, nil, tc.r) // already masked; mask the raw encoding instead
			raw, _ := jsonMarshal(tc.r)
			_ = line
			m := masker{memo: new(memoTable)}
			dst := make([]byte, 0, 4096)
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			benchutil.CPUTime(b)
			for b.Loop() {
				m.mask(dst[:0], raw, true)
			}
		})
	}
}
