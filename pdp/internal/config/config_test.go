package config

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultIsValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9191" || c.Policies.Fallback != "step_up" || c.Limits.MaxBodyBytes != 65536 ||
		c.Policies.VerifySampleRate != 0.001 || c.Policies.VerifyQueue != 256 {
		t.Fatalf("defaults changed: %+v", c)
	}
}

func TestLoadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pdp.yaml")
	os.WriteFile(path, []byte(`
addr: unix:/run/pdp/decide.sock
policies:
  dir: /etc/pdp/policies
  fallback: deny
  eval_timeout: 20ms
  watch: false
  verify_sample_rate: 0
limits:
  max_body_bytes: 32768
state:
  decision_trail: {max_records: 0, retention: 168h}
messages:
  deny: "Blocked."
  warnings:
    anti_fraud: "Scam warning."
`), 0o644)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Addr != "unix:/run/pdp/decide.sock" || c.Policies.Fallback != "deny" || c.Policies.EvalTimeout.D() != 20*time.Millisecond ||
		c.Policies.WatchEnabled() || c.Policies.VerifySampleRate != 0 || c.Policies.VerifyQueue != 256 || c.Limits.MaxBodyBytes != 32768 || c.Limits.MaxDepth != 16 || c.Messages.Deny != "Blocked." ||
		c.Messages.StepUp == "" || c.Server.ReadTimeout.D() != 5*time.Second ||
		c.State.DecisionTrail != (DecisionTrail{MaxRecords: 0, Retention: Duration(168 * time.Hour)}) {
		t.Fatalf("%+v", c)
	}
}

func TestLoadRejects(t *testing.T) {
	for name, yaml := range map[string]string{
		"typo":          "adr: 127.0.0.1:1\n",
		"nested typo":   "policies:\n  fallbak: deny\n",
		"wrong type":    "limits:\n  max_body_bytes: lots\n",
		"bad duration":  "policies:\n  eval_timeout: 5\n",
		"not yaml":      "{{{",
		"duration text": "server:\n  read_timeout: soon\n",
	} {
		if _, err := decodeString(yaml); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := Load("/no/such/file.yaml"); err == nil {
		t.Error("missing file accepted")
	}
}

func decodeString(s string) (Config, error) {
	c := Default()
	return c, Decode([]byte(s), &c)
}

func TestValidate(t *testing.T) {
	for field, mutate := range map[string]func(*Config){
		"addr":                                   func(c *Config) { c.Addr = "localhost" },
		"policies.fallback":                      func(c *Config) { c.Policies.Fallback = "allow" },
		"policies.eval_timeout":                  func(c *Config) { c.Policies.EvalTimeout = 0 },
		"policies.verify_sample_rate (negative)": func(c *Config) { c.Policies.VerifySampleRate = -0.1 },
		"policies.verify_sample_rate (above 1)":  func(c *Config) { c.Policies.VerifySampleRate = 1.5 },
		"policies.verify_sample_rate (NaN)":      func(c *Config) { c.Policies.VerifySampleRate = math.NaN() },
		"policies.verify_queue":                  func(c *Config) { c.Policies.VerifyQueue = 0 },
		"limits.max_body_bytes":                  func(c *Config) { c.Limits.MaxBodyBytes = 10 },
		"limits.max_depth":                       func(c *Config) { c.Limits.MaxDepth = 1000 },
		"limits.max_amount":                      func(c *Config) { c.Limits.MaxAmount = -1 },
		"log.level":                              func(c *Config) { c.Log.Level = "loud" },
		"policies.package":                       func(c *Config) { c.Policies.Package = "/" },
		"decision_log.overflow":                  func(c *Config) { c.DecisionLog.Overflow = "ignore" },
		"decision_log.sync": func(c *Config) {
			c.DecisionLog.Sync, c.DecisionLog.Upload.URL = true, "https://logs.example/v1"
		},
		"decision_log.upload.url":     func(c *Config) { c.DecisionLog.Upload.URL = "ftp://x/y" },
		"decision_log.block_timeout":  func(c *Config) { c.DecisionLog.BlockTimeout = Duration(2 * time.Second) },
		"shadow.sample_rate":          func(c *Config) { r := 1.5; c.Shadow.SampleRate = &r },
		"shadow.queue_size":           func(c *Config) { c.Shadow.QueueSize = -1 },
		"shadow.policies":             func(c *Config) { c.Policies.Dir, c.Shadow.Policies = "p", "p" },
		"decision_log (max_size_mib)": func(c *Config) { c.DecisionLog.SpillMaxBytes = -5 },
		"state.decision_trail":        func(c *Config) { c.State.DecisionTrail.MaxRecords = -1 },
		"admin.answer_time":           func(c *Config) { c.Admin.AnswerTime = 0 },
		"audit.retention":             func(c *Config) { c.Audit.Retention = Duration(30 * 24 * time.Hour) },
		"audit.retention (negative)":  func(c *Config) { c.Audit.Retention = -1 },
		"tracing.endpoint":            func(c *Config) { c.Tracing.Endpoint = "collector:4318" },
		"tracing.protocol":            func(c *Config) { c.Tracing.Protocol = "http/json" },
		"tracing.sample_ratio":        func(c *Config) { c.Tracing.SampleRatio = 0 },
		"tracing.sample_ratio (NaN)":  func(c *Config) { c.Tracing.SampleRatio = math.NaN() },
	} {
		field, _, _ = strings.Cut(field, " (")
		c := Default()
		mutate(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: %v", field, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte("addr: 127.0.0.1:9191\npolicies:\n  eval_timeout: 10ms\n"))
	f.Add([]byte("limits: {max_depth: 8}"))
	f.Add([]byte("tracing: {endpoint: 'http://otel:4317', protocol: grpc, sample_ratio: 0.1}"))
	f.Add([]byte("decision_log: {path: /tmp/d.jsonl, overflow: spill, sync: true, upload: {url: 'http://x/logs'}}\nshadow: {policies: cand, sample_rate: 0.5}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c := Default()
		if Decode(b, &c) == nil {
			_ = c.Validate()
		}
	})
}

// The file's decision-trail bounds (0: no bound) reach pdp/internal/state in its
// terms (0: its default, negative: no bound): the defaults pass through,
// a 0 becomes "no bound", never state's default.
func TestDecisionTrailBounds(t *testing.T) {
	if n, d := Default().State.DecisionTrail.Bounds(); n != 250_000 || d != 720*time.Hour {
		t.Fatalf("defaults: %d %v", n, d)
	}
	if n, d := (DecisionTrail{}).Bounds(); n != -1 || d != -1 {
		t.Fatalf("0 (no bound): %d %v", n, d)
	}
	if n, d := (DecisionTrail{MaxRecords: 5, Retention: Duration(time.Hour)}).Bounds(); n != 5 || d != time.Hour {
		t.Fatalf("set: %d %v", n, d)
	}
}
