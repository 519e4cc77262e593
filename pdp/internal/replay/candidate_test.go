package replay

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/riskpdp/riskpdp/pdp/internal/policy"
)

// TestReplayRefusesBrokenCandidate: a candidate the sidecar would refuse
// to serve (policy data its data_errors rule names, a rule whose built-in
// call fails on constant arguments) is refused by pdp replay the same way,
// before any log is read: replaying it would report decisions no sidecar
// makes.
func TestReplayRefusesBrokenCandidate(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "decisions.log")
	if err := os.WriteFile(log, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	constant := copyPolicies(t, "", "")
	rule := "package riskpdp\n\nstep_up contains \"odd\" if {\n\tinput.stage == \"withdrawal\"\n\tinput.txn.amount > to_number(\"1O00\")\n}\n"
	if err := os.WriteFile(filepath.Join(constant, "riskpdp", "odd.rego"), []byte(rule), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, policies string
		want           error
		msg            string
	}{
		{"threshold as a string", copyPolicies(t, `"medium": 2000,`, `"medium": "2000",`), policy.ErrPolicyData,
			"data.riskpdp.config.thresholds.medium: Invalid type"},
		{"unknown key", copyPolicies(t, `"vip_multiplier": 3,`, `"vip_multiplier": 3, "vip_multiplyer": 1,`), policy.ErrPolicyData,
			"Additional property vip_multiplyer is not allowed"},
		{"constant call fails", constant, policy.ErrConstantCall, "riskpdp/odd.rego:5"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := New(Options{Policies: c.policies, Logs: []string{log}})
			if err == nil {
				r.Close()
				t.Fatal("candidate accepted")
			}
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("got %v, want %v naming %q", err, c.want, c.msg)
			}
		})
	}
}
