package replay

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp/internal/policy"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
)

// BenchmarkReplay replays a log of 2000 decisions (read, decode, rebuild,
// evaluate, aggregate) per op; BenchmarkReplayDirect evaluates the same
// records, already read, in a plain loop: the pipeline's cost is the
// difference per record.
func BenchmarkReplay(b *testing.B) {
	dir := b.TempDir()
	log := generateLog(b, dir, 2000, 100)
	r, err := New(Options{Policies: copyPolicies(b, `"large": 5000,`, `"large": 3000,`), Logs: []string{log}, Workers: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if rep, err := r.Run(context.Background()); err != nil || rep.Compared != 2000 {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*2000), "ns/record")
}

func BenchmarkReplayDirect(b *testing.B) {
	dir := b.TempDir()
	recs := readRecords(b, generateLog(b, dir, 2000, 100))
	cand := copyPolicies(b, `"large": 5000,`, `"large": 3000,`)
	eng, err := policy.New(policy.Options{Source: policy.Source{FS: os.DirFS(cand), Label: cand}, Package: "riskpdp",
		EvalTimeout: time.Second, Limits: replayLimits, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer eng.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, rec := range recs {
			in, err := request.ReplayInput(rec.Input, rec.Timestamp, rec.Enrichment, replayLimits)
			if err != nil {
				b.Fatal(err)
			}
			if _, _, err := eng.Evaluate(context.Background(), in); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*2000), "ns/record")
}
