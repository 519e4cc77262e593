package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/riskpdp/riskpdp/pdp/config"
)

// setting is a flag that overrides one configuration key. Every flag can
// also be set by an environment variable: PDP_ and the flag name in upper
// case with dashes as underscores (--admin-addr → PDP_ADMIN_ADDR).
// Precedence: defaults < config file < environment < flags.
type setting struct {
	flag  string
	usage string
	apply func(c *config.Config, v string) error
}

func str(dst func(c *config.Config) *string) func(*config.Config, string) error {
	return func(c *config.Config, v string) error { *dst(c) = v; return nil }
}

// settings are the serve flags, in the order `pdp serve --help` lists them.
var settings = []setting{
	{"addr", "decision listener, HOST:PORT or unix:/path (default 127.0.0.1:9191)",
		str(func(c *config.Config) *string { return &c.Addr })},
	{"health-addr", "extra listener serving only /health/live, /health/ready and /metrics, HOST:PORT or unix:/path (default none)",
		str(func(c *config.Config) *string { return &c.HealthAddr })},
	{"policies", "policy directory (default ./policies if present, else the embedded reference policies)",
		str(func(c *config.Config) *string { return &c.Policies.Dir })},
	{"state", "risk state file (default $XDG_STATE_HOME/riskpdp/state.db)",
		str(func(c *config.Config) *string { return &c.State.Path })},
	{"admin-addr", "operator API listener, HOST:PORT or unix:/path (default 127.0.0.1:9192)",
		str(func(c *config.Config) *string { return &c.Admin.Addr })},
	{"admin-token-file", "operator API bearer tokens, one per line \"<token> [read|write] [name]\" (the API is off without it)",
		str(func(c *config.Config) *string { return &c.Admin.TokenFile })},
	{"plugins", "WASM scoring plugin directory (default none)",
		str(func(c *config.Config) *string { return &c.Plugins.Dir })},
	{"decision-log", "decision log file, JSON lines, rotated (default none: no decision log)",
		str(func(c *config.Config) *string { return &c.DecisionLog.Path })},
	{"shadow-policies", "candidate policy directory evaluated in shadow on live traffic (default none)",
		str(func(c *config.Config) *string { return &c.Shadow.Policies })},
	{"redis-addr", "Redis HOST:PORT for the risk state shared by a fleet (default none: the state file); comma-separated seed nodes with redis.cluster",
		func(c *config.Config, v string) error { c.Redis.Addrs = strings.Split(v, ","); return nil }},
	{"bundle-url", "OPA-compatible bundle service URL to load policies, data and plugins from (default none)",
		str(func(c *config.Config) *string { return &c.Bundle.URL })},
	{"bundle-key", "PEM public key (or HS* secret) verifying the bundle's signature",
		str(func(c *config.Config) *string { return &c.Bundle.KeyFile })},
	{"log-level", "log level: debug, info, warn, error (default info)",
		str(func(c *config.Config) *string { return &c.Log.Level })},
	{"log-format", "log format: json or text (default json)",
		str(func(c *config.Config) *string { return &c.Log.Format })},
}

// envName is the environment variable for a flag.
func envName(flag string) string {
	return "PDP_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// registerSettings adds one string flag per setting.
func registerSettings(fs *pflag.FlagSet) {
	for _, s := range settings {
		fs.String(s.flag, "", s.usage+" [env "+envName(s.flag)+"]")
	}
}

// loadConfig builds the configuration: defaults, then the file (--config or
// PDP_CONFIG), then environment variables, then flags; and validates it.
func loadConfig(fs *pflag.FlagSet) (config.Config, error) {
	path, _ := fs.GetString("config")
	if !fs.Changed("config") {
		path = os.Getenv(envName("config"))
	}
	cfg, err := config.Load(path)
	if err != nil {
		return cfg, err
	}
	for _, s := range settings {
		v, set := os.LookupEnv(envName(s.flag))
		if f := fs.Lookup(s.flag); f != nil && f.Changed {
			v, set = f.Value.String(), true
		}
		if !set {
			continue
		}
		if err := s.apply(&cfg, v); err != nil {
			return cfg, fmt.Errorf("--%s: %w", s.flag, err)
		}
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return cfg, nil
}
