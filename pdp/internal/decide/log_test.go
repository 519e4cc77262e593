package decide

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/decisionlog"
	"github.com/riskpdp/riskpdp/pdp/internal/metrics"
	"github.com/riskpdp/riskpdp/pdp/internal/policy"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
	"github.com/riskpdp/riskpdp/policies"
)

func newLog(t *testing.T, cfg decisionlog.Config) (*decisionlog.Logger, string) {
	t.Helper()
	if cfg.Path == "" {
		cfg.Path = filepath.Join(t.TempDir(), "decisions.jsonl")
	}
	l, err := decisionlog.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(context.Background()) })
	return l, cfg.Path
}

// readLog closes l and returns its records by decision id.
func readLog(t *testing.T, l *decisionlog.Logger, path string) map[string]*decisionlog.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	files, err := decisionlog.Files(path)
	if err != nil {
		t.Fatal(err)
	}
	r := decisionlog.NewReader(files)
	defer r.Close()
	out := map[string]*decisionlog.Record{}
	for {
		rec, err := r.Next()
		if err != nil {
			break
		}
		if out[rec.DecisionID] != nil {
			t.Fatalf("decision %s logged twice", rec.DecisionID)
		}
		out[rec.DecisionID] = rec
	}
	if r.Skipped() > 0 {
		t.Fatalf("unreadable records: %v", r.Skips())
	}
	return out
}

// A logged decision carries what the issue lists: OPA's fields, ours, the
// enrichment that replays to the same input, and the trace id.
func TestDecisionsAreLogged(t *testing.T) {
	l, path := newLog(t, decisionlog.Config{})
	s := newTestService(t, Options{DecisionLog: l, LogLabels: map[string]string{"id": "pod-1"},
		Velocity: newTracker(t), Plugins: pluginHost(t, "", "fraud_model", "device_risk", "habit_deviation")})
	risky := `{"stage":"withdrawal","uid":"u-9","device":{"id":"d-new","ip":"203.0.113.9","ip_country":"NG","new":true},
		"txn":{"id":"t-2","amount":9000,"currency":"USD","category":"gift_card","purpose":"gift"},
		"account":{"home_country":"CN","created_at":"2026-11-20T00:00:00Z","recent_changes":[{"kind":"phone_change","at":"2026-11-21T23:00:00Z"}]}}`
	tp := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	d1, err := s.Decide(context.Background(), []byte(risky), tp)
	if err != nil {
		t.Fatal(err)
	}
	d2 := mustDecide(t, s, cleanPayment)
	recs := readLog(t, l, path)
	if len(recs) != 2 {
		t.Fatalf("%d records", len(recs))
	}
	r := recs[d1.ID]
	switch {
	case r == nil:
		t.Fatal("decision not logged")
	case r.Path != "riskpdp" || r.Stage != "withdrawal" || r.UID != "u-9" || r.TxnID != "t-2" || r.Amount != 9000 || r.Currency != "USD":
		t.Fatalf("flat fields: %+v", r)
	case r.Outcome != d1.Outcome.String() || r.Result.Outcome != r.Outcome || !slices.Equal(r.Result.Reasons, d1.Reasons):
		t.Fatalf("result %+v, decision %+v", r.Result, d1)
	case r.TraceID != "4bf92f3577b34da6a3ce929d0e0e4736" || r.SpanID != "00f067aa0ba902b7":
		t.Fatalf("trace %q span %q", r.TraceID, r.SpanID)
	case r.Labels["id"] != "pod-1" || r.Bundles["riskpdp"].Revision != d1.PolicyRevision || r.Metrics["timer_pdp_decide_ns"] <= 0:
		t.Fatalf("labels %v bundles %v metrics %v", r.Labels, r.Bundles, r.Metrics)
	case d1.StepUp != nil && r.Result.ChallengeID != d1.StepUp.ChallengeID:
		t.Fatalf("challenge %q, want %q", r.Result.ChallengeID, d1.StepUp.ChallengeID)
	}
	var enr map[string]any
	if err := json.Unmarshal(r.Enrichment, &enr); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"derived", "velocity", "scores"} {
		if enr[k] == nil {
			t.Fatalf("enrichment lacks %s: %s", k, r.Enrichment)
		}
	}
	// The record replays to the decision the live policy made.
	in, err := request.ReplayInput(r.Input, r.Timestamp, r.Enrichment, request.Limits{MaxDepth: 16, MaxAmount: 1e12})
	if err != nil {
		t.Fatal(err)
	}
	res, _, err := s.eng.Evaluate(context.Background(), in)
	if err != nil || res.Outcome != d1.Outcome || !slices.Equal(res.Reasons, d1.Reasons) {
		t.Fatalf("replay: %+v %v, live %v %v", res, err, d1.Outcome, d1.Reasons)
	}
	if recs[d2.ID] == nil || recs[d2.ID].Outcome != "allow" {
		t.Fatalf("clean payment: %+v", recs[d2.ID])
	}
}

func TestParseTraceparent(t *testing.T) {
	for h, want := range map[string][2]string{
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01":   {"4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"},
		"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x": {"4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"},
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01":   {},
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01":   {},
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01":   {},
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7":      {},
		"": {}, "garbage": {},
	} {
		if tr, sp := parseTraceparent(h); tr != want[0] || sp != want[1] {
			t.Errorf("%q: %q %q", h, tr, sp)
		}
	}
}

// In sync mode a decision whose record cannot be made durable is not
// answered: 503, never a decision that takes effect unrecorded.
func TestSyncLogFailureRefusesTheDecision(t *testing.T) {
	l, _ := newLog(t, decisionlog.Config{Sync: true})
	s := newTestService(t, Options{DecisionLog: l, DecisionLogSync: true})
	if d := mustDecide(t, s, cleanPayment); d.Outcome != pdp.Allow {
		t.Fatal(d)
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err := s.Decide(context.Background(), []byte(cleanPayment), "")
	var e *pdp.Error
	if !errors.As(err, &e) || e.Code != pdp.CodeUnavailable {
		t.Fatalf("decision answered with the log closed: %v", err)
	}
}

// The policy's system.log rules drop and mask records, as OPA's do; the
// built-in masking still applies.
func TestLogPolicyMaskAndDrop(t *testing.T) {
	files := fstest.MapFS{}
	for _, name := range []string{"riskpdp/common.rego", "riskpdp/rules.rego", "riskpdp/state.rego", "riskpdp/scores.rego", "riskpdp/config/data.json"} {
		b, err := policies.FS.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		files[name] = &fstest.MapFile{Data: b}
	}
	files["system/log.rego"] = &fstest.MapFile{Data: []byte(`package system.log

drop if input.input.uid == "u-noisy"

mask contains "/input/context/user_statement"

mask contains {"op": "upsert", "path": "/input/device/ip", "value": "0.0.0.0"}

mask contains "/enrichment/derived/vip"
`)}
	eng, err := policy.New(policy.Options{Source: policy.Source{FS: files, Label: "test"}, Package: "riskpdp",
		EvalTimeout: time.Second, Limits: request.Limits{MaxDepth: 16, MaxAmount: 1e12}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	if !eng.HasLogPolicy() {
		t.Fatal("package system.log not found")
	}
	l, path := newLog(t, decisionlog.Config{Hook: LogPolicyHook(eng)})
	s, err := New(Options{Engine: eng, Metrics: metrics.New(), Limits: request.Limits{MaxDepth: 16, MaxAmount: 1e12}, Logger: quiet, DecisionLog: l})
	if err != nil {
		t.Fatal(err)
	}
	kept := mustDecide(t, s, `{"stage":"login","uid":"u-1","device":{"id":"d","ip":"198.51.100.7"},"context":{"user_statement":"my name is Li Lei","channel":"app"}}`)
	mustDecide(t, s, `{"stage":"login","uid":"u-noisy"}`)
	recs := readLog(t, l, path)
	if len(recs) != 1 || recs[kept.ID] == nil {
		t.Fatalf("want only the kept record, got %d", len(recs))
	}
	r := recs[kept.ID]
	if bytes.Contains(r.Input, []byte("Li Lei")) || !bytes.Contains(r.Input, []byte(`"ip":"0.0.0.0"`)) || !bytes.Contains(r.Input, []byte(`"channel":"app"`)) {
		t.Fatalf("input not masked as the policy says: %s", r.Input)
	}
	if bytes.Contains(r.Enrichment, []byte(`"vip"`)) || !bytes.Contains(r.Enrichment, []byte(`"ip_foreign"`)) {
		t.Fatalf("enrichment not masked as the policy says: %s", r.Enrichment)
	}
	if st := l.Stats(); st.Filtered != 1 || st.HookErrors != 0 {
		t.Fatalf("filtered %d, hook errors %d (%s)", st.Filtered, st.HookErrors, st.LastError)
	}
}

func TestMaskEntriesRefused(t *testing.T) {
	for _, m := range []any{"/result/outcome", "input/x", "/input", 7, map[string]any{"op": "explode", "path": "/input/x"}} {
		r := &decisionlog.Record{Input: []byte(`{"x":1}`)}
		if err := applyMask(r, []any{m}); err == nil {
			t.Errorf("mask %v accepted", m)
		}
	}
}

// shadowCandidate is the reference policy with one more rule: it denies
// every withdrawal.
func shadowCandidate(t *testing.T) *policy.Engine {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"riskpdp/common.rego", "riskpdp/rules.rego", "riskpdp/state.rego", "riskpdp/scores.rego", "riskpdp/config/data.json"} {
		b, _ := policies.FS.ReadFile(name)
		if strings.HasSuffix(name, "rules.rego") {
			b = append(b, []byte("\ndeny contains \"candidate_no_withdrawals\" if input.stage == \"withdrawal\"\n")...)
		}
		os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755)
		os.WriteFile(filepath.Join(dir, name), b, 0o644)
	}
	cand, err := policy.New(policy.Options{Source: policy.Source{FS: os.DirFS(dir), Label: dir}, Package: "riskpdp",
		EvalTimeout: time.Second, Limits: request.Limits{MaxDepth: 16, MaxAmount: 1e12}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cand.Close)
	return cand
}

// lockedBuffer is a service log's output, written by the shadow worker.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// The shadow is a hook on the record: each decision is recorded by the
// decision path itself before Decide returns (the shadow never holds,
// changes or writes a record), then offered to the shadow, which
// evaluates the candidate on the live input off the caller's path, counts
// (live, shadow) pairs and logs a difference with both answers and the
// decision id in the service log.
func TestShadowIsAHookOnTheRecord(t *testing.T) {
	m := metrics.New()
	var out lockedBuffer
	sh := NewShadow(ShadowOptions{Engine: shadowCandidate(t), SampleRate: 1, Metrics: m, Logger: slog.New(slog.NewTextHandler(&out, nil))})
	l, path := newLog(t, decisionlog.Config{})
	s := newTestService(t, Options{DecisionLog: l, Shadow: sh})
	withdrawal := `{"stage":"withdrawal","uid":"u-2","device":{"id":"d-2","ip_country":"CN"},"txn":{"id":"w-1","amount":50,"currency":"CNY"},"account":{"home_country":"CN","created_at":"2020-01-01T00:00:00Z"}}`
	dw := mustDecide(t, s, withdrawal)
	dp := mustDecide(t, s, cleanPayment)
	if got := l.Stats().Received; got != 2 {
		t.Fatalf("%d records handed to the log when the decisions were answered, want 2", got)
	}
	sh.Close()
	recs := readLog(t, l, path)
	if len(recs) != 2 || recs[dw.ID] == nil || recs[dp.ID] == nil {
		t.Fatalf("%d records", len(recs))
	}
	for _, r := range recs {
		if r.Shadow != nil || r.Outcome != r.Result.Outcome {
			t.Fatalf("record %s changed by the shadow: %+v", r.DecisionID, r)
		}
	}
	if dw.Outcome == pdp.Deny {
		t.Fatalf("live withdrawal: %+v", dw)
	}
	logged := out.String()
	if !strings.Contains(logged, "shadow decision differs") || !strings.Contains(logged, "decision_id="+dw.ID) ||
		!strings.Contains(logged, "shadow=deny") || !strings.Contains(logged, "candidate_no_withdrawals") {
		t.Fatalf("service log: %s", logged)
	}
	if strings.Contains(logged, dp.ID) {
		t.Fatalf("the candidate agrees on the payment, yet: %s", logged)
	}
	var buf bytes.Buffer
	m.Write(&buf)
	for _, want := range []string{
		`pdp_shadow_decisions_total{live="` + dw.Outcome.String() + `",shadow="deny"} 1`,
		`pdp_shadow_decisions_total{live="allow",shadow="allow"} 1`,
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// A decision the synchronous log refused was not recorded: the shadow is
// not offered it.
func TestShadowSeesOnlyRecordedDecisions(t *testing.T) {
	m := metrics.New()
	sh := NewShadow(ShadowOptions{Engine: shadowCandidate(t), SampleRate: 1, Metrics: m, Logger: quiet})
	l, _ := newLog(t, decisionlog.Config{Sync: true})
	s := newTestService(t, Options{DecisionLog: l, DecisionLogSync: true, Shadow: sh})
	mustDecide(t, s, cleanPayment)
	l.Close(context.Background())
	if _, err := s.Decide(context.Background(), []byte(cleanPayment), ""); err == nil {
		t.Fatal("decided with the log closed")
	}
	sh.Close()
	var buf bytes.Buffer
	m.Write(&buf)
	if want := `pdp_shadow_decisions_total{live="allow",shadow="allow"} 1`; !strings.Contains(buf.String(), want) {
		t.Fatalf("want %s:\n%s", want, grepLines(buf.String(), "pdp_shadow_decisions_total"))
	}
}

// A sampled decision is shed, not queued, while every core is busy with
// live decisions; shed records are logged by the caller.
func TestShadowShedsUnderLoad(t *testing.T) {
	cand, err := policy.New(policy.Options{Source: policy.Source{FS: policies.FS, Label: "embedded"}, Package: "riskpdp",
		EvalTimeout: time.Second, Limits: request.Limits{MaxDepth: 16, MaxAmount: 1e12}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer cand.Close()
	m := metrics.New()
	sh := NewShadow(ShadowOptions{Engine: cand, SampleRate: 1, QueueSize: 1, Metrics: m, Logger: quiet})
	defer sh.Close()
	for range sh.procs + 1 {
		sh.enter()
	}
	if sh.offer(shadowItem{}) {
		t.Fatal("queued while every core is busy")
	}
	for range sh.procs + 1 {
		sh.exit()
	}
	var buf bytes.Buffer
	m.Write(&buf)
	if !strings.Contains(buf.String(), `pdp_shadow_shed_total{reason="busy"} 1`) {
		t.Fatal("shed not counted")
	}
}
