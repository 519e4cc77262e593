package replay

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/riskpdp/riskpdp/pdp/internal/replay/replaytest"
)

// TestReplayReadsRecordsWithAndWithoutEvaluator: records name the
// evaluator that answered (result.evaluator); a log written before they
// did (the same records without it) replays to the same report.
func TestReplayReadsRecordsWithAndWithoutEvaluator(t *testing.T) {
	dir := t.TempDir()
	log := replaytest.GenerateLog(t, dir, 200, 100)
	for _, rec := range readRecords(t, log) {
		if rec.Result.Evaluator != "fast" || rec.Result.Reevaluated != "" {
			t.Fatalf("record %s answered by %q (re-evaluated after %q), want the fast path", rec.DecisionID, rec.Result.Evaluator, rec.Result.Reevaluated)
		}
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	old := regexp.MustCompile(`,"(evaluator|reevaluated)":"(?:[^"\\]|\\.)*"`).ReplaceAll(b, nil)
	if len(old) == len(b) {
		t.Fatal("nothing removed")
	}
	oldLog := filepath.Join(t.TempDir(), "old.log")
	if err := os.WriteFile(oldLog, old, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, rec := range readRecords(t, oldLog) {
		if rec.Result.Evaluator != "" {
			t.Fatalf("evaluator left in %s", rec.DecisionID)
		}
	}
	policies := copyPolicies(t, "", "")
	now := runReplay(t, Options{Policies: policies, Logs: []string{log}})
	before := runReplay(t, Options{Policies: policies, Logs: []string{oldLog}})
	if now.Records != 200 || before.Records != now.Records || before.Compared != now.Compared || before.Changed != 0 || now.Changed != 0 {
		t.Fatalf("with the evaluator: records %d compared %d changed %d; without: records %d compared %d changed %d",
			now.Records, now.Compared, now.Changed, before.Records, before.Compared, before.Changed)
	}
}
