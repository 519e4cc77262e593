package plugin

import (
	"os"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp/internal/plugin/plugintest"
)

// A plugin cannot read, list or write host files, see the host's
// environment, or read the real clock without the clock grant: the
// snoop plugin tries each and reports what worked as reason bits (the
// README's Security claim on what a malicious plugin can do).
func TestSandboxHidesTheHost(t *testing.T) {
	module := plugintest.BuildGo(t, "pdp/internal/plugin/testdata/snoop")
	const manifest = "name: snoop\nversion: 0.0.1\nabi: 1\nfeatures: [amount]\n" +
		"reasons: [read_file, list_dir, write_file, host_env, real_clock]\nfailure_mode: open\n"
	h := newHost(t, testConfig(t), writeDir(t, "", "snoop", module, manifest))
	r, _ := scoreOne(t, h, behave(0, float64(time.Now().Unix())))
	if r.Err != nil || r.Score != 0 || r.Mask != 0 {
		t.Fatalf("the plugin got out: score %v, reasons %v, err %v", r.Score, r.Reasons, r.Err)
	}
	if _, err := os.Stat("/tmp/snoop"); err == nil {
		t.Error("/tmp/snoop exists on the host")
	}
	// With the clock granted, the same probe sees the real clock: the
	// probe works, the sandbox is what stopped it above.
	cfg := testConfig(t)
	cfg.Grants = map[string][]Capability{"snoop": {CapClock}}
	h = newHost(t, cfg, writeDir(t, "", "snoop", module, manifest+"requires: [clock]\n"))
	if r, _ := scoreOne(t, h, behave(0, float64(time.Now().Unix()))); r.Mask != 16 {
		t.Errorf("with the clock granted: score %v, reasons %v, err %v; want real_clock only", r.Score, r.Reasons, r.Err)
	}
}
