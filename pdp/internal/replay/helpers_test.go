package replay

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/riskpdp/riskpdp/pdp/internal/decisionlog"
	"github.com/riskpdp/riskpdp/pdp/internal/replay/replaytest"
)

var quiet = slog.New(slog.DiscardHandler)

// Shorthands for the shared test helpers.
var (
	copyPolicies = replaytest.CopyPolicies
	generateLog  = replaytest.GenerateLog
)

// readRecords reads every record of a log with the log's own reader.
func readRecords(t testing.TB, path string) []*decisionlog.Record {
	t.Helper()
	files, err := decisionlog.Files(path)
	if err != nil {
		t.Fatal(err)
	}
	rd := decisionlog.NewReader(files)
	defer rd.Close()
	var out []*decisionlog.Record
	for {
		r, err := rd.Next()
		if err == io.EOF {
			break
		}
		out = append(out, r)
	}
	if rd.Skipped() != 0 {
		t.Fatalf("skips: %v", rd.Skips())
	}
	return out
}

func runReplay(t testing.TB, opts Options) *Report {
	t.Helper()
	r, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rep, err := r.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rep
}
