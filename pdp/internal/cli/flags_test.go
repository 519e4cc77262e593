package cli

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/riskpdp/riskpdp/pdp/internal/config"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
	"github.com/riskpdp/riskpdp/pdp/internal/velocity"
)

// Configuration precedence: defaults < file < PDP_* environment < flags;
// PDP_CONFIG names the file when --config does not.
func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pdp.yaml")
	writeFile(t, file, "addr: 127.0.0.1:1001\nlog:\n  level: warn\n  format: text\nstate:\n  path: /from/file.db\n")
	load := func(args ...string) (addr, level, format, state string) {
		t.Helper()
		fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
		fs.String("config", "", "")
		registerSettings(fs)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		cfg, err := loadConfig(fs)
		if err != nil {
			t.Fatal(err)
		}
		return cfg.Addr, cfg.Log.Level, cfg.Log.Format, cfg.State.Path
	}
	if addr, level, _, _ := load(); addr != "127.0.0.1:9191" || level != "info" {
		t.Fatalf("defaults: %s %s", addr, level)
	}
	t.Setenv("PDP_CONFIG", file)
	if addr, level, format, state := load(); addr != "127.0.0.1:1001" || level != "warn" || format != "text" || state != "/from/file.db" {
		t.Fatalf("file via PDP_CONFIG: %s %s %s %s", addr, level, format, state)
	}
	t.Setenv("PDP_ADDR", "127.0.0.1:1002")
	t.Setenv("PDP_LOG_LEVEL", "debug")
	if addr, level, format, _ := load(); addr != "127.0.0.1:1002" || level != "debug" || format != "text" {
		t.Fatalf("environment over file: %s %s %s", addr, level, format)
	}
	if addr, level, _, state := load("--addr", "127.0.0.1:1003", "--state", "/from/flag.db"); addr != "127.0.0.1:1003" || level != "debug" || state != "/from/flag.db" {
		t.Fatalf("flags over environment: %s %s %s", addr, level, state)
	}
	t.Setenv("PDP_LOG_LEVEL", "loud")
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	fs.String("config", "", "")
	registerSettings(fs)
	if _, err := loadConfig(fs); err == nil || !strings.Contains(err.Error(), "log.level") {
		t.Fatalf("bad environment value: %v", err)
	}
}

// A flag's default is the configuration default (config.Default(), which
// the YAML layer starts from), not a second copy: every flag's registered
// default reads back the key's default value, and no usage writes a value
// of its own.
func TestFlagDefaultsAreTheConfigDefaults(t *testing.T) {
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	registerSettings(fs)
	def := config.Default()
	for _, s := range settings {
		f := fs.Lookup(s.flag)
		if f == nil {
			t.Fatalf("--%s not registered", s.flag)
		}
		if want := s.get(&def); f.DefValue != want {
			t.Errorf("--%s default %q, config.Default() has %q", s.flag, f.DefValue, want)
		}
		// A default in words is for what has no value ("none", "./policies
		// if present"): a usage giving the value config.Default() holds as
		// its default is a second copy of it.
		if v := s.get(&def); v != "" && strings.Contains(f.Usage, "(default "+v) {
			t.Errorf("--%s usage repeats its default %q: %s", s.flag, v, f.Usage)
		}
		// The flag round-trips: applying its default changes nothing.
		c := config.Default()
		if err := s.apply(&c, f.DefValue); err != nil {
			t.Errorf("--%s: applying its default: %v", s.flag, err)
		} else if got := s.get(&c); got != s.get(&def) {
			t.Errorf("--%s: applying its default gives %q", s.flag, got)
		}
	}
}

// Where config.Default() writes a value a component package also defaults
// (the risk state, the velocity windows), the two agree; the other
// sections leave a zero that the component's own default fills, as their
// field comments say.
func TestConfigDefaultsAreTheComponentsDefaults(t *testing.T) {
	def := config.Default()
	sc := def.State
	maxRecords, retention := sc.DecisionTrail.Bounds()
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"state.cache_max_cost", sc.CacheMaxCost, int64(state.DefaultCacheMaxCost)},
		{"state.cache_ttl", sc.CacheTTL.D(), state.DefaultCacheTTL},
		{"state.negative_ttl", sc.NegativeTTL.D(), state.DefaultNegativeTTL},
		{"state.flush_interval", sc.FlushInterval.D(), state.DefaultFlushInterval},
		{"state.decision_trail.max_records", maxRecords, state.DefaultDecisionTrailMax},
		{"state.decision_trail.retention", retention, state.DefaultDecisionTrailRetention},
		{"audit.retention", def.Audit.RetentionBound(), state.DefaultAuditRetention},
		{"velocity.max_keys", def.Velocity.MaxKeys, velocity.DefaultMaxKeys},
		{"plugins.time_budget (plugin's default)", def.Plugins.TimeBudget.D(), time.Duration(0)},
		{"plugins.memory_limit (plugin's default)", def.Plugins.MemoryLimit, int64(0)},
		{"decision_log.buffer_size (decisionlog's default)", def.DecisionLog.BufferSize, 0},
		{"redis.read_budget (fleet's default)", def.Redis.ReadBudget.D(), time.Duration(0)},
	} {
		if c.got != c.want {
			t.Errorf("%s: config.Default() has %v, the component %v", c.name, c.got, c.want)
		}
	}
}

// --check-config validates the configuration serve would run with, and
// serves nothing: a valid file exits 0 (its listener never bound), a
// file with an unknown key or an invalid value exits 1, naming it.
func TestServeCheckConfig(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	for _, tc := range []struct {
		name, yaml string
		args       []string
		code       int
		want       string
	}{
		{"valid", "addr: " + addr + "\nstate:\n  path: " + filepath.Join(dir, "never", "state.db") + "\n", nil, 0, "configuration valid"},
		{"unknown key", "adr: 127.0.0.1:1\n", nil, 1, "adr"},
		{"invalid value", "policies:\n  fallback: maybe\n", nil, 1, "fallback"},
		{"invalid flag", "", []string{"--addr", "nonsense"}, 1, "addr"},
	} {
		path := filepath.Join(dir, tc.name+".yaml")
		if err := os.WriteFile(path, []byte(tc.yaml), 0o644); err != nil {
			t.Fatal(err)
		}
		var stdout, stderr bytes.Buffer
		code := Run(context.Background(), append([]string{"serve", "--check-config", "--config", path}, tc.args...), &stdout, &stderr)
		if code != tc.code || !strings.Contains(stderr.String(), tc.want) || stdout.Len() != 0 {
			t.Errorf("%s: exit %d, stderr %q, stdout %q (want %d, %q)", tc.name, code, stderr.String(), stdout.String(), tc.code, tc.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "never")); !os.IsNotExist(err) {
		t.Errorf("--check-config created the state directory: %v", err)
	}
	if ln, err := net.Listen("tcp", addr); err != nil {
		t.Errorf("--check-config left %s bound: %v", addr, err)
	} else {
		ln.Close()
	}
}
