package plugin

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/riskpdp/riskpdp/pdp/plugin/abi"
)

func TestDecodeManifest(t *testing.T) {
	m, err := DecodeManifest([]byte(tinyManifest + "limits: {time: 500us, fuel: 5000, memory: 2MiB}\nrequires: [clock]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := m.Limits.time(); d != 500*time.Microsecond {
		t.Errorf("time %v", d)
	}
	if b, _ := m.Limits.memory(); b != 2<<20 {
		t.Errorf("memory %v", b)
	}
	if len(m.features) != 1 || m.features[0] != abi.Amount {
		t.Errorf("features %v", m.features)
	}
	bad := []struct{ yaml, want string }{
		{"", "manifest is empty"},
		{"name: Tiny\n", "name \"Tiny\""},
		{strings.Replace(tinyManifest, "[amount]", "[amount, amount]", 1), "listed twice"},
		{strings.Replace(tinyManifest, "[amount]", "[amont]", 1), "unknown feature \"amont\""},
		{strings.Replace(tinyManifest, "[amount]", "[]", 1), "at least one feature"},
		{strings.Replace(tinyManifest, "[a, b]", "[a, a]", 1), "\"a\" listed twice"},
		{strings.Replace(tinyManifest, "[a, b]", "[A-1]", 1), "not a valid reason code"},
		{strings.Replace(tinyManifest, "closed", "ajar", 1), "failure_mode \"ajar\""},
		{tinyManifest + "module: ../x.wasm\n", "want a .wasm file name"},
		{tinyManifest + "limits: {time: soon}\n", "limits.time"},
		{tinyManifest + "limits: {time: -1s}\n", "must be positive"},
		{tinyManifest + "limits: {memory: 5GiB}\n", "limits.memory"},
		{tinyManifest + "limits: {memory: lots}\n", "limits.memory"},
		{tinyManifest + "requires: [disk]\n", "unknown capability \"disk\""},
		{tinyManifest + "smoke: [{features: {amount: x}}]\n", "smoke[0]"},
		{tinyManifest + "smoke: [{score: [0.5, 0.2]}]\n", "smoke[0]: score"},
		{tinyManifest + "smoke: [{reasons: [zz]}]\n", "reason \"zz\" is not declared"},
		{"name: [\n", "yaml"},
	}
	for _, tt := range bad {
		if _, err := DecodeManifest([]byte(tt.yaml)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("DecodeManifest(%q) = %v, want %q", tt.yaml, err, tt.want)
		}
	}
}

func FuzzDecodeManifest(f *testing.F) {
	f.Add([]byte(tinyManifest))
	f.Add([]byte(tinyManifest + "limits: {time: 1ms, memory: 1MiB}\nsmoke: [{features: {amount: 3}, score: [0, 1]}]\n"))
	f.Add([]byte("name: x\nfeatures: [stage]\nsmoke: [{features: {stage: payment}}]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeManifest(b)
		if err != nil {
			return
		}
		// An accepted manifest satisfies what the host relies on.
		if !validName(m.Name) || m.ABI != abi.Version || len(m.features) != len(m.Features) ||
			len(m.Reasons) > abi.MaxReasons || (m.FailureMode != FailOpen && m.FailureMode != FailClosed) {
			t.Fatalf("accepted an invalid manifest: %+v", m)
		}
		for _, sc := range m.Smoke {
			if _, err := featuresFromMap(sc.Features); err != nil {
				t.Fatalf("accepted smoke features that do not decode: %v", err)
			}
		}
	})
}

func TestDecodeFeaturesJSON(t *testing.T) {
	f, err := DecodeFeaturesJSON([]byte(`{"amount": 12.5, "stage": "withdrawal", "device_new": true,
		"category_code": 6, "payment_method_code": "wallet", "account_age_days": -1}`))
	if err != nil {
		t.Fatal(err)
	}
	want := NewFeatures()
	want[abi.Amount], want[abi.Stage], want[abi.DeviceNew] = 12.5, abi.StageWithdrawal, 1
	want[abi.CategoryCode], want[abi.PaymentMethodCode] = abi.CategoryGiftCard, abi.MethodWallet
	if f != want {
		t.Fatalf("got %v\nwant %v", f, want)
	}
	for _, tt := range []struct{ json, want string }{
		{`[]`, "want an object"},
		{`{"amount": 1, "amount": 2}`, "given twice"},
		{`{"colour": 1}`, "unknown feature"},
		{`{"device_new": 2}`, "want 0 or 1"},
		{`{"amount": true}`, "true/false only"},
		{`{"stage": "refund"}`, "not a known name"},
		{`{"stage": 9}`, "integer code from 0 to 5"},
		{`{"hour_of_day": 1.5}`, "integer code"},
		{`{"account_age_days": -2}`, "or -1"},
		{`{"amount": 1e400}`, "not a number"},
		{`{"amount": 1e16}`, "within ±1e15"},
		{`{"amount": {}}`, "want a number"},
		{`{"amount": 1} {}`, "trailing data"},
		{`{"amount": 1`, "features JSON"},
	} {
		if _, err := DecodeFeaturesJSON([]byte(tt.json)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("DecodeFeaturesJSON(%s) = %v, want %q", tt.json, err, tt.want)
		}
	}
}

func FuzzDecodeFeaturesJSON(f *testing.F) {
	f.Add([]byte(`{"amount": 12.5, "stage": "payment", "device_new": true}`))
	f.Add([]byte(`{"category_code": "digital", "hours_since_sensitive_change": -1}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := DecodeFeaturesJSON(b)
		if err != nil {
			return
		}
		for i, x := range got {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				t.Fatalf("feature %s decoded to %v", abi.Feature(i), x)
			}
		}
		// What decodes re-encodes to itself.
		again, err := DecodeFeaturesJSON(EncodeFeaturesJSON(&got))
		if err != nil || again != got {
			t.Fatalf("round trip: %v\n%v\n%v", err, got, again)
		}
	})
}

func TestConfigValidate(t *testing.T) {
	cfg := Config{}.WithDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	if cfg.PoolSize < 2 || cfg.TimeBudget != DefaultTimeBudget || cfg.Fuel != DefaultFuel {
		t.Fatalf("defaults %+v", cfg)
	}
	bad := Config{PoolSize: -1, TimeBudget: time.Hour, Fuel: 10, MemoryLimit: 100, InitTimeout: -1,
		WatchdogInterval: time.Nanosecond, QuarantineAfter: -1, QuarantineBase: time.Hour, QuarantineMax: time.Second,
		Grants: map[string][]Capability{"Bad Name": {"disk"}}, FailureModes: map[string]FailureMode{"x": "maybe"}}
	bad = bad.WithDefaults()
	err := bad.Validate()
	for _, want := range []string{"pool_size", "time_budget", "fuel", "memory_limit", "init_timeout", "watchdog_interval",
		"quarantine_after", "quarantine_base", "not a plugin name", "unknown capability", "failure_modes"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %s", err, want)
		}
	}
}
