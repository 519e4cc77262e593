package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// explainBody is a 6000 CNY payment from a device the account never used,
// from abroad (SG; home CN), by an account created in 2022: a step-up for
// large_amount and new_device_foreign_ip.
func explainBody(n int) string {
	return fmt.Sprintf(`{"stage":"payment","uid":"u-explain-%d","device":{"id":"d-explain-%d","ip":"198.51.100.%d","ip_country":"SG"},
		"txn":{"id":"t-explain-%d","amount":6000,"currency":"CNY","category":"digital"},
		"account":{"home_country":"CN","created_at":"2022-01-01T00:00:00Z"}}`, n, n, n+1, n)
}

// TestExplainStepUpCLI: `pdp explain` names the two rules of the step-up
// with their file and line and the input values that made them fire; with
// --json, the decision, the rules and the policy input.
func TestExplainStepUpCLI(t *testing.T) {
	file := filepath.Join(t.TempDir(), "request.json")
	if err := os.WriteFile(file, []byte(explainBody(1)), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		args = append([]string{"explain", "--state", filepath.Join(t.TempDir(), "state.db"), "--log-level", "error"}, args...)
		if code := Run(context.Background(), append(args, file), &out, &errb); code != 0 {
			t.Fatalf("pdp explain: %d %s", code, errb.String())
		}
		return out.String()
	}
	text := run()
	for _, want := range []string{
		"decision: step_up (large_amount, new_device_foreign_ip)",
		`step_up "large_amount"`, `step_up "new_device_foreign_ip"`, "riskpdp/rules.rego:",
		"input.derived.device_known = false", "input.derived.ip_domestic = false",
		"data.riskpdp.amount = 6000", "data.riskpdp.trusted is undefined",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text explanation lacks %q:\n%s", want, text)
		}
	}
	var x struct {
		Decision struct {
			Outcome string   `json:"outcome"`
			Reasons []string `json:"reasons"`
		} `json:"decision"`
		Rules []struct {
			Rule     string         `json:"rule"`
			Value    any            `json:"value"`
			Location string         `json:"location"`
			Inputs   map[string]any `json:"inputs"`
			Refs     map[string]any `json:"refs"`
		} `json:"rules"`
		Input map[string]any `json:"input"`
	}
	if err := json.Unmarshal([]byte(run("--json")), &x); err != nil {
		t.Fatal(err)
	}
	if x.Decision.Outcome != "step_up" || !reflect.DeepEqual(x.Decision.Reasons, []string{"large_amount", "new_device_foreign_ip"}) {
		t.Errorf("decision %+v", x.Decision)
	}
	found := false
	for _, r := range x.Rules {
		if r.Value == "large_amount" {
			found = true
			if r.Rule != "step_up" || !strings.HasPrefix(r.Location, "riskpdp/rules.rego:") || r.Inputs["input.derived.money"] != true || r.Refs["data.riskpdp.amount"] != 6000.0 {
				t.Errorf("large_amount: %+v", r)
			}
		}
	}
	if !found || x.Input["derived"] == nil || x.Input["velocity"] == nil {
		t.Errorf("rules %+v input %v", x.Rules, x.Input)
	}
}

// TestExplainIsReadOnly: explanations from a running sidecar change
// nothing (two in a row build the same velocity and risk state), a
// decision does (the next explanation sees it counted and the device
// remembered), and the explanation's outcome is the decision's.
func TestExplainIsReadOnly(t *testing.T) {
	s := startSidecar(t)
	body := explainBody(2)
	explain := func() map[string]any {
		t.Helper()
		code, x := s.post("/v1/decide?explain=true", "application/json", body)
		if code != 200 {
			t.Fatalf("explain: %d %v", code, x)
		}
		return x
	}
	part := func(x map[string]any, key string) string {
		in, _ := x["input"].(map[string]any)
		b, _ := json.Marshal(in[key])
		return string(b)
	}
	first, second := explain(), explain()
	for _, key := range []string{"velocity", "account_state", "derived"} {
		if part(first, key) != part(second, key) {
			t.Errorf("an explanation changed input.%s: %s, then %s", key, part(first, key), part(second, key))
		}
	}
	code, d := s.decide(body)
	if code != 200 {
		t.Fatal(code, d)
	}
	if got := first["decision"].(map[string]any)["outcome"]; got != d["outcome"] {
		t.Errorf("explained %v, decided %v", got, d["outcome"])
	}
	if third := explain(); part(third, "velocity") == part(first, "velocity") {
		t.Errorf("a decision did not show in the next explanation's velocity: %s", part(third, "velocity"))
	}
}

// explain.log: true writes each explanation to the decision log as a query
// on riskpdp/explain (no decision); without it nothing is logged.
func TestExplainLog(t *testing.T) {
	for _, on := range []bool{false, true} {
		dir := t.TempDir()
		logPath := filepath.Join(dir, "decisions.jsonl")
		cfg := filepath.Join(dir, "pdp.yaml")
		writeFile(t, cfg, fmt.Sprintf("policies:\n  eval_timeout: 2s\ndecision_log:\n  path: %s\n  sync: true\nexplain:\n  log: %v\n", logPath, on))
		s := startSidecar(t, "--config", cfg)
		if code, x := s.post("/v1/decide?explain=true", "application/json", explainBody(7)); code != 200 {
			t.Fatalf("explain: %d %v", code, x)
		}
		if code, d := s.decide(pay("u-explain-log", "t-1", 20, "")); code != 200 {
			t.Fatalf("decide: %d %v", code, d) // a decision after it: the log is written in order
		}
		var paths []string
		waitFor(t, func() bool {
			b, _ := os.ReadFile(logPath)
			paths = paths[:0]
			for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				var rec struct {
					Path string `json:"path"`
				}
				if json.Unmarshal([]byte(line), &rec) == nil && rec.Path != "" {
					paths = append(paths, rec.Path)
				}
			}
			return len(paths) >= 1 && (!on || len(paths) >= 2)
		})
		explained := slices.Contains(paths, "riskpdp/explain")
		if explained != on {
			t.Errorf("explain.log %v: the log's paths %v", on, paths)
		}
	}
}
