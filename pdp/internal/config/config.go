// Package config defines the sidecar's configuration: one struct whose field
// comments state each default, loaded from a YAML file, overridden by
// environment variables and flags (in that order), and validated before
// anything is built.
//
// Unknown keys in the file are an error, so a typo fails loudly instead of
// silently leaving a default in place.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/riskpdp/riskpdp/pdp"
	"github.com/riskpdp/riskpdp/pdp/internal/policy"
	"github.com/riskpdp/riskpdp/pdp/internal/request"
	"github.com/riskpdp/riskpdp/pdp/internal/state"
	"github.com/riskpdp/riskpdp/pdp/internal/velocity"
)

// Config is the whole configuration of `pdp serve`.
type Config struct {
	// Addr is the decision listener (HTTP/1.1). Default 127.0.0.1:9191:
	// loopback only, since the caller is the payment service in the same pod.
	Addr string `yaml:"addr"`
	// HealthAddr is an extra listener, HOST:PORT or unix:/path, serving
	// only /health/live, /health/ready and /metrics (no decision API, no
	// Host check): for the kubelet's probes and Prometheus, which reach the
	// pod IP, while Addr stays on the loopback. Default "": none (they are
	// served on Addr only).
	HealthAddr string `yaml:"health_addr"`

	Server   Server   `yaml:"server"`
	Policies Policies `yaml:"policies"`
	Limits   Limits   `yaml:"limits"`
	State    State    `yaml:"state"`
	Audit    Audit    `yaml:"audit"`
	Admin    Admin    `yaml:"admin"`
	StepUp   StepUp   `yaml:"step_up"`
	Velocity Velocity `yaml:"velocity"`
	Plugins  Plugins  `yaml:"plugins"`
	Log      Log      `yaml:"log"`
	Messages Messages `yaml:"messages"`

	DecisionLog DecisionLog `yaml:"decision_log"`
	Shadow      Shadow      `yaml:"shadow"`
	Redis       Redis       `yaml:"redis"`
	Bundle      Bundle      `yaml:"bundle"`
	DataAPI     DataAPI     `yaml:"data_api"`
	Tracing     Tracing     `yaml:"tracing"`
	Explain     Explain     `yaml:"explain"`
}

// State configures the durable risk state (pdp/internal/state): lists, freezes,
// limits, verifications, account events, the audit journal.
type State struct {
	// Enabled keeps risk state. Default true.
	Enabled *bool `yaml:"enabled"`
	// Path is the state file (bbolt). Default $XDG_STATE_HOME/riskpdp/state.db
	// (~/.local/state/riskpdp/state.db).
	Path string `yaml:"path"`
	// CacheMaxCost bounds the in-memory cache in front of the file, in
	// bytes. Default 67108864 (64 MiB).
	CacheMaxCost int64 `yaml:"cache_max_cost"`
	// CacheTTL bounds how long an entry is served from the cache without
	// being read again. Writes through the sidecar invalidate at once; the
	// TTL bounds staleness after changes made elsewhere. Default 1m.
	CacheTTL Duration `yaml:"cache_ttl"`
	// NegativeTTL bounds how long "nothing known" is cached. Default 10s.
	NegativeTTL Duration `yaml:"negative_ttl"`
	// FlushInterval is how often what decisions change (freezes from
	// obligations, new devices) is committed to the file; a crash loses at
	// most this much of it. Default 10ms.
	FlushInterval Duration `yaml:"flush_interval"`
	// DecisionTrail bounds the decision records the audit journal keeps
	// for case trails (operator actions are kept for good).
	DecisionTrail DecisionTrail `yaml:"decision_trail"`
}

// Audit configures how long the audit journal keeps its records.
type Audit struct {
	// Retention is how long the journal keeps the records it chains
	// (every record but the case-trail decision records: freezes,
	// releases, limits, list changes, appeals, approvals, operator
	// actions): none is pruned younger, older ones are pruned oldest
	// first, and the hash chain is verified from the checkpoint the prune
	// leaves (`pdp audit verify`). Default 43800h (five years); at least
	// 8760h; 0 keeps them for good. Export them (`pdp audit export`) for
	// longer.
	Retention Duration `yaml:"retention"`
}

// RetentionBound is Retention in the terms of state.Config, where 0 means
// the package's default and a negative value "for good".
func (a Audit) RetentionBound() time.Duration {
	if a.Retention == 0 {
		return -1
	}
	return a.Retention.D()
}

// DecisionTrail bounds the journal's decision records: the sweeper prunes
// those further back than MaxRecords journal records or older than
// Retention. The decision log is their full record.
type DecisionTrail struct {
	// MaxRecords: decision records are kept only among the journal's
	// newest MaxRecords records. Default 250000; 0 sets no count bound.
	MaxRecords int `yaml:"max_records"`
	// Retention: decision records older than this are pruned. Default
	// 720h (30 days); 0 sets no age bound.
	Retention Duration `yaml:"retention"`
}

// Bounds returns the trail's bounds in the terms of the component
// packages' configurations (state.Config), where a zero field means "the
// package's default" and a negative one "no bound": here, in the file, 0
// means no bound (the defaults are Default()'s), so a 0 becomes -1. This is
// the one place the two meanings of zero meet.
func (t DecisionTrail) Bounds() (maxRecords int, retention time.Duration) {
	maxRecords, retention = t.MaxRecords, t.Retention.D()
	if maxRecords == 0 {
		maxRecords = -1
	}
	if retention == 0 {
		retention = -1
	}
	return maxRecords, retention
}

// On reports whether risk state is kept.
func (s State) On() bool { return s.Enabled == nil || *s.Enabled }

// Admin configures the operator API.
type Admin struct {
	// Addr is its listener, HOST:PORT or unix:/path. Default
	// 127.0.0.1:9192.
	Addr string `yaml:"addr"`
	// TokenFile holds the bearer tokens, one per line: "<token> [read|write]
	// [name]". The operator API is served only when it is set. Default "".
	TokenFile string `yaml:"token_file"`
	// AnswerTime is how long open work (a case, a review freeze, a release
	// waiting for a second operator, a user's appeal) may wait for an
	// operator: the queue's due times, and the answer time an appeal's
	// user is told. Default 48h (the procedures answer appeals within 48
	// hours).
	AnswerTime Duration `yaml:"answer_time"`
}

// StepUp configures the step-up loop.
type StepUp struct {
	// ChallengeTTL is how long a step-up challenge can be answered.
	// Default 10m.
	ChallengeTTL Duration `yaml:"challenge_ttl"`
	// VerificationTTL is how long a reported verification result counts
	// when the operation is decided again. Default 30m.
	VerificationTTL Duration `yaml:"verification_ttl"`
}

// Velocity configures the in-process velocity windows (pdp/internal/velocity).
type Velocity struct {
	// Enabled counts traffic per UID, device and IP. Default true.
	Enabled *bool `yaml:"enabled"`
	// MaxKeys bounds the tracked UIDs, devices and IPs together (about
	// 150 bytes each, ~900 once busy); the coldest are evicted. Default
	// 1000000.
	MaxKeys int `yaml:"max_keys"`
}

// Plugins configures the WASM scoring plugins (pdp/internal/plugin).
type Plugins struct {
	// Dir holds NAME.wasm modules next to their NAME.yaml manifests,
	// watched for changes. Default "" (no plugins).
	Dir string `yaml:"dir"`
	// CacheDir keeps compiled machine code across restarts. Default the
	// user cache directory; "off" disables it.
	CacheDir string `yaml:"cache_dir"`
	// PoolSize is the instances per plugin. Default GOMAXPROCS+1.
	PoolSize int `yaml:"pool_size"`
	// TimeBudget is the default and ceiling of a call. Default 2ms.
	TimeBudget Duration `yaml:"time_budget"`
	// MemoryLimit is the default and ceiling of a plugin's memory, in
	// bytes. Default 33554432 (32 MiB).
	MemoryLimit int64 `yaml:"memory_limit"`
	// Grants are the capabilities (clock, random, stderr) each plugin may
	// use, by name ("*": all). Default none.
	Grants map[string][]string `yaml:"grants"`
	// FailureModes overrides a manifest's failure mode (open, closed).
	FailureModes map[string]string `yaml:"failure_modes"`
}

// On reports whether velocity counting is on.
func (v Velocity) On() bool { return v.Enabled == nil || *v.Enabled }

// Server tunes the HTTP listener.
type Server struct {
	// ReadTimeout bounds reading one request, headers and body, so slow
	// clients cannot hold a worker. Default 5s.
	ReadTimeout Duration `yaml:"read_timeout"`
	// WriteTimeout bounds writing one response. Default 5s.
	WriteTimeout Duration `yaml:"write_timeout"`
	// IdleTimeout closes keep-alive connections idle this long. Default 120s.
	IdleTimeout Duration `yaml:"idle_timeout"`
	// MaxConns caps concurrent connections. Default 4096.
	MaxConns int `yaml:"max_conns"`
	// ShutdownTimeout bounds draining in-flight requests on SIGTERM.
	// Default 10s.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	// AllowedHosts are the host names (or IP addresses) the decision
	// listener answers to besides the loopback ones (localhost,
	// 127.0.0.0/8, [::1]), which are always allowed: a request whose Host
	// header names anything else gets 421 (DNS rebinding: a web page on a
	// name that resolves to 127.0.0.1 sends its own name). Names without a
	// port, matched case-insensitively, a trailing dot ignored. Not checked
	// on a Unix socket (no browser reaches one) nor on HealthAddr. Default
	// none.
	AllowedHosts []string `yaml:"allowed_hosts"`
}

// Policies says where the Rego policies come from and how they are run.
type Policies struct {
	// Dir is the directory of .rego and data (.json/.yaml) files, loaded
	// recursively and watched for changes. Default "": ./policies when it
	// exists, else the reference policies embedded in the binary. A
	// directory named explicitly must exist.
	Dir string `yaml:"dir"`
	// Package is the decision package whose rules the sidecar reads
	// (deny, step_up, obligations, ...). Default "riskpdp" (data.riskpdp).
	Package string `yaml:"package"`
	// Optimize serves the policy specialized against its data by OPA's
	// partial evaluation (checked against the policy as written on every
	// load). Default true.
	Optimize *bool `yaml:"optimize"`
	// Watch reloads the directory when its files change. Default true.
	// SIGHUP always reloads.
	Watch *bool `yaml:"watch"`
	// Fallback is the outcome returned when evaluation fails, times out or
	// yields no decision: "step_up" (default) or "deny"; never "allow".
	Fallback string `yaml:"fallback"`
	// EvalTimeout cancels a policy evaluation that runs this long and
	// returns the fallback. Default 50ms.
	EvalTimeout Duration `yaml:"eval_timeout"`
	// VerifySampleRate is the share of the decisions answered by the fast
	// path or the specialized rules that OPA's evaluator on the policy as
	// written evaluates again, off the caller's path (one background
	// goroutine). A different answer is counted, logged and makes the
	// revision served by OPA's evaluator until a new one is loaded. 0
	// turns it off. Default 0.001. Cost: a random draw per decision, a
	// few microseconds on a sampled one, and a policy evaluation by OPA's
	// evaluator in the background per sample.
	VerifySampleRate float64 `yaml:"verify_sample_rate"`
	// VerifyQueue bounds the sampled decisions waiting for verification;
	// a sample that finds it full is dropped (counted). Default 256.
	VerifyQueue int `yaml:"verify_queue"`
}

// Limits bounds what a request may contain.
type Limits struct {
	// MaxBodyBytes is the largest request body accepted; larger bodies get
	// 413. Default 65536 (64 KiB).
	MaxBodyBytes int `yaml:"max_body_bytes"`
	// MaxDepth is the deepest JSON nesting accepted. Default 16.
	MaxDepth int `yaml:"max_depth"`
	// MaxAmount is the largest txn.amount accepted (in the currency's
	// major unit). Default 1e12.
	MaxAmount float64 `yaml:"max_amount"`
}

// Log configures the sidecar's own log (not the decision log).
type Log struct {
	// Level is debug, info (default), warn or error.
	Level string `yaml:"level"`
	// Format is json (default) or text.
	Format string `yaml:"format"`
}

// Messages are the user-facing texts returned with each outcome. They are
// deliberately generic: they never say which rule fired. A policy that
// defines `messages` (templates per situation and locale, in its data, so
// that risk teams edit them) takes precedence; these are the texts used
// without one, or for a situation it leaves out.
type Messages struct {
	// Locale is the locale of a request that sends none ("zh", "en",
	// "zh-CN": the policy's templates of the longest matching prefix).
	// Default "en".
	Locale string `yaml:"locale"`
	// Allow default "".
	Allow string `yaml:"allow"`
	// StepUp default "Please verify your identity to continue."
	StepUp string `yaml:"step_up"`
	// Deny default "The system found a risk in this operation and has
	// stopped it."
	Deny string `yaml:"deny"`
	// Warnings maps a warning code the policy may return to its text.
	// Default: anti_fraud → a scam warning.
	Warnings map[string]string `yaml:"warnings"`
}

// Defaults of the step-up flow (decide.Options falls back to them too) and
// of the operators' answer time (admin.Options's too).
const (
	DefaultChallengeTTL    = 10 * time.Minute
	DefaultAnswerTime      = 48 * time.Hour
	DefaultVerificationTTL = 30 * time.Minute
)

// Default returns the configuration used when nothing is set. Each value
// a component package also falls back to is that package's own constant
// (state.DefaultCacheTTL, policy.DefaultVerifyQueue, ...): every default
// is written once.
func Default() Config {
	watch := true
	return Config{
		Addr: "127.0.0.1:9191",
		Server: Server{
			ReadTimeout:     Duration(5 * time.Second),
			WriteTimeout:    Duration(5 * time.Second),
			IdleTimeout:     Duration(120 * time.Second),
			MaxConns:        4096,
			ShutdownTimeout: Duration(10 * time.Second),
		},
		Policies: Policies{
			Package:     "riskpdp",
			Watch:       &watch,
			Fallback:    "step_up",
			EvalTimeout: Duration(50 * time.Millisecond),

			VerifySampleRate: policy.DefaultVerifySampleRate,
			VerifyQueue:      policy.DefaultVerifyQueue,
		},
		Limits: Limits{MaxBodyBytes: 64 << 10, MaxDepth: request.DefaultLimits.MaxDepth,
			MaxAmount: request.DefaultLimits.MaxAmount},
		State: State{Path: DefaultStatePath(), CacheMaxCost: state.DefaultCacheMaxCost,
			CacheTTL: Duration(state.DefaultCacheTTL), NegativeTTL: Duration(state.DefaultNegativeTTL),
			FlushInterval: Duration(state.DefaultFlushInterval),
			DecisionTrail: DecisionTrail{MaxRecords: state.DefaultDecisionTrailMax,
				Retention: Duration(state.DefaultDecisionTrailRetention)}},
		Audit:    Audit{Retention: Duration(state.DefaultAuditRetention)},
		Admin:    Admin{Addr: "127.0.0.1:9192", AnswerTime: Duration(DefaultAnswerTime)},
		StepUp:   StepUp{ChallengeTTL: Duration(DefaultChallengeTTL), VerificationTTL: Duration(DefaultVerificationTTL)},
		Velocity: Velocity{MaxKeys: velocity.DefaultMaxKeys},
		Tracing:  Tracing{Protocol: "http/protobuf", SampleRatio: 1},
		Log:      Log{Level: "info", Format: "json"},
		Messages: Messages{
			Locale: "en",
			StepUp: "Please verify your identity to continue.",
			Deny:   "The system found a risk in this operation and has stopped it.",
			Warnings: map[string]string{
				"anti_fraud": "Beware of fraud: genuine customer service never asks you to transfer money, " +
					"refund through a link or share verification codes. Stop and contact us through the official app.",
			},
		},
	}
}

// DefaultStatePath is $XDG_STATE_HOME/riskpdp/state.db, or under
// ~/.local/state when XDG_STATE_HOME is unset, or ./pdp-state.db without a
// home directory.
func DefaultStatePath() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "riskpdp", "state.db")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "riskpdp", "state.db")
	}
	return "pdp-state.db"
}

// DefaultPolicyDir is the policy directory used when none is configured.
const DefaultPolicyDir = "policies"

// Load reads the YAML file at path over the defaults. An empty path returns
// the defaults.
func Load(path string) (Config, error) {
	cfg := Default()
	if path == "" {
		return cfg, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("read config: %w", err)
	}
	if err := Decode(b, &cfg); err != nil {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// Decode decodes YAML (or JSON) into cfg strictly: unknown keys are errors.
func Decode(b []byte, cfg *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// Validate checks every field and returns all problems at once.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if err := checkAddr(c.Addr); err != nil {
		bad("addr", "%v", err)
	}
	if c.HealthAddr != "" {
		if err := checkAddr(c.HealthAddr); err != nil {
			bad("health_addr", "%v", err)
		} else if c.HealthAddr == c.Addr {
			bad("health_addr", "must differ from addr (leave it empty to serve health and metrics on addr)")
		}
	}
	for i, h := range c.Server.AllowedHosts {
		if _, _, err := ParseAllowedHost(h); err != nil {
			bad(fmt.Sprintf("server.allowed_hosts[%d]", i), "%v", err)
		}
	}
	for name, d := range map[string]Duration{
		"server.read_timeout": c.Server.ReadTimeout, "server.write_timeout": c.Server.WriteTimeout,
		"server.idle_timeout": c.Server.IdleTimeout, "server.shutdown_timeout": c.Server.ShutdownTimeout,
		"policies.eval_timeout": c.Policies.EvalTimeout,
		"step_up.challenge_ttl": c.StepUp.ChallengeTTL, "step_up.verification_ttl": c.StepUp.VerificationTTL,
		"admin.answer_time": c.Admin.AnswerTime,
	} {
		if d <= 0 {
			bad(name, "must be positive, got %s", d)
		}
	}
	if c.Server.MaxConns <= 0 {
		bad("server.max_conns", "must be positive")
	}
	if strings.Trim(c.Policies.Package, "/") == "" || strings.Contains(c.Policies.Package, "//") {
		bad("policies.package", "must name a package, e.g. riskpdp")
	}
	if o, ok := pdp.ParseOutcome(c.Policies.Fallback); !ok || o == pdp.Allow {
		bad("policies.fallback", "must be step_up or deny, got %q", c.Policies.Fallback)
	}
	if !(c.Policies.VerifySampleRate >= 0 && c.Policies.VerifySampleRate <= 1) {
		bad("policies.verify_sample_rate", "must be between 0 (off) and 1")
	}
	if c.Policies.VerifyQueue < 1 || c.Policies.VerifyQueue > 1<<20 {
		bad("policies.verify_queue", "must be between 1 and 1048576")
	}
	if c.Limits.MaxBodyBytes < 1024 || c.Limits.MaxBodyBytes > 16<<20 {
		bad("limits.max_body_bytes", "must be between 1024 and 16777216")
	}
	if c.Limits.MaxDepth < 4 || c.Limits.MaxDepth > 256 {
		bad("limits.max_depth", "must be between 4 and 256")
	}
	if !(c.Limits.MaxAmount > 0) || math.IsInf(c.Limits.MaxAmount, 0) {
		bad("limits.max_amount", "must be a positive finite number")
	}
	if c.State.On() {
		if c.State.Path == "" {
			bad("state.path", "must name the state file")
		}
		if c.State.CacheMaxCost < 1<<20 {
			bad("state.cache_max_cost", "must be at least 1 MiB")
		}
		if c.State.CacheTTL <= 0 || c.State.NegativeTTL <= 0 || c.State.FlushInterval <= 0 {
			bad("state", "cache_ttl, negative_ttl and flush_interval must be positive")
		}
		if c.State.DecisionTrail.MaxRecords < 0 || c.State.DecisionTrail.Retention < 0 {
			bad("state.decision_trail", "max_records and retention must not be negative (0: no bound)")
		}
		if r := c.Audit.Retention.D(); r < 0 || r > 0 && r < state.MinAuditRetention {
			bad("audit.retention", "must be at least %v (0: kept for good), not %v", state.MinAuditRetention, r)
		}
	}
	if c.Admin.TokenFile != "" {
		if err := checkAddr(c.Admin.Addr); err != nil {
			bad("admin.addr", "%v", err)
		}
		if !c.State.On() {
			bad("admin.token_file", "the operator API needs risk state (state.enabled)")
		}
	}
	if c.Velocity.MaxKeys < 1024 {
		bad("velocity.max_keys", "must be at least 1024")
	}
	if c.Plugins.PoolSize < 0 || c.Plugins.TimeBudget < 0 || c.Plugins.MemoryLimit < 0 {
		bad("plugins", "pool_size, time_budget and memory_limit must not be negative")
	}
	for name, mode := range c.Plugins.FailureModes {
		if mode != "open" && mode != "closed" {
			bad("plugins.failure_modes."+name, "must be open or closed")
		}
	}
	c.validateDecisionLog(bad)
	c.validateRedis(bad)
	c.validateBundle(bad)
	c.validateDataAPI(bad)
	c.validateTracing(bad)
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "must be debug, info, warn or error")
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		bad("log.format", "must be json or text")
	}
	return errors.Join(errs...)
}

// WatchEnabled reports whether policy files are watched.
func (p Policies) WatchEnabled() bool { return p.Watch == nil || *p.Watch }

// OptimizeEnabled reports whether the optimizer is on.
func (p Policies) OptimizeEnabled() bool { return p.Optimize == nil || *p.Optimize }

// checkAddr accepts host:port and unix:/path.
func checkAddr(addr string) error {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		if path == "" {
			return errors.New("unix socket path is empty")
		}
		return nil
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("want HOST:PORT or unix:/path: %w", err)
	}
	return nil
}

// ParseAllowedHost reads a server.allowed_hosts entry: an IP address
// (IPv6 with or without brackets, no zone), or a DNS name — labels of
// letters, digits, '-' and '_', 1 to 63 bytes, 253 in all — returned in
// lower case without its trailing dot. No port, scheme, path or wildcard.
func ParseAllowedHost(s string) (name string, ip netip.Addr, err error) {
	lit := s
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		lit = s[1 : len(s)-1]
	}
	if ip, err := netip.ParseAddr(lit); err == nil && ip.Zone() == "" {
		return "", ip, nil
	}
	if lit != s {
		return "", ip, fmt.Errorf("%q: not an IP address between brackets", s)
	}
	name = strings.ToLower(strings.TrimSuffix(s, "."))
	if name == "" || len(name) > 253 {
		return "", ip, fmt.Errorf("%q: want a host name of 1 to 253 bytes", s)
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 {
			return "", ip, fmt.Errorf("%q: empty or over-long label", s)
		}
		for _, c := range []byte(label) {
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return "", ip, fmt.Errorf("%q: a host name has only letters, digits, '-', '_' and dots (no port, scheme or wildcard)", s)
			}
		}
	}
	return name, ip, nil
}
