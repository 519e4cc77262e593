package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/rego"
)

func testMix(t *testing.T, size int) (MixConfig, []Request) {
	t.Helper()
	cfg := MixConfig{Kind: MixZipf, Size: size, Now: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)}.withDefaults()
	mix, err := GenerateMix(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, mix
}

func TestGenerateMix(t *testing.T) {
	cfg, mix := testMix(t, 1500)
	_, again := testMix(t, 1500)
	uids := map[string]int{}
	stagesSeen := map[string]int{}
	risky := 0
	for i, r := range mix {
		if !bytes.Equal(r.Decide, again[i].Decide) || !bytes.Equal(r.OPA, again[i].OPA) {
			t.Fatalf("request %d differs between two mixes of the same seed", i)
		}
		var d map[string]any
		if err := json.Unmarshal(r.Decide, &d); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		var o struct{ Input map[string]any }
		if err := json.Unmarshal(r.OPA, &o); err != nil || o.Input["stage"] != d["stage"] || o.Input["velocity"] == nil {
			t.Fatalf("OPA body %d: %v %s", i, err, r.OPA)
		}
		uids[d["uid"].(string)]++
		stagesSeen[r.Stage]++
		if r.Risk != "" {
			risky++
		}
	}
	for _, st := range stages {
		if stagesSeen[st.name] == 0 {
			t.Errorf("no %s requests", st.name)
		}
	}
	if share := float64(risky) / float64(len(mix)); share < cfg.Risky/2 || share > cfg.Risky*2 {
		t.Errorf("risky share %.3f, configured %.2f", share, cfg.Risky)
	}
	// Zipf: many distinct accounts, and a head that repeats.
	top := 0
	for _, n := range uids {
		top = max(top, n)
	}
	if len(uids) < 300 || top < 8 {
		t.Errorf("%d distinct UIDs, the most frequent %d times", len(uids), top)
	}
}

// The OPA side of the comparison evaluates the reference policy (with the
// harness's decision rule, and ×10 generated rules) on the adapted input
// and reaches every outcome; the risk patterns hit the paths they aim at.
func TestOPAPolicyOnMix(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	ps, err := PreparePolicies(root, t.TempDir(), 10, true)
	if err != nil {
		t.Fatal(err)
	}
	if ps.Generated == 0 || ps.Rules != ps.Generated*10/9 {
		t.Fatalf("policy set %+v", ps)
	}
	if src := GenerateRules(5); strings.Count(src, " contains ") != 5 {
		t.Fatalf("GenerateRules(5):\n%s", src)
	}
	ctx := context.Background()
	pq, err := rego.New(rego.Query("data.riskpdp.decision"), rego.Load([]string{ps.Dir}, nil)).PrepareForEval(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, mix := testMix(t, 600)
	outcomes := map[string]int{}
	for _, r := range mix {
		var body struct{ Input any }
		if err := json.Unmarshal(r.OPA, &body); err != nil {
			t.Fatal(err)
		}
		rs, err := pq.Eval(ctx, rego.EvalInput(body.Input))
		if err != nil || len(rs) != 1 {
			t.Fatalf("eval: %v, %d results", err, len(rs))
		}
		d := rs[0].Expressions[0].Value.(map[string]any)
		out := d["outcome"].(string)
		outcomes[out]++
		switch r.Risk {
		case "blocklisted_device", "extreme_amount":
			if out != "deny" {
				t.Errorf("%s request answered %v", r.Risk, d)
			}
		case "new_device_foreign_ip", "risky_environment":
			if out == "allow" {
				t.Errorf("%s request allowed: %v", r.Risk, d)
			}
		}
	}
	if outcomes["allow"] == 0 || outcomes["step_up"] == 0 || outcomes["deny"] == 0 || outcomes["allow"] < len(mix)/2 {
		t.Fatalf("outcomes %v", outcomes)
	}
}

func TestReplaceBetween(t *testing.T) {
	in := []byte("# t\n\n" + beginMarker + "\nold\n" + endMarker + "\ntail\n")
	out, err := replaceBetween(in, "new table\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := "# t\n\n" + beginMarker + "\nnew table\n" + endMarker + "\ntail\n"; string(out) != want {
		t.Fatalf("got %q", out)
	}
	if _, err := replaceBetween([]byte("no markers"), "x"); err == nil {
		t.Fatal("no error without markers")
	}
}

// The OPA inputs value amounts at the reference policy's own rates.
func TestPolicyRatesAreTheReferencePolicys(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "policies", "riskpdp", "config", "data.json"))
	if err != nil {
		t.Fatal(err)
	}
	var data struct {
		Rates map[string]float64 `json:"rates"`
	}
	if err := json.Unmarshal(b, &data); err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(data.Rates, policyRates) {
		t.Fatalf("bench rates %v, the reference policy's %v", policyRates, data.Rates)
	}
}
