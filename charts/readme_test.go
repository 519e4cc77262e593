package charts

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestReadmeValuesTable: every value of both charts is documented in the
// README's "Deploy with Helm" section (as `pdp.key` for the library's).
func TestReadmeValuesTable(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Deploy with Helm\n")
	if !ok {
		t.Fatal(`README.md has no "## Deploy with Helm" section`)
	}
	if next := strings.Index(section, "\n## "); next >= 0 {
		section = section[:next]
	}
	for chart, prefix := range map[string]string{libraryChart: "pdp.", demoChart: ""} {
		for _, key := range valueKeys(t, chart) {
			if prefix == "" && strings.HasPrefix(key, "pdp.") {
				continue // the demo's own setting of a library value
			}
			if !strings.Contains(section, "`"+prefix+key+"`") {
				t.Errorf("README: value `%s%s` of %s is not in the Deploy with Helm section", prefix, key, chart)
			}
		}
	}
}

// valueKeys lists the leaf keys of a chart's values.yaml; maps and lists
// that default to empty are leaves.
func valueKeys(t *testing.T, chart string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(chart, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var values map[string]any
	if err := yaml.Unmarshal(b, &values); err != nil {
		t.Fatal(err)
	}
	var keys []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if m, ok := v.(map[string]any); ok && len(m) > 0 && prefix != "resources." && prefix != "pdp.resources." {
			for k, sub := range m {
				walk(prefix+k+".", sub)
			}
			return
		}
		keys = append(keys, strings.TrimSuffix(prefix, "."))
	}
	walk("", values)
	sort.Strings(keys)
	return keys
}
