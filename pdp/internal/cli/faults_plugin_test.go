package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp/internal/plugin/plugintest"
)

// A closed-mode plugin that loops, traps, writes out of bounds, eats its
// memory cap or answers NaN, under concurrent load on a live sidecar:
// every decision is answered (200), none is allow, each carries
// plugin_unavailable; the faults are counted by kind; and the sidecar is
// still ready afterwards. The test plugin (pdp/internal/plugin/testdata/faulty)
// picks its misbehaviour from the request's stage.
func TestFaultPluginUnderLoad(t *testing.T) {
	module := plugintest.BuildGo(t, "pdp/internal/plugin/testdata/faulty")
	dir := t.TempDir()
	wasm, err := os.ReadFile(module)
	if err != nil {
		t.Fatal(err)
	}
	plugins := filepath.Join(dir, "plugins")
	os.Mkdir(plugins, 0o755)
	os.WriteFile(filepath.Join(plugins, "faulty.wasm"), wasm, 0o644)
	os.WriteFile(filepath.Join(plugins, "faulty.yaml"), []byte("name: faulty\nversion: 0.0.1\nabi: 1\nfeatures: [amount, stage]\nreasons: [big]\nfailure_mode: closed\n"), 0o644)
	cfg := filepath.Join(dir, "pdp.yaml")
	os.WriteFile(cfg, []byte("plugins:\n  time_budget: 20ms\n  memory_limit: 8388608\n"), 0o644)
	s := startSidecar(t, "--plugins", plugins, "--config", cfg)

	txn := `"txn":{"id":"t","amount":50,"currency":"CNY","category":"daily_goods"},"account":{"home_country":"CN","created_at":"2020-01-01T00:00:00Z"}`
	bodies := map[string]string{ // stage → the plugin's misbehaviour
		"login":      `{"stage":"login","uid":"U","device":{"id":"d-1"},"account":{"home_country":"CN","created_at":"2020-01-01T00:00:00Z"}}`, // infinite loop
		"order":      `{"stage":"order","uid":"U",` + txn + `}`,                                                                               // panic (trap)
		"payment":    `{"stage":"payment","uid":"U",` + txn + `}`,                                                                             // out-of-bounds write
		"withdrawal": `{"stage":"withdrawal","uid":"U",` + txn + `}`,                                                                          // memory past the cap
		"repayment":  `{"stage":"repayment","uid":"U",` + txn + `}`,                                                                           // NaN score
	}
	stages := []string{"login", "order", "payment", "withdrawal", "repayment"}
	var answered, allows, other atomic.Int64
	var wg sync.WaitGroup
	deadline := time.Now().Add(2 * time.Second)
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; time.Now().Before(deadline); n++ {
				stage := stages[(w+n)%len(stages)]
				body := strings.Replace(bodies[stage], `"uid":"U"`, fmt.Sprintf(`"uid":"p-%d-%d"`, w, n), 1)
				code, d := s.decide(body)
				answered.Add(1)
				reasons := toStrings(d["reasons"])
				switch {
				case code == 200 && d["outcome"] == "allow":
					allows.Add(1)
					t.Errorf("%s: allow with a failing closed plugin: %v", stage, d)
				case code != 200 || !slices.Contains(reasons, "plugin_unavailable"):
					other.Add(1)
					t.Errorf("%s: %d %v", stage, code, d)
				}
			}
		}()
	}
	wg.Wait()
	if code, body := s.get("/health/ready"); code != 200 {
		t.Errorf("not ready after the faults: %d %s", code, body)
	}
	_, metrics := s.get("/metrics")
	faults := map[string]float64{}
	for _, m := range regexp.MustCompile(`(?m)^pdp_plugin_faults_total\{kind="(\w+)",plugin="faulty"\} (\S+)$`).FindAllStringSubmatch(metrics, -1) {
		faults[m[1]], _ = strconv.ParseFloat(m[2], 64)
	}
	if faults["timeout"]+faults["trap"]+faults["memory"]+faults["garbage"] == 0 {
		t.Errorf("no runtime faults counted: %v", faults)
	}
	t.Logf("plugin faults under load: %d decisions answered, %d allows, %d other answers; faults counted %v", answered.Load(), allows.Load(), other.Load(), faults)
}
