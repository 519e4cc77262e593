package plugin

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/riskpdp/riskpdp/pdp/internal/plugin/plugintest"
	"github.com/riskpdp/riskpdp/pdp/plugin/abi"
)

var goExamples struct {
	sync.Once
	dir string
}

// goExampleDir builds and installs the three Go examples once per binary.
func goExampleDir(tb testing.TB) string {
	tb.Helper()
	goExamples.Do(func() {
		dir, err := os.MkdirTemp("", "riskpdp-examples")
		if err != nil {
			tb.Fatal(err)
		}
		src := plugintest.InstallExamples(tb, "habit_deviation", "device_risk", "fraud_model")
		ents, _ := os.ReadDir(src)
		for _, e := range ents {
			b, _ := os.ReadFile(filepath.Join(src, e.Name()))
			os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644)
		}
		goExamples.dir = dir
	})
	if goExamples.dir == "" {
		tb.Fatal("examples failed to build")
	}
	return goExamples.dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if goExamples.dir != "" {
		os.RemoveAll(goExamples.dir)
	}
	os.Exit(code)
}

// golden is a features JSON and the expected result of one plugin.
type golden struct {
	name     string
	features string
	min, max float64
	reasons  []string
}

var exampleGolden = map[string][]golden{
	"habit_deviation": {
		{"usual daily goods", `{"stage": "payment", "amount": 28, "category_code": "daily_goods", "habit_amount_mean": 30,
			"habit_amount_std": 12, "habit_count": 300, "habit_category_share": 0.85}`, 0, 0.01, nil},
		{"small goods to large digital", `{"stage": "payment", "amount": 3000, "category_code": "digital", "habit_amount_mean": 30,
			"habit_amount_std": 12, "habit_count": 300, "habit_category_share": 0}`, 0.9, 1,
			[]string{"amount_far_above_habit", "new_category", "high_risk_category_shift"}},
		{"somewhat above habit", `{"stage": "payment", "amount": 90, "category_code": "daily_goods", "habit_amount_mean": 30,
			"habit_amount_std": 12, "habit_count": 300, "habit_category_share": 0.85}`, 0.3, 0.6, []string{"amount_above_habit"}},
		{"thin history", `{"stage": "payment", "amount": 3000, "habit_count": 2}`, 0.1, 0.1, []string{"thin_history"}},
		{"login", `{"stage": "login"}`, 0, 0, nil},
	},
	"device_risk": {
		{"known device", `{"device_uids_1h": 1, "uid_devices_1h": 1}`, 0, 0, nil},
		{"new device, foreign IP", `{"device_new": 1, "ip_foreign": 1}`, 0.5, 0.5, []string{"new_device_foreign_ip"}},
		{"device farm", `{"device_uids_1h": 10, "login_failures_1h": 6}`, 0.7, 0.85, []string{"shared_device", "login_failures"}},
		{"blocked device", `{"device_blocked": true}`, 0.95, 0.95, []string{"blocked_device"}},
	},
	"fraud_model": {
		{"ordinary purchase", `{"amount": 35, "habit_amount_mean": 40, "habit_count": 100, "habit_category_share": 0.7,
			"category_code": "daily_goods", "payment_method_code": "card", "account_age_days": 700, "hour_of_day": 15}`, 0, 0.05, nil},
		{"account takeover", `{"amount": 2500, "habit_amount_mean": 40, "habit_count": 100, "habit_category_share": 0,
			"category_code": "gift_card", "device_new": 1, "ip_foreign": 1, "hours_since_sensitive_change": 3,
			"account_age_days": 700, "hour_of_day": 2}`, 0.95, 1, nil},
		{"card testing", `{"amount": 3, "habit_amount_mean": 40, "habit_count": 30, "uid_count_1h": 15,
			"payment_failures_1h": 6, "pin_failures_1h": 2, "payment_method_code": "virtual_card", "account_age_days": 5,
			"hour_of_day": 12}`, 0.9, 1, nil},
	},
	"velocity_burst": {
		{"quiet", `{"amount": 20, "uid_count_1m": 1, "uid_amount_1m": 20}`, 0, 0, nil},
		{"more than 5 a minute", `{"amount": 20, "uid_count_1m": 7, "uid_amount_1m": 40}`, 0.75, 0.8, []string{"over_5_per_minute"}},
		{"failures", `{"payment_failures_1h": 4}`, 0.4, 0.4, []string{"repeated_failures"}},
	},
}

// checkGolden scores every golden case of the plugins in h.
func checkGolden(t *testing.T, h *Host) {
	t.Helper()
	s := h.Acquire()
	defer s.Release()
	for i, info := range s.Plugins() {
		for _, g := range exampleGolden[info.Name] {
			t.Run(info.Name+"/"+g.name, func(t *testing.T) {
				f, err := DecodeFeaturesJSON([]byte(g.features))
				if err != nil {
					t.Fatal(err)
				}
				r := s.Score(&f, Source{}, nil)[i]
				if r.Err != nil || r.Score < g.min || r.Score > g.max {
					t.Fatalf("score %v err %v, want [%v, %v]", r.Score, r.Err, g.min, g.max)
				}
				if g.reasons != nil && !sameSet(r.Reasons, g.reasons) {
					t.Fatalf("reasons %v, want %v", r.Reasons, g.reasons)
				}
			})
		}
	}
}

// TestExamples loads the Go examples together and checks golden cases;
// the model's high scores also pass through the ABI as probabilities.
func TestExamples(t *testing.T) {
	h := newHost(t, testConfig(t), goExampleDir(t))
	s := h.Acquire()
	names := []string{}
	for _, p := range s.Plugins() {
		names = append(names, p.Name)
	}
	s.Release()
	if !slices.Equal(names, []string{"device_risk", "fraud_model", "habit_deviation"}) {
		t.Fatalf("plugins %v", names)
	}
	checkGolden(t, h)
}

// TestCPlugin builds the C example with clang and runs it against the same
// ABI. Skips without clang, fails without it when CI=true.
func TestCPlugin(t *testing.T) {
	plugintest.RequireClang(t)
	dir := plugintest.InstallExamples(t, "velocity_burst")
	h := newHost(t, testConfig(t), dir)
	checkGolden(t, h)
}

// TestCHeaderMatchesABI: the feature indices of plugins/sdk/c/riskpdp.h are
// those of package abi.
func TestCHeaderMatchesABI(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(plugintest.Root(t), "plugins/sdk/c/riskpdp.h"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`RISKPDP_([A-Z0-9_]+) = (\d+),`)
	n := 0
	for _, m := range re.FindAllStringSubmatch(string(b), -1) {
		if strings.HasPrefix(m[1], "CAT_") {
			name := strings.ToLower(strings.TrimPrefix(m[1], "CAT_"))
			if c, _ := strconv.Atoi(m[2]); abi.CategoryCodeOf(name) != c {
				t.Errorf("category %s = %s in the header, %d in abi", name, m[2], abi.CategoryCodeOf(name))
			}
			continue
		}
		f, ok := abi.LookupFeature(strings.ToLower(m[1]))
		if i, _ := strconv.Atoi(m[2]); !ok || int(f) != i {
			t.Errorf("feature %s = %s in the header, %d in abi", m[1], m[2], f)
		}
		n++
	}
	if n != int(abi.NumFeatures) {
		t.Errorf("header defines %d features, abi %d", n, abi.NumFeatures)
	}
}

func TestTestModuleAndBenchModule(t *testing.T) {
	ctx := context.Background()
	wasm := filepath.Join(goExampleDir(t), "habit_deviation.wasm")
	var out bytes.Buffer
	err := TestModule(ctx, wasm, []byte(`{"stage": "payment", "amount": 3000, "category_code": "digital",
		"habit_amount_mean": 30, "habit_amount_std": 12, "habit_count": 300, "habit_category_share": 0, "vip": 1}`), &out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"habit_deviation 1.0.0", "score    0.9", "amount_far_above_habit, new_category",
		"not passed: vip"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("TestModule output lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := BenchModule(ctx, wasm, 2000, &out); err != nil {
		t.Fatal(err)
	}
	// Timeouts are reported, not fatal: a 1 ms budget can be missed on a
	// busy machine. Any other fault fails BenchModule itself.
	if !strings.Contains(out.String(), "calls    2000, faults 0,") {
		t.Errorf("BenchModule output:\n%s", out.String())
	}
	if err := TestModule(ctx, wasm, []byte(`{"nope": 1}`), &out); err == nil {
		t.Error("unknown feature accepted")
	}
	if err := TestModule(ctx, filepath.Join(t.TempDir(), "missing.wasm"), []byte(`{}`), &out); err == nil {
		t.Error("missing module accepted")
	}
}
