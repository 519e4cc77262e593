package cli

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/riskpdp/riskpdp/pdp/internal/plugin/plugintest"
)

func TestPluginCommands(t *testing.T) {
	dir := plugintest.InstallExamples(t, "fraud_model")
	wasm := filepath.Join(dir, "fraud_model.wasm")
	var out bytes.Buffer
	features := filepath.Join(t.TempDir(), "f.json")
	writeFile(t, features, `{"amount": 9000, "stage": "withdrawal", "device_new": true, "ip_foreign": true, "account_age_days": 2}`)
	if code := Run(context.Background(), []string{"plugin", "test", wasm, features}, &out, io.Discard); code != 0 ||
		!strings.Contains(out.String(), "fraud_model") || !strings.Contains(out.String(), "score") {
		t.Fatalf("plugin test: %d\n%s", code, out.String())
	}
	out.Reset()
	if code := Run(context.Background(), []string{"plugin", "bench", "-n", "500", wasm}, &out, io.Discard); code != 0 ||
		!strings.Contains(out.String(), "calls    500") {
		t.Fatalf("plugin bench: %d\n%s", code, out.String())
	}
	var stderr bytes.Buffer
	if code := Run(context.Background(), []string{"plugin", "test", wasm, features + ".missing"}, io.Discard, &stderr); code == 0 {
		t.Fatal("a missing features file was accepted")
	}
}
