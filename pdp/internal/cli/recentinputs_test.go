package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp/internal/decisionlog"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
)

// TestDecisionLogKeepsInputsForReloads: with a decision log, the input of
// every decision record (the request and the sidecar's additions, as the
// policy saw them) goes to the ring the engine replays at every reload,
// before the log policy's hook (which may mask or drop the record); a Data
// API record is no decision and is not kept.
func TestDecisionLogKeepsInputsForReloads(t *testing.T) {
	ring := request.NewInputRing(4)
	var hooked []string
	hook := keepInputs(ring, func(r *decisionlog.Record) error {
		hooked = append(hooked, r.DecisionID)
		r.Input = []byte(`{"masked":true}`)
		return decisionlog.ErrDrop
	})
	at := time.Unix(1700000000, 0)
	decision := &decisionlog.Record{DecisionID: "d1", Timestamp: at, Input: []byte(`{"stage":"login","uid":"u"}`),
		Enrichment: []byte(`{"derived":{}}`), Result: decisionlog.Result{Outcome: "allow"}}
	data := &decisionlog.Record{DecisionID: "d2", Timestamp: at, Input: []byte(`{"input":{}}`), Result: decisionlog.Result{Undefined: true}}
	for _, r := range []*decisionlog.Record{decision, data} {
		if err := hook(r); !errors.Is(err, decisionlog.ErrDrop) {
			t.Fatalf("the hook's answer was not passed on: %v", err)
		}
	}
	got := ring.Inputs()
	if len(hooked) != 2 || len(got) != 1 || string(got[0].Body) != `{"stage":"login","uid":"u"}` ||
		string(got[0].Enrichment) != `{"derived":{}}` || !got[0].At.Equal(at) {
		t.Fatalf("hooked %v, kept %+v", hooked, got)
	}
	if keepInputs(nil, nil) != nil {
		t.Fatal("without a ring the hook is not the log policy's")
	}
}

// TestServeReplaysLoggedInputsOnReload: a policy reload of `pdp serve`
// with the decision log on replays the inputs of the decisions logged
// before it through the fast path and OPA's evaluator.
func TestServeReplaysLoggedInputsOnReload(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, filepath.Join("..", "..", "..", "policies", "riskpdp"), filepath.Join(dir, "riskpdp"))
	cfg := filepath.Join(t.TempDir(), "pdp.yaml")
	writeFile(t, cfg, fmt.Sprintf("decision_log:\n  path: %s\n  sync: true\n", filepath.Join(t.TempDir(), "decisions.jsonl")))
	s := startSidecar(t, "--policies", dir, "--config", cfg)
	_, d := s.decide(allowBody)
	rev1 := d["policy_revision"]
	s.decide(stepUpBody)
	data := filepath.Join(dir, "riskpdp", "config", "data.json")
	b, _ := os.ReadFile(data)
	writeFile(t, data, strings.Replace(string(b), `"vip_multiplier": 3`, `"vip_multiplier": 4`, 1))
	var rev2 string
	waitFor(t, func() bool { _, d := s.decide(allowBody); rev2, _ = d["policy_revision"].(string); return rev2 != rev1 })
	// The decisions waitFor made are logged too: at least two inputs.
	m := regexp.MustCompile(`msg="fast path proved" revision=` + regexp.QuoteMeta(rev2) + ` .* logged=(\d+) `).FindStringSubmatch(s.logs.String())
	if len(m) < 2 {
		t.Fatalf("no proof logged for the reloaded revision:\n%s", s.logs)
	}
	if n, _ := strconv.Atoi(m[1]); n < 2 {
		t.Fatalf("the reload did not replay the logged inputs:\n%s", s.logs)
	}
}
