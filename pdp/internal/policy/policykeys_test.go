package policy

import (
	"encoding/json"
	"io/fs"
	"strings"
	"testing"

	"github.com/riskpdp/riskpdp/policies"
)

// Every key of the reference policy's data is read by a rule (or removed):
// a fixed key's name appears in a rule as a reference, and every reason of
// methods is one a rule produces. Maps keyed by currency, category or
// phrase list (rates, category_price, high_value_categories, scam…)
// are read whole. The data check (data_errors.rego) reads everything and
// does not count.
func TestEveryDataKeyIsRead(t *testing.T) {
	var rules strings.Builder
	err := fs.WalkDir(policies.FS, "riskpdp", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".rego") || strings.HasSuffix(p, "_test.rego") || strings.HasSuffix(p, "/data_errors.rego") {
			return err
		}
		b, err := fs.ReadFile(policies.FS, p)
		rules.Write(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	src := rules.String()
	b, err := fs.ReadFile(policies.FS, "riskpdp/config/data.json")
	if err != nil {
		t.Fatal(err)
	}
	var data map[string]any
	if err := json.Unmarshal(b, &data); err != nil {
		t.Fatal(err)
	}
	maps := map[string]bool{"rates": true, "category_price": true, "high_value_categories": true, "scam": true,
		"messages": true} // read whole by the sidecar through the rule messages
	var walk func(prefix string, m map[string]any)
	walk = func(prefix string, m map[string]any) {
		for k, v := range m {
			path := prefix + k
			switch {
			case maps[path]:
				if !strings.Contains(src, "config."+path) {
					t.Errorf("data %s is read by no rule", path)
				}
			case path == "methods":
				for reason := range v.(map[string]any) {
					if !stepUpReason(src, reason) {
						t.Errorf("data methods.%s: no step_up rule gives the reason %q", reason, reason)
					}
				}
			case isObject(v):
				walk(path+".", v.(map[string]any))
			case !strings.Contains(src, "."+k):
				t.Errorf("data %s is read by no rule", path)
			}
		}
	}
	walk("", data)
}

func isObject(v any) bool { _, ok := v.(map[string]any); return ok }

// stepUpReason reports whether a step_up rule's head names reason, or a
// step_up rule's head names a constant whose reason it is (`step_up
// contains scam_statement if`, `scam_statement := {"reason": ...}`).
func stepUpReason(src, reason string) bool {
	lines := strings.Split(src, "\n")
	for _, line := range lines {
		if !strings.HasPrefix(line, "step_up contains ") {
			continue
		}
		if strings.Contains(line, `"`+reason+`"`) {
			return true
		}
		name, _, _ := strings.Cut(strings.TrimPrefix(line, "step_up contains "), " ")
		for _, def := range lines {
			if strings.HasPrefix(def, name+" := {") && strings.Contains(def, `"reason": "`+reason+`"`) {
				return true
			}
		}
	}
	return false
}
