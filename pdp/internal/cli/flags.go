package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/riskpdp/riskpdp/pdp/internal/config"
)

// setting is a flag that overrides one configuration key. Every flag can
// also be set by an environment variable: PDP_ and the flag name in upper
// case with dashes as underscores (--admin-addr → PDP_ADMIN_ADDR).
// Precedence: defaults < config file < environment < flags.
//
// A flag's default is not written here: it is the key's value in
// config.Default() (get reads it), which the YAML layer starts from too,
// and `pdp serve --help` prints it. A usage says in words only what a
// value cannot ("./policies if present").
type setting struct {
	flag  string
	usage string
	apply func(c *config.Config, v string) error
	get   func(c *config.Config) string
}

// str is a setting of a string key.
func str(flag, usage string, dst func(c *config.Config) *string) setting {
	return setting{flag: flag, usage: usage,
		apply: func(c *config.Config, v string) error { *dst(c) = v; return nil },
		get:   func(c *config.Config) string { return *dst(c) }}
}

// settings are the serve flags, in the order `pdp serve --help` lists them.
var settings = []setting{
	str("addr", "decision listener, HOST:PORT or unix:/path",
		func(c *config.Config) *string { return &c.Addr }),
	str("health-addr", "extra listener serving only /health/live, /health/ready and /metrics, HOST:PORT or unix:/path (default none)",
		func(c *config.Config) *string { return &c.HealthAddr }),
	str("policies", "policy directory (default ./policies if present, else the embedded reference policies)",
		func(c *config.Config) *string { return &c.Policies.Dir }),
	str("state", "risk state file ($XDG_STATE_HOME/riskpdp/state.db, ~/.local/state/riskpdp/state.db without it)",
		func(c *config.Config) *string { return &c.State.Path }),
	{flag: "audit-retention", usage: "how long the audit journal keeps the records it chains (freezes, releases, limits, lists, appeals, approvals); at least 8760h, 0 for good",
		apply: func(c *config.Config, v string) error { return c.Audit.Retention.Set(v) },
		get:   func(c *config.Config) string { return c.Audit.Retention.String() }},
	str("admin-addr", "operator API listener, HOST:PORT or unix:/path",
		func(c *config.Config) *string { return &c.Admin.Addr }),
	str("admin-token-file", "operator API bearer tokens, one per line \"<token> [read|write] [name]\" (the API is off without it)",
		func(c *config.Config) *string { return &c.Admin.TokenFile }),
	{flag: "admin-answer-time", usage: "how long open operator work (cases, review freezes, approvals, appeals) may wait: the queue's due times",
		apply: func(c *config.Config, v string) error { return c.Admin.AnswerTime.Set(v) },
		get:   func(c *config.Config) string { return c.Admin.AnswerTime.D().String() }},
	str("plugins", "WASM scoring plugin directory (default none)",
		func(c *config.Config) *string { return &c.Plugins.Dir }),
	str("decision-log", "decision log file, JSON lines, rotated (default none: no decision log)",
		func(c *config.Config) *string { return &c.DecisionLog.Path }),
	str("shadow-policies", "candidate policy directory evaluated in shadow on live traffic (default none)",
		func(c *config.Config) *string { return &c.Shadow.Policies }),
	{flag: "redis-addr", usage: "Redis HOST:PORT for the risk state shared by a fleet (default none: the state file); comma-separated seed nodes with redis.cluster",
		apply: func(c *config.Config, v string) error { c.Redis.Addrs = strings.Split(v, ","); return nil },
		get:   func(c *config.Config) string { return strings.Join(c.Redis.Addrs, ",") }},
	str("bundle-url", "OPA-compatible bundle service URL to load policies, data and plugins from (default none)",
		func(c *config.Config) *string { return &c.Bundle.URL }),
	str("bundle-key", "PEM public key (or HS* secret) verifying the bundle's signature",
		func(c *config.Config) *string { return &c.Bundle.KeyFile }),
	str("log-level", "log level: debug, info, warn, error",
		func(c *config.Config) *string { return &c.Log.Level }),
	str("log-format", "log format: json or text",
		func(c *config.Config) *string { return &c.Log.Format }),
}

// envName is the environment variable for a flag.
func envName(flag string) string {
	return "PDP_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// registerSettings adds one string flag per setting, its default the
// key's value in config.Default().
func registerSettings(fs *pflag.FlagSet) {
	def := config.Default()
	for _, s := range settings {
		fs.String(s.flag, s.get(&def), s.usage+" [env "+envName(s.flag)+"]")
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
