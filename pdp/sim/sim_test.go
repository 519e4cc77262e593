package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/riskpdp/riskpdp/pdp/internal/plugin/plugintest"
	"github.com/riskpdp/riskpdp/pdp/internal/replay"
	"github.com/riskpdp/riskpdp/pdp/internal/replay/replaytest"
	"github.com/riskpdp/riskpdp/policies"
)

// smallConfig is a run small enough for several per test under -race.
var smallConfig = Config{Seed: 3, Accounts: 300, Days: 2, FraudMin: 4}

// shared is smallConfig's run with its decision log, made once for the
// tests that only read it.
var shared struct {
	once sync.Once
	dir  string
	res  *Result
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

// sharedRun returns smallConfig's run (with a decision log) and the log's
// path.
func sharedRun(t *testing.T) (*Result, string) {
	t.Helper()
	shared.once.Do(func() {
		if shared.dir, shared.err = os.MkdirTemp("", "sim-test-"); shared.err != nil {
			return
		}
		cfg := smallConfig
		cfg.DecisionLog = filepath.Join(shared.dir, "decisions.jsonl")
		shared.res, shared.err = Run(context.Background(), cfg)
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.res, filepath.Join(shared.dir, "decisions.jsonl")
}

func run(t *testing.T, cfg Config) *Result {
	t.Helper()
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func reportJSON(t *testing.T, r *Report) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func labelsCSV(t *testing.T, res *Result) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := res.WriteLabels(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// The same seed gives the same operations and answers, byte for byte in
// the report and the labels (with the decision log on or off); another
// seed gives another run. Every scenario ran, every legit and fraud
// figure has a population, and the run reached every outcome.
func TestSameSeedSameRun(t *testing.T) {
	a, _ := sharedRun(t)
	b := run(t, smallConfig)
	if ja, jb := reportJSON(t, a.Report), reportJSON(t, b.Report); !bytes.Equal(ja, jb) {
		t.Fatalf("two runs of one seed differ:\n%s\n---\n%s", ja, jb)
	}
	if !bytes.Equal(labelsCSV(t, a), labelsCSV(t, b)) {
		t.Fatal("labels differ between two runs of one seed")
	}
	other := smallConfig
	other.Seed++
	if c := run(t, other); bytes.Equal(reportJSON(t, a.Report), reportJSON(t, c.Report)) {
		t.Fatal("another seed gave the same report")
	}
	rep := a.Report
	for _, s := range rep.Scenarios {
		// Every fraud scenario (FraudMin) and the everyday ones; the rare
		// legit ones need a larger population (the pinned run has them).
		if s.Episodes == 0 && (s.Label == "fraud" || ScenarioByName(s.Name).Rate > 0.01) {
			t.Errorf("scenario %s had no episode", s.Name)
		}
	}
	l, f := rep.Legit, rep.Fraud
	if l.Transactions == 0 || f.Transactions == 0 || l.Logins == 0 || f.Logins == 0 {
		t.Fatalf("legit %+v fraud %+v", l, f)
	}
	if l.Outcomes.Allowed == 0 || l.Outcomes.Verified == 0 || f.Outcomes.Denied == 0 || f.Outcomes.Abandoned == 0 {
		t.Fatalf("outcomes: legit %+v fraud %+v", l.Outcomes, f.Outcomes)
	}
	if sum := l.Outcomes.Allowed + l.Outcomes.Verified + l.Outcomes.Abandoned + l.Outcomes.Denied; sum != l.Transactions {
		t.Fatalf("legit outcomes add up to %d of %d", sum, l.Transactions)
	}
	if rep.Calls.Verify == 0 || rep.Calls.Event == 0 || rep.Calls.Decide < int64(l.Transactions+f.Transactions) {
		t.Fatalf("calls %+v", rep.Calls)
	}
	if len(rep.Goals) != 5 {
		t.Fatalf("goals %+v", rep.Goals)
	}
}

// The decision log the run writes is what `pdp replay` reads: every
// decision is in it, replaying it against the same policies changes
// nothing, and with the run's labels replay finds the catch and friction
// the report gives.
func TestDecisionLogReplaysWithTheRunsLabels(t *testing.T) {
	res, logPath := sharedRun(t)
	labels, err := replay.ReadLabels(bytes.NewReader(labelsCSV(t, res)))
	if err != nil {
		t.Fatal(err)
	}
	rp, err := replay.New(replay.Options{Policies: replaytest.CopyPolicies(t, "", ""), Logs: []string{logPath}, Labels: labels})
	if err != nil {
		t.Fatal(err)
	}
	defer rp.Close()
	out, err := rp.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rep := res.Report
	if out.Records != rep.Calls.Decide || out.Compared != out.Records || out.Changed != 0 {
		t.Fatalf("replay: %d records, %d compared, %d changed; the run made %d decisions",
			out.Records, out.Compared, out.Changed, rep.Calls.Decide)
	}
	lr := out.Labels
	if lr.Bad.N != int64(rep.Fraud.Transactions) || lr.Bad.LiveFlagged != int64(rep.Fraud.SteppedUpOrDenied) ||
		lr.Bad.LiveDenied != int64(rep.Fraud.Denied) {
		t.Fatalf("replay's fraud %+v, the report's %+v", lr.Bad, rep.Fraud)
	}
	if lr.Legit.N != int64(rep.Legit.Transactions) || lr.Legit.LiveDenied != int64(rep.Legit.Denied) {
		t.Fatalf("replay's legit %+v, the report's %+v", lr.Legit, rep.Legit)
	}
}

// A threshold change moves the figures the way it should, and the pin
// check catches it: verifying new payees only from 50 000 CNY lets fraud
// through, lowering the large-amount threshold bothers customers; both
// fail against the reference policy's pins of the same run.
func TestThresholdChangesFailThePins(t *testing.T) {
	res, _ := sharedRun(t)
	ref := measure(res.Report)
	var pins []pin
	for _, f := range ref {
		pins = append(pins, f.pin)
	}
	if bad := comparePins(pins, ref); len(bad) != 0 {
		t.Fatalf("a run fails its own pins: %v", bad)
	}
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"laxer", `"new_destination": 500,`, `"new_destination": 50000,`, "overall fraud.stepped_up_or_denied_share: WORSE"},
		{"stricter", `"large": 5000,`, `"large": 800,`, "overall legit.step_ups_per_1000: WORSE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := smallConfig
			cfg.Policies = replaytest.CopyPolicies(t, tc.old, tc.new)
			bad := comparePins(pins, measure(run(t, cfg).Report))
			if !strings.Contains(strings.Join(bad, "\n"), tc.want) {
				t.Fatalf("want %q among:\n%s", tc.want, strings.Join(bad, "\n"))
			}
		})
	}
}

// The report values amounts at the reference policy's own rates.
func TestRatesAreTheReferencePolicys(t *testing.T) {
	b, err := fs.ReadFile(policies.FS, "riskpdp/config/data.json")
	if err != nil {
		t.Fatal(err)
	}
	var data struct {
		BaseCurrency string             `json:"base_currency"`
		Rates        map[string]float64 `json:"rates"`
	}
	if err := json.Unmarshal(b, &data); err != nil {
		t.Fatal(err)
	}
	if data.BaseCurrency != "CNY" || !maps.Equal(data.Rates, Rates) {
		t.Fatalf("simulator rates %v, the reference policy's %s %v", Rates, data.BaseCurrency, data.Rates)
	}
}

// The chart is well-formed SVG naming every scenario and goal.
func TestChartIsWellFormedSVG(t *testing.T) {
	res, _ := sharedRun(t)
	rep := res.Report
	var b bytes.Buffer
	if err := rep.WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(b.Bytes()))
	for {
		_, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%v\n%s", err, b.String())
		}
	}
	svg := b.String()
	if !strings.HasPrefix(svg, "<svg ") || strings.Contains(svg, "<script") {
		t.Fatalf("not a self-contained SVG:\n%.300s", svg)
	}
	for _, s := range rep.Scenarios {
		if !strings.Contains(svg, ">"+s.Name+" (") {
			t.Errorf("no bar for %s", s.Name)
		}
	}
	for _, g := range rep.Goals {
		if !strings.Contains(svg, g.Name) {
			t.Errorf("goal %q not drawn", g.Name)
		}
	}
}

// With the example Go plugins the simulator drives them: their scores
// reach the policy (score reasons among the decisions' reasons) and the
// report names them with their faults.
func TestSimulationWithExamplePlugins(t *testing.T) {
	cfg := smallConfig
	cfg.Plugins = plugintest.InstallExamples(t, "habit_deviation", "device_risk", "fraud_model")
	res := run(t, cfg)
	rep := res.Report
	if got := strings.Join(rep.Plugins, ","); got != "device_risk,fraud_model,habit_deviation" {
		t.Fatalf("plugins %q", got)
	}
	if rep.PluginFaults*2 > uint64(rep.Calls.Decide) {
		t.Fatalf("%d plugin faults in %d decisions", rep.PluginFaults, rep.Calls.Decide)
	}
	scored := 0
	for _, tx := range res.Txns {
		for _, r := range tx.Reasons {
			switch r {
			case "habit_deviation", "model_score_high", "model_score_very_high", "device_risk":
				scored++
			}
		}
	}
	if scored == 0 {
		t.Fatal("no decision carried a score reason: the plugins did not reach the policy")
	}
}
